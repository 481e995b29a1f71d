"""TeacherScorer and Distiller: loss algebra, the sparse teacher store, one real run of each.

The module fixture writes 30 generated videos as an Examples artifact, runs
the real `preprocessing_fn` through TFT Beam into a transform graph, exports
a DBoF 'tiny' teacher with the serving contract, runs the TeacherScorer's
executor once and the Distiller's executor on its scores (student: logistic
'tiny' -- cross-family -- a few steps).
"""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.distiller import executor as executor_lib
from components.distiller import teacher_scores as scores_lib
from components.teacher_scorer import executor as scorer_lib
from tests import component_inputs as testdata
from components.artifacts import TeacherScores
from models import optim
from trainer.config import TrainingConfig
from components.artifact_files import TRAINING_SUMMARY
from yt8m import features

optim.skip_autograph_for_tf_keras()

STUDENT = ('logistic', 'tiny')
TOP_K = 5


def _bce(target, prediction):
    return float(keras.losses.BinaryCrossentropy()(
        tf.constant([target], tf.float32), tf.constant([prediction], tf.float32)))


def test_mixed_target_bce_equals_the_seed_loss_hand_computed():
    student = [0.8, 0.3]
    labels = [1.0, 0.0]
    teacher = [0.6, 0.2]
    target = scores_lib.mixed_targets(tf.constant([labels]), tf.constant([teacher]), 0.5)
    np.testing.assert_allclose(target.numpy(), [[0.8, 0.1]], atol=1e-7)
    # By hand: BCE(s, labels) = mean(-ln .8, -ln .7) = mean(.22314, .35667) = .28991
    #          BCE(s, teacher) = mean(.6*.22314 + .4*1.60944, .2*1.20397 + .8*.35667)
    #                          = mean(.77767, .52613) = .65190
    #          0.5 * .28991 + 0.5 * .65190 = .47091
    assert _bce(labels, student) == pytest.approx(0.28991, abs=1e-4)
    assert _bce(teacher, student) == pytest.approx(0.65190, abs=1e-4)
    assert _bce(target.numpy()[0], student) == pytest.approx(0.47091, abs=1e-4)
    for lam in (0.0, 0.3, 1.0):
        mixed = scores_lib.mixed_targets(tf.constant([labels]), tf.constant([teacher]), lam)
        assert _bce(mixed.numpy()[0], student) == pytest.approx(
            lam * _bce(teacher, student) + (1 - lam) * _bce(labels, student), abs=1e-5)


def test_lambda_zero_gives_the_labels_and_missing_ids_fall_back_to_labels():
    labels = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    teacher = tf.constant([[0.2, 0.9, 0.4], [0.7, 0.1, 0.3]])
    np.testing.assert_array_equal(
        scores_lib.mixed_targets(labels, teacher, 0.0).numpy(), labels.numpy())
    mixed = scores_lib.mixed_targets(labels, teacher, 0.5, found=tf.constant([False, True]))
    np.testing.assert_array_equal(mixed.numpy()[0], labels.numpy()[0])
    np.testing.assert_allclose(mixed.numpy()[1], [0.35, 0.55, 0.15], atol=1e-7)


def test_temperature():
    p = np.array([0.5, 0.9, 0.1], np.float32)
    np.testing.assert_array_equal(scores_lib.temper(p, 1.0), p)
    np.testing.assert_allclose(scores_lib.temper(p, 2.0), [0.5, 0.75, 0.25], atol=1e-5)


def test_store_save_load_and_lookup_hand_made(tmp_path):
    store = scores_lib.TopKScores(
        ids=np.array([b'b', b'a', b'c']),
        classes=np.array([[7, 3], [0, 3861], [5, 6]], np.int16),
        scores=np.array([[0.9, 0.5], [0.25, 0.75], [0.5, 0.125]], np.float16))
    scores_lib.save(store, str(tmp_path))
    loaded = scores_lib.load(str(tmp_path))
    for name in ('ids', 'classes', 'scores'):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(store, name))
        assert getattr(loaded, name).dtype == getattr(store, name).dtype
    lookup = scores_lib.TeacherLookup(loaded)
    dense, found = lookup(tf.constant([b'a', b'zzz', b'b']))
    dense = dense.numpy()
    assert dense.shape == (3, features.NUM_CLASSES)
    np.testing.assert_array_equal(found.numpy(), [True, False, True])
    assert dense[0, 0] == 0.25 and dense[0, 3861] == 0.75 and np.count_nonzero(dense[0]) == 2
    assert np.count_nonzero(dense[1]) == 0
    assert dense[2, 7] == pytest.approx(0.9, abs=1e-3) and dense[2, 3] == 0.5
    assert np.count_nonzero(dense[2]) == 2


