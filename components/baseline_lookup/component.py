"""BaselineLookup: the last pushed model of a name, as the Evaluator's baseline.

Why not TFX's `Resolver(LatestBlessedModelStrategy)`: open-source Kubeflow
Pipelines v2 cannot run Resolver nodes (the V2 runner's resolver tasks were
written for Vertex AI). This component needs no metadata access at all: the
last *blessed* model of a name is, by construction, the newest version the
Pusher wrote under `<serving_model_dir>/<version>/` (the Pusher only pushes
blessed models), so it reads that folder. It runs the same on both runners.

On a first run there is no pushed model yet; the candidate itself becomes
the baseline, so the no-regression check compares it with itself (change 0)
and only the absolute GAP floor decides.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.baseline_lookup import executor


class BaselineLookupSpec(types.ComponentSpec):
    PARAMETERS = {'serving_model_dir': ExecutionParameter(type=str), **code_version.PARAMETERS}
    INPUTS = {'candidate_model': ChannelParameter(type=standard_artifacts.Model)}
    OUTPUTS = {'baseline_model': ChannelParameter(type=standard_artifacts.Model)}


class BaselineLookup(base_component.BaseComponent):
    SPEC_CLASS = BaselineLookupSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, candidate_model: types.BaseChannel, serving_model_dir: str):
        super().__init__(spec=BaselineLookupSpec(
            candidate_model=candidate_model, serving_model_dir=serving_model_dir,
            baseline_model=types.Channel(type=standard_artifacts.Model)))
