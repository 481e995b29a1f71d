"""EnsembleBuilder: several member Models -> one size-checked ensemble SavedModel.

Inputs come as one optional channel per member slot (`model_0` ... `model_7`):
Kubeflow Pipelines v2 cannot feed a list of artifacts from different tasks
into one input, so the spec names each slot (as the Report does). The
constructor takes a dict member name -> Model channel; the names travel in the
`member_names` exec property (JSON list, slot order) and appear in the
`ensemble_report.json` written beside the SavedModel.

See `executor.py` for the size budget, `weight_search.py` for the weighting
and subset choice.
"""

from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.ensemble import executor, weight_search
from components.ensemble.serving import model_key
from yt8m import splits


class EnsembleBuilderSpec(types.ComponentSpec):
    PARAMETERS = {
        **code_version.PARAMETERS,
        'member_names': ExecutionParameter(type=str),
        'weighting': ExecutionParameter(type=str),
        'weights': ExecutionParameter(type=str, optional=True),
        'size_budget_bytes': ExecutionParameter(type=int),
        'choose_subset': ExecutionParameter(type=int),
        'max_fit_examples': ExecutionParameter(type=int),
        # The split this component chooses on (yt8m/splits.py): never test.
        'selection_split': ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        executor.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
        **{model_key(slot): ChannelParameter(type=standard_artifacts.Model, optional=True)
           for slot in range(executor.MAX_MEMBERS)},
    }
    OUTPUTS = {executor.OUTPUT_KEY: ChannelParameter(type=standard_artifacts.Model)}


class EnsembleBuilder(base_component.BaseComponent):
    SPEC_CLASS = EnsembleBuilderSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, models: Mapping[str, types.BaseChannel],
                 examples: Optional[types.BaseChannel] = None,
                 weighting: str = 'equal',
                 weights: Optional[Sequence[float]] = None,
                 size_budget_bytes: int = executor.DEFAULT_BUDGET,
                 choose_subset: bool = False,
                 max_fit_examples: int = 10000,
                 selection_split: str = splits.SELECT):
        """`models` maps a member name to its Model channel (at most 8, in order).

        `weighting`: 'equal', 'given' (then `weights`, one per member in the
        order of `models`) or 'fitted' (needs `examples`, fits on their
        `selection_split`, the select split). `size_budget_bytes`: the ensemble SavedModel must stay under
        it; over it the run fails unless `choose_subset`, which builds the best
        subset that fits instead.
        """
        names = list(models)
        if not names or len(names) > executor.MAX_MEMBERS:
            raise ValueError(f'EnsembleBuilder takes 1..{executor.MAX_MEMBERS} members, '
                             f'got {len(names)}')
        if weighting not in executor.WEIGHTINGS:
            raise ValueError(f'weighting must be one of {executor.WEIGHTINGS}, got {weighting!r}')
        if weighting == 'given':
            if weights is None or len(weights) != len(names):
                raise ValueError(f"weighting='given' needs {len(names)} weights, got {weights}")
            weight_search.normalise(weights)
        if weighting == 'fitted' and examples is None:
            raise ValueError("weighting='fitted' needs `examples`")
        channels = {model_key(slot): models[name] for slot, name in enumerate(names)}
        if examples is not None:
            channels[executor.EXAMPLES_KEY] = examples
        super().__init__(spec=EnsembleBuilderSpec(
            member_names=json.dumps(names),
            weighting=weighting,
            weights=json.dumps([float(w) for w in weights]) if weights is not None else None,
            size_budget_bytes=int(size_budget_bytes),
            choose_subset=int(bool(choose_subset)),
            max_fit_examples=int(max_fit_examples),
            selection_split=selection_split,
            model=types.Channel(type=standard_artifacts.Model),
            **channels))
