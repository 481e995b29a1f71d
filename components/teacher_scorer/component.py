"""TeacherScorer: a teacher's top-K scores of every train video, once per teacher.

The seed's distillation trains students on a teacher's predictions for the
training videos. Scoring is a pass of the teacher (an ensemble: several
models) over the whole train split, the costliest step of distillation at
the release's 3.9M videos, and it does not depend on the student. So it is
its own component: its `teacher_scores` artifact (`yt8m.TeacherScores`,
sparse top-K, see components/distiller/teacher_scores.py) feeds every
Distiller the teacher teaches, and TFX's cache keeps it while only students
change. Lineage: teacher Model -> TeacherScores -> student Model.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.artifacts import TeacherScores
from components.teacher_scorer import executor
from yt8m import features, splits


class TeacherScorerSpec(types.ComponentSpec):
    PARAMETERS = {
        **code_version.PARAMETERS,
        # Classes kept per video (the rest count as 0 in a student's target).
        'top_k': ExecutionParameter(type=int),
        # The split the students train on (yt8m/splits.py): never select or test.
        'train_split': ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        'teacher_model': ChannelParameter(type=standard_artifacts.Model),
        'examples': ChannelParameter(type=standard_artifacts.Examples),
    }
    OUTPUTS = {
        'teacher_scores': ChannelParameter(type=TeacherScores),
    }


class TeacherScorer(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = TeacherScorerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, teacher_model: types.BaseChannel, examples: types.BaseChannel,
                 top_k: int = 20, train_split: Optional[str] = splits.TRAIN):
        if not 1 <= top_k <= features.NUM_CLASSES:
            raise ValueError(f'top_k must be in [1, {features.NUM_CLASSES}], got {top_k}')
        super().__init__(spec=TeacherScorerSpec(
            teacher_model=teacher_model, examples=examples, top_k=top_k,
            train_split=train_split, teacher_scores=types.Channel(type=TeacherScores)))
