"""Quantizer executor: uint8 weights + 256 levels in the SavedModel, same signatures.

One DBoF 'tiny' model is exported once (module fixture) with the plain
`transform_videos` standing in for the TFT layer and quantized by running
the executor directly; the checks read the written SavedModel back.
"""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components import artifact_files
from components.quantizer import executor as executor_lib
from components.quantizer import quantize
from models import optim, registry
from tests.records import make_record
from trainer.export import export_serving_model
from trainer.preprocessing import transform_videos
from yt8m import features

optim.skip_autograph_for_tf_keras()

MIN_ELEMENTS = quantize.DEFAULT_MIN_ELEMENTS


def _records(count=8):
    return [make_record(video_id=b'v%d' % i, labels=(i % 7, 100 + i), num_frames=2 + i,
                        seed=i) for i in range(count)]


def _artifact(cls, uri):
    artifact = cls()
    artifact.uri = str(uri)
    os.makedirs(artifact.uri, exist_ok=True)
    return artifact


@pytest.fixture(scope='module')
def quantized(tmp_path_factory):
    root = tmp_path_factory.mktemp('quantizer')
    keras.utils.set_random_seed(0)
    model = registry.build_model('dbof', 'tiny')
    # Spread the weights so that quantization error is visible in predictions.
    for variable in model.variables:
        if variable.dtype == tf.float32 and 'kernel' in variable.name:
            variable.assign(variable * 20.0)
    model_artifact = _artifact(standard_artifacts.Model, root / 'model')
    source_dir = path_utils.serving_model_dir(model_artifact.uri)
    export_serving_model(model, transform_videos, source_dir)

    model_run = _artifact(standard_artifacts.ModelRun, root / 'model_run')
    with open(os.path.join(model_run.uri, 'training_summary.json'), 'w') as f:
        json.dump({'family': 'dbof', 'preset': 'tiny'}, f)
    examples = _artifact(standard_artifacts.Examples, root / 'examples')
    examples.split_names = '["train", "select", "test"]'
    os.makedirs(os.path.join(examples.uri, 'Split-select'))
    with tf.io.TFRecordWriter(os.path.join(examples.uri, 'Split-select', 'data.gz'),
                              options='GZIP') as writer:
        for record in _records():
            writer.write(record)

    output = _artifact(standard_artifacts.Model, root / 'quantized')
    executor_lib.Executor().Do(
        {'model': [model_artifact], 'model_run': [model_run], 'examples': [examples]},
        {'quantized_model': [output]},
        {'mode': 'uniform', 'min_elements': MIN_ELEMENTS, 'max_eval_examples': 100})
    with open(os.path.join(output.uri, artifact_files.QUANTIZATION_REPORT)) as f:
        report = json.load(f)
    return {'source_dir': source_dir, 'export_dir': path_utils.serving_model_dir(output.uri),
            'report': report, 'model': model, 'output': output}


def _checkpoint(saved_model_dir):
    return tf.train.load_checkpoint(os.path.join(saved_model_dir, 'variables', 'variables'))


def _saved_variables(saved_model_dir):
    reader = _checkpoint(saved_model_dir)
    dtypes = reader.get_variable_to_dtype_map()
    return {name: (reader.get_tensor(name), dtype) for name, dtype in dtypes.items()
            if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}


def _stored(saved, index, key):
    return saved[f'quantized_variables/{index}/{key}/.ATTRIBUTES/VARIABLE_VALUE'][0]


def test_big_variables_are_uint8_with_256_levels_and_no_float_copy(quantized):
    saved = _saved_variables(quantized['export_dir'])
    big = [v for v in quantized['model'].variables if quantize.qualifies(v, MIN_ELEMENTS)]
    assert big, 'the fixture model must have variables to quantize'
    for index, variable in enumerate(big):
        indices = _stored(saved, index, 'indices')
        levels = _stored(saved, index, 'levels')
        assert indices.dtype == np.uint8 and indices.shape == tuple(variable.shape)
        assert levels.dtype == np.float32 and levels.shape == (256,)
    for name, (value, dtype) in saved.items():
        if dtype == tf.float32:
            assert value.size < MIN_ELEMENTS, f'{name}: float copy of a big variable saved'


def test_dequantized_weights_within_half_a_level_step(quantized):
    saved = _saved_variables(quantized['export_dir'])
    big = [v for v in quantized['model'].variables if quantize.qualifies(v, MIN_ELEMENTS)]
    for index, variable in enumerate(big):
        original = variable.numpy()
        levels = _stored(saved, index, 'levels')
        dequantized = levels[_stored(saved, index, 'indices').astype(np.int64)]
        step = (original.max() - original.min()) / 255
        assert np.isclose(levels[0], original.min()) and np.isclose(levels[-1], original.max())
        assert np.max(np.abs(dequantized - original)) <= step / 2 * (1 + 1e-4) + 1e-7