def score(teacher, examples, uri: str):
    """The TeacherScorer's executor: the teacher's top-K of every train video."""
    scores = testdata.artifact(TeacherScores, uri)
    scorer_lib.Executor().Do({'teacher_model': [teacher], 'examples': [examples]},
                             {'teacher_scores': [scores]}, {'top_k': TOP_K})
    return scores


@pytest.fixture(scope='module')
def distilled(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('distiller'))
    examples = testdata.make_examples(root, 30, seed=0, top_classes=20)
    graph = testdata.make_transform_graph(root, examples)
    teacher = testdata.export_teacher(root, graph, 'dbof', 'tiny')
    scores = score(teacher, examples, f'{root}/scores')
    outputs = {'model': testdata.artifact(standard_artifacts.Model, f'{root}/student'),
               'model_run': testdata.artifact(standard_artifacts.ModelRun, f'{root}/run')}
    executor_lib.Executor().Do(
        {'teacher_scores': [scores], 'examples': [examples], 'transform_graph': [graph]},
        {name: [a] for name, a in outputs.items()},
        {'training_config': json.dumps(TrainingConfig(
            # 1 epoch: 24 examples, from the Examples' own count of the train split.
            family=STUDENT[0], preset=STUDENT[1], epochs=1.0, batch_size=8,
            seed=1).to_custom_config()),
         'distillation_lambda': 0.5, 'temperature': 1.0})
    return {'root': root, 'examples': examples, 'graph': graph, 'teacher': teacher,
            'teacher_scores': scores, **outputs}


def _train_records(examples):
    files = scorer_lib.split_files(examples, 'train')
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type='GZIP')]


def test_teacher_store_round_trips_the_teachers_top_k(distilled):
    records = _train_records(distilled['examples'])
    store = scores_lib.load(distilled['teacher_scores'].uri)
    assert len(store) == len(records) and store.top_k == TOP_K
    assert store.classes.dtype == np.int16 and store.scores.dtype == np.float16
    teacher = tf.saved_model.load(path_utils.serving_model_path(distilled['teacher'].uri))
    serve = teacher.signatures['serving_default']
    probabilities = serve(examples=tf.constant(records))[features.PROBABILITIES].numpy()
    ids = teacher.signatures['transform_features'](
        examples=tf.constant(records))[features.VIDEO_ID].numpy()
    # Look up in another order than stored: rows must follow the ids.
    order = np.arange(len(ids))[::-1]
    dense, found = scores_lib.TeacherLookup(store)(tf.constant(ids[order]))
    dense = dense.numpy()
    assert found.numpy().all()
    for row, index in enumerate(order):
        # An untrained teacher ties many classes, so which tied class is kept
        # is not compared: the kept classes' scores are the teacher's, and
        # they are its K highest values.
        kept = np.flatnonzero(dense[row])
        assert len(kept) == TOP_K   # outside the top-K: 0
        np.testing.assert_allclose(dense[row, kept], probabilities[index, kept], rtol=2e-3)
        np.testing.assert_allclose(np.sort(dense[row, kept]),
                                   np.sort(probabilities[index])[-TOP_K:], rtol=2e-3)
    scores = distilled['teacher_scores']
    assert scores.get_int_custom_property('num_videos') == len(records)
    assert scores.get_string_custom_property('teacher_uri') == distilled['teacher'].uri
    assert scores.get_string_custom_property('soft_labels') == "in-sample"


def test_distill_pipeline_yields_mixed_targets_for_the_right_videos(distilled):
    import tensorflow_transform as tft
    records = _train_records(distilled['examples'])[:6]
    output = tft.TFTransformOutput(distilled['graph'].uri)
    layer = output.transform_features_layer()
    from yt8m import reader
    raw = reader.parse_serialized(tf.constant(records))
    store = scores_lib.load(distilled['teacher_scores'].uri)
    lookup = scores_lib.TeacherLookup(store)
    inputs, target = scores_lib.distill_map_fn(layer, lookup, 0.5)(raw)
    transformed = layer(raw)
    labels = transformed[features.LABELS_MULTI_HOT].numpy()
    teacher, _ = lookup(transformed[features.VIDEO_ID])
    np.testing.assert_allclose(target.numpy(), 0.5 * teacher.numpy() + 0.5 * labels, atol=1e-6)
    _, plain = scores_lib.distill_map_fn(layer, lookup, 0.0, draw_frames=None)(raw)
    np.testing.assert_array_equal(plain.numpy(), labels)
    assert inputs[features.FRAMES].shape[1:] == (features.MAX_FRAMES, features.FRAME_SIZE)


