"""The Evaluator evaluates a first run's candidate once: only a byte-identical
baseline is left out (the real TFMA runs are in the end-to-end test)."""

import os

import pytest
from tfx.components.evaluator import executor as tfx_executor
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.evaluator import executor


def _saved_model(root, name, data=b'weights'):
    model = standard_artifacts.Model()
    model.uri = str(root / name)
    folder = path_utils.serving_model_dir(model.uri)
    os.makedirs(os.path.join(folder, 'variables'))
    with open(os.path.join(folder, 'saved_model.pb'), 'wb') as f:
        f.write(b'graph')
    with open(os.path.join(folder, 'variables', 'variables.data-00000-of-00001'), 'wb') as f:
        f.write(data)
    return model


def test_only_the_same_bytes_are_the_same_model(tmp_path):
    path = lambda model: path_utils.serving_model_path(model.uri)  # noqa: E731
    candidate = _saved_model(tmp_path, 'candidate')
    assert executor.same_saved_model(path(candidate), path(_saved_model(tmp_path, 'copy')))
    other = _saved_model(tmp_path, 'other', data=b'weightz')    # same size, other bytes
    assert not executor.same_saved_model(path(candidate), path(other))
    extra = _saved_model(tmp_path, 'extra')
    open(os.path.join(path(extra), 'assets.txt'), 'w').close()
    assert not executor.same_saved_model(path(candidate), path(extra))
    assert not executor.same_saved_model(path(candidate), str(tmp_path / 'missing'))


def test_a_copy_of_the_candidate_is_left_out_a_pushed_model_is_not(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(tfx_executor.Executor, 'Do',
                        lambda self, inputs, outputs, props: seen.append(sorted(inputs)))
    candidate = _saved_model(tmp_path, 'candidate')
    for baseline in (_saved_model(tmp_path, 'copy'),
                     _saved_model(tmp_path, 'pushed', data=b'older')):
        executor.Executor().Do({'model': [candidate], 'baseline_model': [baseline],
                                'examples': []}, {}, {})
    assert seen == [['examples', 'model'], ['baseline_model', 'examples', 'model']]


def test_tfma_gets_the_context_features_only(tmp_path, monkeypatch):
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import io_utils

    from pipeline import configs
    full = io_utils.SchemaReader().read(configs.SCHEMA_FILE)
    pruned = executor.context_features_only(full)
    assert [f.name for f in pruned.feature] == ['id', 'labels']
    assert not pruned.tensor_representation_group
    assert '##SEQUENCE##' in [f.name for f in full.feature]    # the input is left alone

    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / 'schema')
    io_utils.write_pbtxt_file(str(tmp_path / 'schema' / 'schema.pbtxt'), full)
    handed = []
    monkeypatch.setattr(tfx_executor.Executor, 'Do', lambda self, inputs, outputs, props:
                        handed.append(io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
                            inputs['schema'][0].uri))))
    context = executor.Executor.Context(tmp_dir=str(tmp_path / 'tmp'), unique_id='1')
    executor.Executor(context).Do({'model': [_saved_model(tmp_path, 'm')], 'schema': [schema],
                                  'examples': []}, {}, {})
    assert handed == [pruned]
    assert schema_pb2.Schema() != handed[0]


def test_tfma_runs_with_batches_printed_short_and_the_options_come_back(tmp_path, monkeypatch):
    import numpy as np
    before = np.get_printoptions()['threshold']
    seen = []

    def evaluate(self, inputs, outputs, props):
        seen.append(np.get_printoptions()['threshold'])
        raise RuntimeError('TFMA failed')
    monkeypatch.setattr(tfx_executor.Executor, 'Do', evaluate)
    with pytest.raises(RuntimeError, match='TFMA failed'):
        executor.Executor().Do({'model': [_saved_model(tmp_path, 'm')], 'examples': []}, {}, {})
    assert seen == [executor._PRINT_THRESHOLD]
    assert np.get_printoptions()['threshold'] == before