def test_small_variables_untouched(quantized):
    saved = _saved_variables(quantized['export_dir'])
    small = [v for v in quantized['model'].variables
             if not quantize.qualifies(v, MIN_ELEMENTS)]
    assert small
    for index, variable in enumerate(small):
        value, dtype = saved[f'float_variables/{index}/.ATTRIBUTES/VARIABLE_VALUE']
        assert dtype == tf.float32
        np.testing.assert_array_equal(value, variable.numpy())


def test_same_signatures_and_close_predictions(quantized):
    source = tf.saved_model.load(quantized['source_dir'])
    target = tf.saved_model.load(quantized['export_dir'])
    assert set(target.signatures) == set(source.signatures) == {
        'serving_default', 'transform_features'}
    for name in source.signatures:
        assert (target.signatures[name].structured_input_signature
                == source.signatures[name].structured_input_signature)
        assert (set(target.signatures[name].structured_outputs)
                == set(source.signatures[name].structured_outputs))
    examples = tf.constant(_records())
    before = source.signatures['serving_default'](examples=examples)
    after = target.signatures['serving_default'](examples=examples)
    probabilities = before[features.PROBABILITIES].numpy()
    quantized_probabilities = after[features.PROBABILITIES].numpy()
    assert quantized_probabilities.shape == (8, features.NUM_CLASSES)
    assert np.max(np.abs(probabilities - quantized_probabilities)) < 0.05
    # The x20 kernels saturate many sigmoids at exactly 1.0, where argmax is a
    # tie; only videos whose top class clearly leads must keep it.
    ranked = np.sort(probabilities, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] > 0.05
    same_top = probabilities.argmax(1) == quantized_probabilities.argmax(1)
    assert np.all(same_top[clear])
    transformed = target.signatures['transform_features'](examples=examples)
    np.testing.assert_array_equal(
        transformed[features.LABELS_MULTI_HOT].numpy(),
        source.signatures['transform_features'](examples=examples)[
            features.LABELS_MULTI_HOT].numpy())


def test_size_and_report(quantized):
    report = quantized['report']
    assert report['family'] == 'dbof' and report['mode'] == 'uniform'
    quantized_rows = [r for r in report['variables'] if r['quantized']]
    assert len(quantized_rows) == report['num_quantized'] > 0
    for row in quantized_rows:
        # uint8 indices + 256 float levels: ~1/4 of the float32 bytes
        assert row['bytes_after'] == row['bytes_before'] // 4 + 256 * 4
        assert row['max_abs_error'] <= row['level_step'] / 2 * (1 + 1e-4) + 1e-7
    before = sum(r['bytes_before'] for r in quantized_rows)
    after = sum(r['bytes_after'] for r in quantized_rows)
    assert after / before < 0.27
    variables_file = lambda d: sum(  # noqa: E731
        os.path.getsize(os.path.join(d, 'variables', n)) for n in os.listdir(
            os.path.join(d, 'variables')))
    ratio = variables_file(quantized['export_dir']) / variables_file(quantized['source_dir'])
    assert ratio == pytest.approx(report['variable_size_ratio'], abs=0.05)
    assert report['saved_model_bytes_after'] < 0.5 * report['saved_model_bytes_before']
    evaluation = report['select']
    assert evaluation['num_examples'] == 8
    assert evaluation['max_abs_prediction_diff'] < 0.05
    assert abs(evaluation['gap_after'] - evaluation['gap_before']) < 0.05
    assert quantized['output'].get_string_custom_property('quantization_mode') == 'uniform'


@pytest.mark.parametrize('mode', quantize.MODES)
def test_quantize_array_modes_match_graph_dequantization(mode):
    values = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    result = quantize.quantize_array(values, mode)
    stored = {k: tf.Variable(v) for k, v in result.stored.items()}
    graph = quantize.dequantize_tensor(mode, stored).numpy()
    np.testing.assert_array_equal(graph, result.dequantized)
    error = np.max(np.abs(result.dequantized - values))
    if mode == 'float16':
        assert result.stored['values'].dtype == np.float16 and error < 1e-2
    else:
        assert result.stored['indices'].dtype == np.uint8
    if mode in ('uniform', 'per_channel'):
        assert error <= (values.max() - values.min()) / 255 / 2 + 1e-6
    if mode == 'kmeans':
        uniform = quantize.quantize_array(values, 'uniform').dequantized
        assert np.mean((result.dequantized - values) ** 2) <= np.mean((uniform - values) ** 2)
    if mode == 'per_channel':
        assert result.stored['levels'].shape == (6, 256)


def test_kmeans_levels_beat_uniform_on_heavy_tails():
    values = np.random.default_rng(1).standard_t(2, size=20_000).astype(np.float32)
    errors = {mode: np.mean((quantize.quantize_array(values, mode).dequantized - values) ** 2)
              for mode in ('uniform', 'kmeans')}
    assert errors['kmeans'] < errors['uniform']


def test_unknown_mode_rejected():
    with pytest.raises(ValueError, match='unknown mode'):
        quantize.quantize_array(np.zeros(3, np.float32), 'int4')