def test_student_exports_a_model_that_scores_raw_records(distilled):
    export_dir = path_utils.serving_model_path(distilled['model'].uri)
    loaded = tf.saved_model.load(export_dir)
    assert set(loaded.signatures) == {'serving_default', 'transform_features'}
    records = _train_records(distilled['examples'])[:4]
    out = loaded.signatures['serving_default'](examples=tf.constant(records))
    probabilities = out[features.PROBABILITIES].numpy()
    assert probabilities.shape == (4, features.NUM_CLASSES)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert out[features.TOP_CLASSES].shape == (4, features.TOP_K)


def test_model_run_summary_and_quantizer_can_rebuild_the_student(distilled):
    with open(os.path.join(distilled['model_run'].uri, TRAINING_SUMMARY)) as f:
        summary = json.load(f)
    assert (summary['family'], summary['preset']) == STUDENT
    assert summary['distilled'] and summary['distillation_lambda'] == 0.5
    assert summary['teacher_uri'] == distilled['teacher'].uri
    costs = summary['distillation_costs']
    assert costs['num_videos'] == 24 and costs['teacher_seconds_per_video'] > 0
    assert costs['store_bytes_per_video'] < costs['dense_bytes_per_video']
    assert summary['budget_steps'] == 3 and summary['curve'][-1]['step'] == 3
    assert 'train_loss' in summary['curve'][-1] and 'eval_gap' in summary['curve'][-1]
    from components.quantizer.executor import rebuild_model
    model = rebuild_model(path_utils.serving_model_path(distilled['model'].uri), *STUDENT)
    assert model.count_params() == summary['num_parameters']


@pytest.mark.cluster   # ~20 s of worker processes: scripts/cluster_checks.sh
def test_teacher_scoring_in_separate_worker_processes_gives_the_same_store(distilled, tmp_path):
    """The scoring Beam job with workers in their own processes, as on Dataflow or Flink."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    files = scorer_lib.split_files(distilled['examples'], 'train')
    options = PipelineOptions(['--direct_running_mode=multi_processing',
                               '--direct_num_workers=2'])
    costs = scorer_lib.score_teacher(
        path_utils.serving_model_path(distilled['teacher'].uri), files, TOP_K,
        str(tmp_path), batch_size=8, make_pipeline=lambda: beam.Pipeline(options=options))
    in_memory = scores_lib.load(distilled['teacher_scores'].uri)
    processes = scores_lib.load(str(tmp_path))
    assert costs['num_videos'] == len(in_memory) == len(processes)

    def by_id(store):
        return {i: (c.tolist(), s.tolist()) for i, c, s in zip(store.ids, store.classes,
                                                                store.scores)}
    assert by_id(processes) == by_id(in_memory)


def test_a_student_starts_from_its_members_weights_and_refuses_another_family(distilled):
    """`init_model`: the student (DBoF tiny) starts from a DBoF tiny member's
    exported weights; its start is the first point scored on select; a
    member of another family is refused, naming its folder."""
    root = distilled['root']
    member = testdata.export_teacher(root, distilled['graph'], 'dbof', 'tiny', name='member')

    def distil(family, name):
        outputs = {'model': testdata.artifact(standard_artifacts.Model, f'{root}/{name}'),
                   'model_run': testdata.artifact(standard_artifacts.ModelRun,
                                                  f'{root}/{name}_run')}
        executor_lib.Executor().Do(
            {'teacher_scores': [distilled['teacher_scores']],
             'examples': [distilled['examples']],
             'transform_graph': [distilled['graph']], 'init_model': [member]},
            {key: [a] for key, a in outputs.items()},
            {'training_config': json.dumps(TrainingConfig(
                family=family, preset='tiny', train_examples=16, batch_size=8,
                seed=1).to_custom_config()),
             'distillation_lambda': 0.5, 'temperature': 1.0})
        return outputs

    outputs = distil('dbof', 'warm')
    with open(os.path.join(outputs['model_run'].uri, TRAINING_SUMMARY)) as f:
        summary = json.load(f)
    assert summary['started_from'] == member.uri
    assert outputs['model'].get_string_custom_property('started_from') == member.uri
    start = summary['curve'][0]
    assert start['step'] == 0 and summary['best_eval_gap'] >= start['eval_gap']
    with pytest.raises(ValueError, match=r'member/Format-Serving: its weights do not fit'):
        distil('logistic', 'wrong_family')
