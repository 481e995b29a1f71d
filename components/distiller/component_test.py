"""TeacherScorer and Distiller components: spec wiring, defaults, chaining (levels), bad options."""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import json

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.artifacts import TeacherScores
from components.distiller.component import Distiller
from components.teacher_scorer.component import TeacherScorer
from trainer.config import TrainingConfig


def _channels():
    return dict(teacher_scores=types.Channel(type=TeacherScores),
                examples=types.Channel(type=standard_artifacts.Examples),
                transform_graph=types.Channel(type=standard_artifacts.TransformGraph))


def test_wiring_and_defaults():
    scorer = TeacherScorer(teacher_model=types.Channel(type=standard_artifacts.Model),
                           examples=types.Channel(type=standard_artifacts.Examples))
    assert scorer.outputs['teacher_scores'].type == TeacherScores
    assert TeacherScores.TYPE_NAME == 'yt8m.TeacherScores'
    assert scorer.exec_properties['top_k'] == 20
    assert scorer.exec_properties['train_split'] == 'train'
    distiller = Distiller(training_config=TrainingConfig(family='dbof'), **_channels())
    assert distiller.outputs['model'].type == standard_artifacts.Model
    assert distiller.outputs['model_run'].type == standard_artifacts.ModelRun
    assert set(distiller.outputs) == {'model', 'model_run'}
    props = distiller.exec_properties
    assert json.loads(props['training_config'])['preset'] == 'small'
    assert props['distillation_lambda'] == 0.5 and props['temperature'] == 1.0


def test_a_student_teaches_the_next_level_across_families():
    channels = _channels()
    first = Distiller(training_config={'family': 'netvlad', 'learning_rate': 0.01},
                      **channels).with_id('Distiller-netvlad')
    scorer = TeacherScorer(teacher_model=first.outputs['model'],
                           examples=channels['examples']).with_id('TeacherScorer-netvlad')
    second = Distiller(teacher_scores=scorer.outputs['teacher_scores'],
                       examples=channels['examples'],
                       transform_graph=channels['transform_graph'],
                       training_config=TrainingConfig(family='logistic', preset='tiny')
                       ).with_id('Distiller-logistic')
    assert scorer.inputs['teacher_model'] is first.outputs['model']
    assert second.inputs['teacher_scores'] is scorer.outputs['teacher_scores']
    assert json.loads(first.exec_properties['training_config'])['learning_rate'] == 0.01
    assert json.loads(second.exec_properties['training_config'])['family'] == 'logistic'


@pytest.mark.parametrize('bad', [{'distillation_lambda': 1.5}, {'temperature': 0.0},
                                 {'training_config': {'family': 'gru2'}},
                                 {'training_config': {'family': 'dbof', 'ema_gama': 1}}])
def test_bad_options(bad):
    with pytest.raises(ValueError):
        Distiller(**{'training_config': {'family': 'dbof'}, **_channels(), **bad})


@pytest.mark.parametrize('top_k', [0, 3863])
def test_bad_top_k(top_k):
    with pytest.raises(ValueError, match='top_k'):
        TeacherScorer(teacher_model=types.Channel(type=standard_artifacts.Model),
                      examples=types.Channel(type=standard_artifacts.Examples), top_k=top_k)


def test_a_student_can_start_from_its_member():
    member = types.Channel(type=standard_artifacts.Model)
    distiller = Distiller(training_config=TrainingConfig(family='dbof'), init_model=member,
                          **_channels())
    assert distiller.inputs['init_model'] is member
    assert 'init_model' not in Distiller(training_config=TrainingConfig(family='dbof'),
                                         **_channels()).inputs
