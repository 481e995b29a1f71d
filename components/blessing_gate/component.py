"""BlessingGate: a model is pushed only if it beats the label prior by a margin.

The Evaluator's thresholds (an absolute GAP floor, no regression against the
last pushed model) cannot see the one baseline that says whether a model
learned anything: the label prior, i.e. the training label frequencies given
to every video, which scores 0.10-0.13 GAP@20 on the default data. A fixed
floor either blesses prior-only models (it did: issue #9) or rejects good
models on harder data. This gate reads the candidate's and the prior's GAP@20
from their Evaluator outputs (same test split, same metric code) and writes a
standard ModelBlessing that the Pusher honours:

    blessed = Evaluator blessed  and  GAP(candidate) >= GAP(prior) + min_gain_over_prior

The reason is written into the blessing (file and MLMD property `reason`).
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.blessing_gate import executor


class BlessingGateSpec(types.ComponentSpec):
    PARAMETERS = {'min_gain_over_prior': ExecutionParameter(type=float),
                  **code_version.PARAMETERS}
    INPUTS = {
        'evaluation': ChannelParameter(type=standard_artifacts.ModelEvaluation),
        'tfma_blessing': ChannelParameter(type=standard_artifacts.ModelBlessing),
        'prior_evaluation': ChannelParameter(type=standard_artifacts.ModelEvaluation),
    }
    OUTPUTS = {'blessing': ChannelParameter(type=standard_artifacts.ModelBlessing)}


class BlessingGate(base_component.BaseComponent):
    SPEC_CLASS = BlessingGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, evaluation: types.BaseChannel, tfma_blessing: types.BaseChannel,
                 prior_evaluation: types.BaseChannel, min_gain_over_prior: float):
        if min_gain_over_prior < 0:
            raise ValueError(f'min_gain_over_prior must be >= 0, got {min_gain_over_prior}')
        super().__init__(spec=BlessingGateSpec(
            evaluation=evaluation, tfma_blessing=tfma_blessing,
            prior_evaluation=prior_evaluation, min_gain_over_prior=float(min_gain_over_prior),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
