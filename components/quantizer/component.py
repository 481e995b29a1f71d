"""Quantizer: post-training weight quantization of a trained Model (the seed's method).

Every float32 weight with at least `min_elements` elements (default 17,000)
becomes uint8 indices into 256 float32 levels (`quantization='uniform'`, per tensor,
between its min and max); the serving graph gathers the levels. Small
variables stay float32. The output Model keeps the same serving signatures
(`serving_default`, `transform_features`) in `Format-Serving`, and a
`quantization_report.json` (per variable bytes and largest error; totals;
float vs quantized predictions and GAP@20 on the select split when `examples`
is given). See `quantize.py` for the other modes.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.quantizer import executor
from components.quantizer.quantize import DEFAULT_MIN_ELEMENTS, MODES
from yt8m import splits


class QuantizerSpec(types.ComponentSpec):
    PARAMETERS = {
        **code_version.PARAMETERS,
        'quantization': ExecutionParameter(type=str),
        'min_elements': ExecutionParameter(type=int),
        'max_eval_examples': ExecutionParameter(type=int),
        'family': ExecutionParameter(type=str, optional=True),
        'preset': ExecutionParameter(type=str, optional=True),
        # The split this component chooses on (yt8m/splits.py): never test.
        'selection_split': ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        'model': ChannelParameter(type=standard_artifacts.Model),
        'model_run': ChannelParameter(type=standard_artifacts.ModelRun, optional=True),
        'examples': ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {'quantized_model': ChannelParameter(type=standard_artifacts.Model)}


class Quantizer(base_component.BaseComponent):
    SPEC_CLASS = QuantizerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel,
                 model_run: Optional[types.BaseChannel] = None,
                 examples: Optional[types.BaseChannel] = None,
                 quantization: str = 'uniform',
                 min_elements: int = DEFAULT_MIN_ELEMENTS,
                 max_eval_examples: int = 1000,
                 family: Optional[str] = None,
                 preset: Optional[str] = None,
                 selection_split: str = splits.SELECT):
        """`model_run` (Trainer's) gives family/preset unless passed explicitly;
        `examples` (select split) adds float-vs-quantized predictions and GAP."""
        if quantization not in MODES:
            raise ValueError(f'unknown quantization {quantization!r}; valid: {MODES}')
        super().__init__(spec=QuantizerSpec(
            model=model, model_run=model_run, examples=examples,
            quantization=quantization, min_elements=min_elements, max_eval_examples=max_eval_examples,
            family=family, preset=preset, selection_split=selection_split,
            quantized_model=types.Channel(type=standard_artifacts.Model)))
