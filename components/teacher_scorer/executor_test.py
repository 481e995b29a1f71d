"""TeacherScorer executor: what it refuses, naming the artifact (the scoring itself is
tested with the Distiller, components/distiller/executor_test.py, which shares its fixture)."""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.artifacts import TeacherScores
from components.teacher_scorer import executor as scorer_lib
from tests import component_inputs as testdata


def _run(teacher, examples, tmp_path):
    scores = testdata.artifact(TeacherScores, str(tmp_path / 'scores'))
    scorer_lib.Executor().Do({'teacher_model': [teacher], 'examples': [examples]},
                             {'teacher_scores': [scores]}, {'top_k': 5})


def _examples(tmp_path, with_train_file: bool):
    examples = testdata.artifact(standard_artifacts.Examples, str(tmp_path / 'examples'))
    examples.split_names = artifact_utils.encode_split_names(['train', 'select'])
    for split in ('train', 'select'):
        os.makedirs(tmp_path / 'examples' / f'Split-{split}')
    if with_train_file:
        (tmp_path / 'examples' / 'Split-train' / 'data.gz').write_bytes(b'')
    return examples


def _teacher(tmp_path, with_saved_model: bool):
    teacher = testdata.artifact(standard_artifacts.Model, str(tmp_path / 'teacher'))
    serving = tmp_path / 'teacher' / 'Format-Serving'
    os.makedirs(serving)
    if with_saved_model:
        (serving / 'saved_model.pb').write_bytes(b'')
    return teacher


def test_a_teacher_without_a_saved_model_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'teacher model .*teacher: no saved_model.pb'):
        _run(_teacher(tmp_path, False), _examples(tmp_path, True), tmp_path)


def test_an_empty_train_split_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"examples .*examples: split 'train' has no files"):
        _run(_teacher(tmp_path, True), _examples(tmp_path, False), tmp_path)
