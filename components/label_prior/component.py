"""LabelPrior: the training label frequencies as a model with the serving contract.

Honest blessing needs a floor measured, not assumed: a model that learned
nothing but the class frequencies scores well above zero GAP (0.10-0.13 on
the default data). This component counts the train split's labels (a Beam
job) and exports `models.prior.LabelPriorModel` with the same transform
graph and serving signatures as every trained model, so the standard
Evaluator scores the prior on the same test split with the same metrics, and
`BlessingGate` requires every candidate to beat it by a margin.
"""

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.label_prior import executor
from yt8m import splits


class LabelPriorSpec(types.ComponentSpec):
    PARAMETERS = {**code_version.PARAMETERS,
                  # The split whose label frequencies make the prior.
                  'train_split': ExecutionParameter(type=str, optional=True)}
    INPUTS = {
        'examples': ChannelParameter(type=standard_artifacts.Examples),
        'transform_graph': ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {'model': ChannelParameter(type=standard_artifacts.Model)}


class LabelPrior(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = LabelPriorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 train_split: str = splits.TRAIN):
        super().__init__(spec=LabelPriorSpec(
            examples=examples, transform_graph=transform_graph, train_split=train_split,
            model=types.Channel(type=standard_artifacts.Model)))
