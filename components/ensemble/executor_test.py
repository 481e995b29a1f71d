"""EnsembleBuilder executor on three tiny exported models (logistic, dbof, netvlad)."""

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

from components import artifact_files, io_utils
from components.ensemble import executor, weight_search
from models.registry import build_model
from tests.records import make_record
from trainer.export import export_serving_model
from trainer.preprocessing import transform_videos
from yt8m import eval_util, features

FAMILIES = ('logistic', 'dbof', 'netvlad')
NAMES = ['logistic', 'dbof', 'netvlad']


def _records(count, seed):
    rng = np.random.default_rng(seed)
    return [make_record(f'v{seed}_{i}'.encode(),
                        labels=tuple(sorted(set(rng.integers(0, 40, 3).tolist()))),
                        num_frames=int(rng.integers(1, 6)), seed=seed * 1000 + i)
            for i in range(count)]


@pytest.fixture(scope='module')
def members(tmp_path_factory):
    root = tmp_path_factory.mktemp('members')
    artifacts = []
    for seed, family in enumerate(FAMILIES):
        keras.utils.set_random_seed(seed)
        artifact = standard_artifacts.Model()
        artifact.uri = str(root / family)
        export_serving_model(build_model(family, "tiny"), transform_videos,
                             os.path.join(artifact.uri, 'Format-Serving'))
        artifacts.append(artifact)
    return artifacts


@pytest.fixture(scope='module')
def examples(tmp_path_factory):
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path_factory.mktemp('examples'))
    os.makedirs(os.path.join(artifact.uri, 'Split-select'))
    path = os.path.join(artifact.uri, 'Split-select', 'data_tfrecord-00000-of-00001.gz')
    with tf.io.TFRecordWriter(path, options='GZIP') as writer:
        for record in _records(48, seed=7):
            writer.write(record)
    return artifact


def _sizes(members):
    return {n: io_utils.tree_bytes(os.path.join(m.uri, 'Format-Serving'))
            for n, m in zip(NAMES, members)}


def _run(tmp_path, members, examples=None, **properties):
    output = standard_artifacts.Model()
    output.uri = str(tmp_path / 'ensemble')
    os.makedirs(output.uri)
    inputs = {executor.model_key(i): [m] for i, m in enumerate(members)}
    if examples is not None:
        inputs[executor.EXAMPLES_KEY] = [examples]
    props = {'member_names': json.dumps(NAMES[:len(members)]), 'weighting': 'equal',
             'size_budget_bytes': executor.DEFAULT_BUDGET, 'choose_subset': 0,
             'max_fit_examples': 1000, **properties}
    executor.Executor().Do(inputs, {executor.OUTPUT_KEY: [output]}, props)
    with open(os.path.join(output.uri, artifact_files.ENSEMBLE_REPORT)) as f:
        return output, json.load(f)


def _serve(model_dir, records):
    outputs = tf.saved_model.load(model_dir).signatures['serving_default'](
        examples=tf.constant(records))
    return {k: v.numpy() for k, v in outputs.items()}


def test_output_is_weighted_average_of_members(tmp_path, members):
    output, report = _run(tmp_path, members, weighting='given', weights='[1, 2, 5]')
    weights = np.array([1, 2, 5]) / 8
    assert report['weights'] == pytest.approx(dict(zip(NAMES, weights)))
    assert report['chosen_subset'] == NAMES and report['dropped'] == []
    assert report['ensemble_bytes'] < report['size_budget_bytes']
    records = _records(5, seed=1)
    # Plain tf.saved_model.load of the one ensemble graph scores raw records.
    ensemble_dir = os.path.join(output.uri, 'Format-Serving')
    got = _serve(ensemble_dir, records)
    expected = sum(w * _serve(os.path.join(m.uri, 'Format-Serving'), records)[
        features.PROBABILITIES] for w, m in zip(weights, members))
    assert got[features.PROBABILITIES].shape == (5, features.NUM_CLASSES)
    np.testing.assert_allclose(got[features.PROBABILITIES], expected, atol=1e-5)
    assert got[features.TOP_CLASSES].shape == (5, features.TOP_K)
    np.testing.assert_allclose(
        got[features.TOP_SCORES],
        np.take_along_axis(expected, got[features.TOP_CLASSES], axis=1), atol=1e-5)
    transformed = tf.saved_model.load(ensemble_dir).signatures['transform_features'](
        examples=tf.constant(records))
    assert transformed[features.LABELS_MULTI_HOT].shape == (5, features.NUM_CLASSES)
    assert json.loads(output.get_string_custom_property('ensemble_weights')) == \
        pytest.approx(dict(zip(NAMES, weights)))
    assert output.get_int_custom_property('ensemble_bytes') == io_utils.tree_bytes(ensemble_dir)
    assert not os.path.exists(os.path.join(output.uri, executor.STAGING_DIR))


