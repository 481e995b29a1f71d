"""Distiller: train a student on a teacher's predictions (the seed's distillation).

`loss = lambda * BCE(student, teacher) + (1 - lambda) * BCE(student, labels)`
(lambda 0.5 in the seed), trained as BCE on the mixed target. The teacher is
any Model with the serving contract (a Trainer's, an EnsembleBuilder's, or
another Distiller's: distillation levels and cross-family students are just
wiring). The teacher's top-K scores per train video are computed once and
kept as the `teacher_scores` artifact (`yt8m.TeacherScores`); see
`teacher_scores.py`. Outputs `model` + `model_run` like the Trainer, so the
Quantizer, EnsembleBuilder, Evaluator and Pusher take the student as is.
"""

import json
from typing import Any, Dict, Optional

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifacts import TeacherScores
from components.distiller import executor


class DistillerSpec(types.ComponentSpec):
    PARAMETERS = {
        'student_family': ExecutionParameter(type=str),
        'student_preset': ExecutionParameter(type=str),
        'distillation_lambda': ExecutionParameter(type=float),
        'temperature': ExecutionParameter(type=float),
        'train_steps': ExecutionParameter(type=int),
        'batch_size': ExecutionParameter(type=int, optional=True),
        'top_k': ExecutionParameter(type=int),
        'training_options': ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        'teacher_model': ChannelParameter(type=standard_artifacts.Model),
        'examples': ChannelParameter(type=standard_artifacts.Examples),
        'transform_graph': ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {
        'model': ChannelParameter(type=standard_artifacts.Model),
        'model_run': ChannelParameter(type=standard_artifacts.ModelRun),
        'teacher_scores': ChannelParameter(type=TeacherScores),
    }


class Distiller(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = DistillerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, teacher_model: types.BaseChannel, examples: types.BaseChannel,
                 transform_graph: types.BaseChannel, student_family: str,
                 student_preset: str = 'small', distillation_lambda: float = 0.5,
                 temperature: float = 1.0, train_steps: int = 1000,
                 batch_size: Optional[int] = None, top_k: int = 20,
                 training_options: Optional[Dict[str, Any]] = None):
        """`train_steps`: the budget when `training_options` has no `train_examples`.

        `training_options`: extra TrainingConfig fields (train_examples,
        learning_rate, patience, eval_examples, ema_steps...).
        """
        if not 0.0 <= distillation_lambda <= 1.0:
            raise ValueError(f'distillation_lambda must be in [0, 1], got {distillation_lambda}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if not 1 <= top_k <= 3862:
            raise ValueError(f'top_k must be in [1, 3862], got {top_k}')
        options = dict(training_options or {})
        for key in ('family', 'preset'):
            if key in options:
                raise ValueError(f'pass student_{key}, not training_options[{key!r}]')
        super().__init__(spec=DistillerSpec(
            teacher_model=teacher_model, examples=examples, transform_graph=transform_graph,
            student_family=student_family, student_preset=student_preset,
            distillation_lambda=float(distillation_lambda), temperature=float(temperature),
            train_steps=train_steps, batch_size=batch_size, top_k=top_k,
            training_options=json.dumps(options, sort_keys=True) if options else None,
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
            teacher_scores=types.Channel(type=TeacherScores)))
