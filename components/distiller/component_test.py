"""Distiller component: spec wiring, defaults, chaining (levels) and bad options."""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import json

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.distiller.component import Distiller, TeacherScores


def _channels():
    return dict(teacher_model=types.Channel(type=standard_artifacts.Model),
                examples=types.Channel(type=standard_artifacts.Examples),
                transform_graph=types.Channel(type=standard_artifacts.TransformGraph))


def test_wiring_and_defaults():
    distiller = Distiller(student_family='dbof', **_channels())
    assert distiller.outputs['model'].type == standard_artifacts.Model
    assert distiller.outputs['model_run'].type == standard_artifacts.ModelRun
    assert distiller.outputs['teacher_scores'].type == TeacherScores
    assert TeacherScores.TYPE_NAME == 'yt8m.TeacherScores'
    props = distiller.exec_properties
    assert props['student_preset'] == 'small' and props['distillation_lambda'] == 0.5
    assert props['temperature'] == 1.0 and props['top_k'] == 20
    assert props['training_options'] is None


def test_a_student_teaches_the_next_level_across_families():
    channels = _channels()
    first = Distiller(student_family='netvlad', training_options={'learning_rate': 0.01},
                      **channels).with_id('Distiller.netvlad')
    second = Distiller(teacher_model=first.outputs['model'], examples=channels['examples'],
                       transform_graph=channels['transform_graph'], student_family='logistic',
                       student_preset='tiny').with_id('Distiller.logistic')
    assert second.inputs['teacher_model'] is first.outputs['model']
    assert json.loads(first.exec_properties['training_options']) == {'learning_rate': 0.01}


@pytest.mark.parametrize('bad', [{'distillation_lambda': 1.5}, {'temperature': 0.0},
                                 {'top_k': 0}, {'training_options': {'family': 'gru'}}])
def test_bad_options(bad):
    with pytest.raises(ValueError):
        Distiller(student_family='dbof', **_channels(), **bad)
