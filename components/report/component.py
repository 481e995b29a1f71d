"""Report: one human-readable page per run, next to the artifacts.

For every model: GAP@20, Hit@1, PERR (from its Evaluator), size on disk,
parameters and training time (from its Trainer), whether it was blessed and
where it was pushed; a plot of GAP versus model size; and a sample of
predictions with readable class names from the 2018 vocabulary.

Inputs come as one optional channel per (member, kind), e.g. `dbof_model`,
`dbof_evaluation`: Kubeflow Pipelines v2 cannot feed a list of artifacts from
different tasks into one input, so the spec names each member's slot.
"""

from __future__ import annotations

from typing import Dict, Mapping

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.artifacts import RunReport, VideoSample
from components.report import executor
from components.report.members import MEMBER_NAMES
MEMBER_INPUTS: Dict[str, type] = {
    'model': standard_artifacts.Model,
    'model_run': standard_artifacts.ModelRun,
    'evaluation': standard_artifacts.ModelEvaluation,
    'blessing': standard_artifacts.ModelBlessing,
    'pushed_model': standard_artifacts.PushedModel,
    'quantized_model': standard_artifacts.Model,
}


class ReportSpec(types.ComponentSpec):
    PARAMETERS = {'report_dir': ExecutionParameter(type=str),
                  **code_version.PARAMETERS}
    INPUTS = {
        # YT8MExampleGen's few test records and record check, not the Examples.
        'sample': ChannelParameter(type=VideoSample),
        **{f'{member}_{kind}': ChannelParameter(type=artifact_type, optional=True)
           for member in MEMBER_NAMES for kind, artifact_type in MEMBER_INPUTS.items()},
    }
    OUTPUTS = {'report': ChannelParameter(type=RunReport)}


class Report(base_component.BaseComponent):
    SPEC_CLASS = ReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, sample: types.BaseChannel,
                 members: Mapping[str, Mapping[str, types.BaseChannel]], report_dir: str):
        """`sample`: YT8MExampleGen's `sample` output; `members` maps a member name to
        its channels by kind (see MEMBER_INPUTS)."""
        unknown = sorted(set(members) - set(MEMBER_NAMES))
        if unknown:
            raise ValueError(f'Report cannot show members {unknown}')
        channels = {f'{member}_{kind}': channel
                    for member, by_kind in members.items()
                    for kind, channel in by_kind.items()}
        super().__init__(spec=ReportSpec(sample=sample, report_dir=report_dir,
                                         report=types.Channel(type=RunReport), **channels))
