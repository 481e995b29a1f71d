"""GAP@k, Hit@1 and PERR on hand-computed cases."""

import itertools

import numpy as np
import pytest

from yt8m import eval_util


def _ap_in_order(relevant_in_order, num_positives):
    hits, total = 0, 0.0
    for i, rel in enumerate(relevant_in_order, start=1):
        if rel:
            hits += 1
            total += hits / i
    return total / num_positives


def test_gap_hand_computed():
    # Two videos, three classes, k=2.
    predictions = np.array([[0.9, 0.1, 0.5],
                            [0.2, 0.8, 0.3]])
    labels = np.array([[1, 0, 0],
                       [0, 0, 1]])
    # Pooled top-2 pairs by score: 0.9 (rel), 0.8 (no), 0.5 (no), 0.3 (rel).
    # AP = (1/1 + 2/4) / 2 = 0.75
    assert eval_util.gap_at_k(predictions, labels, k=2) == pytest.approx(0.75)


def test_gap_counts_labels_outside_top_k():
    predictions = np.array([[0.9, 0.8, 0.1]])
    labels = np.array([[1, 0, 1]])       # class 2 never reaches the top 2
    # Only 0.9 (rel) and 0.8 (no) pooled; N = 2 -> (1/1) / 2
    assert eval_util.gap_at_k(predictions, labels, k=2) == pytest.approx(0.5)


def test_gap_video_without_labels_only_adds_false_pairs():
    predictions = np.array([[0.9, 0.1], [0.95, 0.05]])
    labels = np.array([[1, 0], [0, 0]])
    # Pooled: 0.95 (no), 0.9 (rel), 0.1 (no), 0.05 (no); N = 1 -> 1/2
    assert eval_util.gap_at_k(predictions, labels, k=2) == pytest.approx(0.5)
    assert eval_util.gap_at_k(np.zeros((1, 3)), np.zeros((1, 3))) == 0.0


def test_gap_ties_equal_mean_over_all_orders():
    scores = np.array([0.7, 0.5, 0.5, 0.5, 0.2])
    relevant = np.array([0, 1, 0, 1, 1], bool)
    tied = [1, 2, 3]
    orders = [[0, *perm, 4] for perm in itertools.permutations(tied)]
    expected = np.mean([_ap_in_order(relevant[list(o)], 4) for o in orders])
    assert eval_util.average_precision(scores, relevant, 4) == pytest.approx(expected)


def test_gap_does_not_depend_on_video_order_or_batching():
    rng = np.random.default_rng(0)
    predictions = rng.random((50, 30)).round(1)      # many ties
    labels = (rng.random((50, 30)) < 0.1).astype(int)
    whole = eval_util.gap_at_k(predictions, labels)
    order = rng.permutation(50)
    left, right = eval_util.GapAccumulator(), eval_util.GapAccumulator()
    left.add(predictions[order[:20]], labels[order[:20]])
    right.add(predictions[order[20:]], labels[order[20:]])
    assert right.merge(left).result() == pytest.approx(whole)


def test_perfect_predictions_give_gap_one():
    labels = np.eye(5)[[0, 3, 4]]
    assert eval_util.gap_at_k(labels * 0.9 + 0.05, labels) == pytest.approx(1.0)


def test_hit_at_one():
    predictions = np.array([[0.1, 0.9], [0.6, 0.4], [0.5, 0.5], [0.3, 0.2]])
    labels = np.array([[0, 1], [0, 1], [1, 0], [0, 0]])
    # hit, miss, tie broken by lower id -> class 0 -> hit, no labels -> miss
    assert eval_util.hit_at_one(predictions, labels) == pytest.approx(0.5)


def test_perr():
    predictions = np.array([[0.9, 0.8, 0.1, 0.0],
                            [0.1, 0.2, 0.3, 0.4],
                            [0.5, 0.5, 0.5, 0.5]])
    labels = np.array([[1, 0, 1, 0],    # top-2 = {0, 1}: 1/2
                       [0, 0, 0, 1],    # top-1 = {3}: 1
                       [0, 0, 0, 0]])   # no labels: not averaged
    assert eval_util.precision_at_equal_recall_rate(predictions, labels) == pytest.approx(0.75)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match='same shape'):
        eval_util.gap_at_k(np.zeros((2, 3)), np.zeros((2, 4)))


def test_the_partial_sort_picks_what_a_stable_full_sort_picks():
    """top_k_by_video picks exactly what a stable argsort of -score cut at k picks."""
    rng = np.random.default_rng(0)
    for scores in (rng.random((50, 3862), dtype=np.float32),
                   np.round(rng.random((50, 400)), 1),        # many ties at the k-th place
                   np.zeros((3, 100)), np.eye(30)[:5]):
        for k in (1, 5, 20):
            expected = np.argsort(-scores, axis=1, kind='stable')[:, :k]
            np.testing.assert_array_equal(eval_util.top_k_by_video(scores, k), expected)


def test_the_mixture_gap_equals_the_full_gap_of_every_mix():
    """components/ensemble/mixture_gap.py ranks each video's top-40 candidates only:
    it must give exactly the full computation's GAP, ties and settled bounds alike."""
    from components.ensemble.mixture_gap import MixtureGap, mix
    rng = np.random.default_rng(3)
    labels = (rng.random((300, 500)) < 0.01).astype(np.float32)
    members = [rng.random((300, 500), dtype=np.float32) + 2 * labels * rng.random(),
               np.round(rng.random((300, 500)), 1).astype(np.float32),    # ties
               rng.random((300, 500), dtype=np.float32) ** 8]             # a flat tail
    gap = MixtureGap(members, labels, depth=40)
    for weights in ([1, 0, 0], [0, 1, 0], [0.2, 0.3, 0.5], [0.7, 0.0, 0.3], [0, 0, 1]):
        assert gap(weights) == pytest.approx(eval_util.gap_at_k(mix(members, weights), labels),
                                             abs=1e-12), weights
    assert gap.calls == 5 and gap.full_rows > 0     # the fallback ran and agreed


def test_tfma_labels_become_multi_hot_from_class_ids_or_stay_as_given():
    from components.tfma_metrics import multi_hot
    assert multi_hot(np.array([2, 0]), 4).tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert multi_hot(np.array([], np.int64), 3).tolist() == [[0.0, 0.0, 0.0]]   # unlabelled video
    assert multi_hot(None, 2).tolist() == [[0.0, 0.0]]
    assert multi_hot(np.array([0.0, 1.0, 0.0], np.float32), 3).tolist() == [[0.0, 1.0, 0.0]]
    assert multi_hot(np.array([1, 1]), 3).tolist() == [[0.0, 1.0, 0.0]]      # repeated id