def test_over_budget_fails_naming_members_and_sizes(tmp_path, members):
    sizes = _sizes(members)
    with pytest.raises(ValueError) as error:
        _run(tmp_path, members, size_budget_bytes=1000)
    message = str(error.value)
    assert 'over the size budget' in message and '1,000' in message
    assert f'{sum(sizes.values()):,}' in message
    for name, size in sizes.items():
        assert f'{name}={size:,} B' in message
    # Nothing that looks like a model is left behind.
    assert os.listdir(tmp_path / 'ensemble') == []


def test_choose_subset_without_examples_keeps_smallest_members(tmp_path, members):
    sizes = _sizes(members)
    smallest = sorted(NAMES, key=sizes.get)[:2]
    budget = sizes[smallest[0]] + sizes[smallest[1]] + 200_000
    assert budget < sum(sizes.values())
    output, report = _run(tmp_path, members, size_budget_bytes=budget, choose_subset=1)
    assert sorted(report['chosen_subset']) == sorted(smallest)
    assert 'smallest members first' in report['choice_reason']
    assert report['ensemble_bytes'] < budget
    assert io_utils.tree_bytes(os.path.join(output.uri, 'Format-Serving')) < budget
    assert sum(report['weights'].values()) == pytest.approx(1.0)


def test_fitted_weights_and_subset_by_eval_gap(tmp_path, members, examples):
    sizes = _sizes(members)
    # Budget for the two largest only: forces a GAP-based choice among subsets.
    budget = sum(sorted(sizes.values())[-2:]) + 200_000
    output, report = _run(tmp_path, members, examples, weighting='fitted',
                          size_budget_bytes=budget, choose_subset=1)
    weights = np.array(list(report['weights'].values()))
    assert weights.sum() == pytest.approx(1.0) and np.all(weights >= 0)
    assert report['combination'] in ('probability', 'logit')
    assert report['ensemble_bytes'] < budget
    assert 'best eval GAP' in report['choice_reason']
    # The saved ensemble reproduces the reported GAP on the fitting data.
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        tf.io.gfile.glob(os.path.join(examples.uri, 'Split-select', '*')), compression_type='GZIP')]
    ensemble_dir = os.path.join(output.uri, 'Format-Serving')
    labels = tf.saved_model.load(ensemble_dir).signatures['transform_features'](
        examples=tf.constant(records))[features.LABELS_MULTI_HOT].numpy()
    predictions = _serve(ensemble_dir, records)[features.PROBABILITIES]
    assert eval_util.gap_at_k(predictions, labels) == pytest.approx(report['eval_gap'], abs=1e-6)
    assert output.get_float_custom_property('ensemble_eval_gap') == pytest.approx(
        report['eval_gap'])


def _two_groups(first: int, second: int):
    """Two members and one-label videos whose best mix lies strictly inside (0.6, 0.7).

    Group 1 (`first` videos) ranks its label over a decoy when w_a > 0.6
    (margins +2 for a, -3 for b); group 2 when w_a < 0.7 (margins -3 and +7).
    The old search, from (0.5, 0.5) in steps of 0.5, 0.25, 0.1, ..., jumped to
    (1, 0) and never came back inside.
    """
    videos, classes = first + second, 2 * (first + second)
    labels = np.zeros((videos, classes), np.float32)
    a = np.zeros((videos, classes), np.float32)
    b = np.zeros((videos, classes), np.float32)
    for v in range(videos):
        label, decoy = 2 * v, 2 * v + 1
        labels[v, label] = 1
        margin_a, margin_b = (2, -3) if v < first else (-3, 7)
        a[v, label], a[v, decoy] = 10 + margin_a, 10
        b[v, label], b[v, decoy] = 10 + margin_b, 10
    return [a, b], labels


def test_the_weight_search_finds_an_interior_optimum():
    predictions, labels = _two_groups(first=30, second=20)
    weights, fitted, equal = weight_search.fit_weights(predictions, labels)
    assert 0.6 < weights[0] < 0.7 and weights.sum() == pytest.approx(1.0)
    # Both groups rank their label first at the fitted mix, only group 2 at equal weights.
    assert fitted == pytest.approx(1.0) and equal < 0.9
    # Ties go towards equal weights: the plateau's edge nearest to 0.5.
    assert weights[0] == pytest.approx(0.61)
    # Three members: the grid over the simplex finds the mix with a useless third.
    noise = np.random.default_rng(0).random(labels.shape).astype(np.float32) * 10
    weights3, fitted3, _ = weight_search.fit_weights([*predictions, noise], labels)
    assert fitted3 == pytest.approx(1.0) and weights3[2] < 0.2


