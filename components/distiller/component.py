"""Distiller: train a student on a teacher's predictions (the seed's distillation).

`loss = lambda * BCE(student, teacher) + (1 - lambda) * BCE(student, labels)`
(lambda 0.5 in the seed), trained as BCE on the mixed target. The teacher is
any Model with the serving contract (a Trainer's, an EnsembleBuilder's, or
another Distiller's: distillation levels and cross-family students are just
wiring). The Distiller reads the teacher's top-K scores per train video from
a `teacher_scores` artifact (`yt8m.TeacherScores`, see `teacher_scores.py`),
which the TeacherScorer (components/teacher_scorer/) writes once per
teacher for all its students. Outputs `model` + `model_run` like the
Trainer, so the Quantizer, EnsembleBuilder, Evaluator and Pusher take the
student as is.
"""

import json
from typing import Any, Mapping, Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.artifacts import TeacherScores
from components.distiller import executor
from trainer.config import TrainingConfig
from yt8m import splits


class DistillerSpec(types.ComponentSpec):
    PARAMETERS = {
        # The student's TrainingConfig as JSON (trainer/config.py): its
        # family, preset, budget and every other training option.
        'training_config': ExecutionParameter(type=str),
        'distillation_lambda': ExecutionParameter(type=float),
        'temperature': ExecutionParameter(type=float),
        # The student trains on train_split (which the scores cover); its early
        # stopping reads selection_split (yt8m/splits.py): never test.
        'train_split': ExecutionParameter(type=str, optional=True),
        'selection_split': ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        # The teacher's top-K per train video (TeacherScorer).
        'teacher_scores': ChannelParameter(type=TeacherScores),
        'examples': ChannelParameter(type=standard_artifacts.Examples),
        'transform_graph': ChannelParameter(type=standard_artifacts.TransformGraph),
        # A model of the student's family and preset (its member, trained
        # alone) whose weights the student starts from; without it the
        # student starts at the label prior, as a Trainer does.
        'init_model': ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        'model': ChannelParameter(type=standard_artifacts.Model),
        'model_run': ChannelParameter(type=standard_artifacts.ModelRun),
    }


class Distiller(base_component.BaseComponent):
    SPEC_CLASS = DistillerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, teacher_scores: types.BaseChannel, examples: types.BaseChannel,
                 transform_graph: types.BaseChannel,
                 training_config: Union[TrainingConfig, Mapping[str, Any]],
                 distillation_lambda: float = 0.5, temperature: float = 1.0,
                 code_identity: Optional[Mapping[str, str]] = None,
                 train_split: str = splits.TRAIN, selection_split: str = splits.SELECT,
                 init_model: Optional[types.BaseChannel] = None):
        """`training_config`: the student's, built once by the pipeline like a Trainer's.

        `init_model`: the student starts from this model's weights (same
        family and preset: its member), scored on select before its first
        step, so early stopping never keeps a student below its start.

        A mapping is checked as TrainingConfig.from_custom_config checks it,
        so an unknown option fails here, not in the pod. `code_identity`
        (pipeline.configs.code_identity) travels with it, as in a Trainer's
        custom_config, for the cache key and lineage.
        """
        if not isinstance(training_config, TrainingConfig):
            training_config = TrainingConfig.from_custom_config(training_config)
        if not 0.0 <= distillation_lambda <= 1.0:
            raise ValueError(f'distillation_lambda must be in [0, 1], got {distillation_lambda}')
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        super().__init__(spec=DistillerSpec(
            teacher_scores=teacher_scores, examples=examples, transform_graph=transform_graph,
            init_model=init_model,
            training_config=json.dumps({**training_config.to_custom_config(),
                                        **(code_identity or {})}, sort_keys=True),
            distillation_lambda=float(distillation_lambda), temperature=float(temperature),
            train_split=train_split, selection_split=selection_split,
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun)))
