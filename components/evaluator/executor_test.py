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


def _string_length_model(root) -> str:
    """A SavedModel whose one signature takes `examples` (strings) by keyword."""
    import tensorflow as tf

    class Lengths(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
        def serve(self, examples):
            return {'lengths': tf.strings.length(examples)}

    module = Lengths()
    path = str(root / 'lengths')
    tf.saved_model.save(module, path, signatures={'serving_default': module.serve})
    return path


def _no_flat_fallback(monkeypatch):
    """Makes TensorFlow's positional fallback (where the batch's repr was built) fail."""
    from tensorflow.python.eager.polymorphic_function import concrete_function

    def refuse(self, args, kwargs):
        raise AssertionError('called through the flat-signature fallback')
    monkeypatch.setattr(concrete_function.ConcreteFunction, '_call_with_flat_signature', refuse)


def test_a_positional_batch_reaches_the_signature_by_keyword(tmp_path, monkeypatch):
    import tensorflow as tf
    from components.evaluator import keyword_call
    loaded = tf.saved_model.load(_string_length_model(tmp_path))
    batch = tf.constant([b'ab', b'abcd'])
    _no_flat_fallback(monkeypatch)
    with pytest.raises(Exception, match='flat-signature fallback'):   # what TFMA 0.47 did
        loaded.signatures['serving_default'](batch)
    model = keyword_call.KeywordSignatureModel(loaded)
    signature = model.signatures['serving_default']
    assert signature(batch)['lengths'].numpy().tolist() == [2, 4]
    assert signature(examples=batch)['lengths'].numpy().tolist() == [2, 4]
    assert model.tensorflow_version == loaded.tensorflow_version   # the rest is the model's own
    with pytest.raises(TypeError, match=r"inputs \['examples'\]"):
        signature(batch, batch)


def test_tfma_loads_the_keyword_model_through_tfxs_hook(tmp_path):
    import tensorflow_model_analysis as tfma
    from tfx.components.util import udf_utils
    from components.evaluator import component, keyword_call
    make = udf_utils.try_get_fn({'module_path': component.KEYWORD_CALL_MODULE},
                                'custom_eval_shared_model')
    shared = make(eval_saved_model_path=_string_length_model(tmp_path), model_name='',
                  eval_config=tfma.EvalConfig(model_specs=[tfma.ModelSpec()]),
                  add_metrics_callbacks=None)
    assert isinstance(shared.model_loader.load(), keyword_call.KeywordSignatureModel)


def test_the_evaluator_names_the_keyword_call_module():
    from tfx.types import channel, standard_artifacts as artifacts
    from components.evaluator import component
    evaluator = component.Evaluator(examples=channel.Channel(type=artifacts.Examples),
                                    model=channel.Channel(type=artifacts.Model))
    assert evaluator.exec_properties['module_path'] == component.KEYWORD_CALL_MODULE