def test_logit_averaging_lets_a_confident_member_outvote_unsure_ones():
    labels = np.array([[1, 0], [0, 1]], np.float32)
    confident = np.array([[0.999, 0.001], [0.001, 0.999]], np.float32)
    unsure = np.array([[0.2, 0.8], [0.8, 0.2]], np.float32)    # wrong, but unsure
    members = [confident, unsure, unsure]
    by_probability = eval_util.gap_at_k(weight_search.combine(members, [1 / 3] * 3), labels)
    by_logit = eval_util.gap_at_k(weight_search.combine(members, [1 / 3] * 3, 'logit'), labels)
    assert by_logit == pytest.approx(1.0) and by_probability < 0.5
    # The fit tries both and keeps the better (ties: probability averaging).
    combination, weights, fitted, _ = weight_search.fit_combination(members, labels)
    assert fitted == pytest.approx(1.0) and combination in weight_search.COMBINATIONS
    # One member through logit averaging is that member.
    np.testing.assert_allclose(weight_search.combine([confident], [1.0], 'logit'), confident,
                               atol=1e-5)


def test_subset_helpers():
    sizes = {'a': 50, 'b': 10, 'c': 30}
    assert weight_search.greedy_smallest_first(['a', 'b', 'c'], sizes, 45) == ('b', 'c')
    assert weight_search.fitting_subsets(['a', 'b', 'c'], sizes, 45) == [('b', 'c'), ('b',), ('c',)]
    with pytest.raises(ValueError):
        weight_search.normalise([1, -1])


def test_the_saved_graph_averages_logits_as_the_fit_did(members):
    from components.ensemble.serving import EnsembleModule
    records = [make_record(f'v{i}'.encode(), seed=i) for i in range(6)]
    loaded = [tf.saved_model.load(os.path.join(m.uri, 'Format-Serving')) for m in members[:2]]
    singles = [m.signatures['serving_default'](examples=tf.constant(records))[
        features.PROBABILITIES].numpy() for m in loaded]
    module = EnsembleModule(loaded, [0.3, 0.7], combination='logit')   # the graph save_ensemble saves
    served = module.serve(tf.constant(records))[features.PROBABILITIES].numpy()
    np.testing.assert_allclose(served, weight_search.combine(singles, [0.3, 0.7], 'logit'),
                               atol=1e-5)


def test_forward_selection_finds_the_mix_and_leaves_out_useless_members():
    """More than three members: the bag of greedy picks (Caruana et al. 2004)."""
    (a, b), labels = _two_groups(first=30, second=20)
    rng = np.random.default_rng(1)
    noise = [rng.random(labels.shape).astype(np.float32) * 10 for _ in range(2)]
    weights, fitted, equal = weight_search.fit_weights([a, b, *noise], labels)
    assert fitted == pytest.approx(1.0) and equal < fitted
    assert 0.6 < weights[0] / (weights[0] + weights[1]) < 0.7
    np.testing.assert_array_equal(weights[2:], 0.0)
    assert weights.sum() == pytest.approx(1.0)


def test_forward_selection_picks_the_best_subset_that_fits():
    """Over budget, the useful pair is kept; smallest-first would have kept the noise."""
    from components.ensemble.eval_cache import EvalCache
    (a, b), labels = _two_groups(first=30, second=20)
    noise = np.random.default_rng(2).random(labels.shape).astype(np.float32) * 10
    cache = EvalCache(labels=labels, predictions={'a': a, 'b': b, 'noise': noise})
    sizes = {'a': 10, 'b': 10, 'noise': 5}
    (fitted, *_) = weight_search.rank_candidates(['a', 'b', 'noise'], sizes, 21, 'fitted',
                                                 None, cache)
    assert fitted.names == ('a', 'b')
    assert 'forward selection on the select split' in fitted.reason
    assert fitted.eval_gap == pytest.approx(1.0) and 0.6 < fitted.weights[0] < 0.7
    assert weight_search.greedy_smallest_first(['a', 'b', 'noise'], sizes, 21) != ('a', 'b')
    # With equal weights the pair ranks only group 2 (w_a = 0.5 < 0.6): `a` alone is
    # better, and adding the pair or the noise is no gain.
    (equal, *_) = weight_search.rank_candidates(['a', 'b', 'noise'], sizes, 21, 'equal',
                                                None, cache)
    assert equal.names == ('a',) and equal.eval_gap < fitted.eval_gap
