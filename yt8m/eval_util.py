"""Video-level metrics of YouTube-8M: GAP@k, Hit@1 and PERR.

Definitions follow the official evaluation (youtube-8m `eval_util.py`,
`average_precision_calculator.py`):

* GAP@k (global average precision): keep each video's k highest-scoring
  (class, score) pairs, pool the pairs of all videos, sort them by score and
  compute  sum_i precision(i) * rel(i) / N,  where rel(i) is 1 when pair i is a
  true label of its video and N counts every true label of every video,
  including labels that never reach a top k.
* Hit@1: fraction of videos whose top-scoring class is one of its labels.
* PERR (precision at equal recall rate): for a video with m labels, the
  fraction of its m top-scoring classes that are labels, averaged over videos
  that have labels.

Ties. The official code shuffles the pooled pairs with a fixed seed before a
stable sort, so tied scores are ordered at random. Here a run of tied scores
contributes its *expected* precision under a uniformly random order, computed
in closed form. That is the value the official shuffle estimates, and it makes
the metric independent of the order in which videos arrive, which a Beam
combiner that merges partial results in any order needs to be exact.
Within one video, ties at the k-th place are broken by lower class id.
"""

from __future__ import annotations

import numpy as np

from yt8m import features


def top_k_ids(predictions: np.ndarray, k: int) -> np.ndarray:
    """The ids of each row's k highest scores, in ascending id order, ties by lower id.

    Linear in the classes: each row's k-th highest score comes from a
    partition; the ids above it are taken, and the lowest ids equal to it
    fill the remaining places (rows with such ties are rare; only they get a
    running count).
    """
    predictions = np.asarray(predictions)
    rows, classes = predictions.shape
    kth = np.partition(predictions, classes - k, axis=1)[:, classes - k:classes - k + 1]
    chosen = predictions > kth
    at_kth = predictions == kth
    room = k - np.count_nonzero(chosen, axis=1)
    crowded = np.flatnonzero(np.count_nonzero(at_kth, axis=1) > room)
    if len(crowded):
        at_kth[crowded] &= np.cumsum(at_kth[crowded], axis=1) <= room[crowded, None]
    chosen |= at_kth
    return np.nonzero(chosen)[1].reshape(rows, k)


def top_k_by_video(predictions: np.ndarray, k: int = features.TOP_K) -> np.ndarray:
    """Class ids of each row's k highest scores, highest first, ties by lower id.

    Exactly a stable sort of -score cut at k, without sorting the row: the k
    ids come from `top_k_ids` and only those k are sorted. The ensemble's
    weight fit computes a GAP for every weight vector it tries.
    """
    predictions = np.asarray(predictions)
    rows, classes = predictions.shape
    k = min(k, classes)
    if k == 0 or rows == 0:
        return np.zeros((rows, k), dtype=np.int64)
    if 4 * k >= classes:
        # A stable sort of -score keeps lower class ids first among equal scores.
        return np.argsort(-predictions, axis=1, kind='stable')[:, :k]
    ids = top_k_ids(predictions, k)
    top = np.take_along_axis(predictions, ids, axis=1)
    # Highest score first; among equal scores the lower id (lexsort's last key leads).
    order = np.lexsort((ids, -top), axis=1)
    return np.take_along_axis(ids, order, axis=1)


def _tie_group_precision(num_above: int, positives_above: int,
                         group_size: int, group_positives: int) -> float:
    """Expected sum of precision(i) over the relevant pairs of one tie group.

    The group holds `group_size` pairs, `group_positives` of them relevant, in a
    uniformly random order after `num_above` pairs of which `positives_above`
    are relevant. A relevant pair sits at position j (1-based) with probability
    1/group_size and then has, in expectation, (j-1)(r-1)/(m-1) other relevant
    pairs before it inside the group.
    """
    m, r = group_size, group_positives
    if r == 0:
        return 0.0
    j = np.arange(1, m + 1, dtype=np.float64)
    others_before = (j - 1) * (r - 1) / (m - 1) if m > 1 else np.zeros_like(j)
    precision = (positives_above + 1 + others_before) / (num_above + j)
    return float(r * precision.mean())


def average_precision(scores: np.ndarray, relevant: np.ndarray, num_positives: int) -> float:
    """Average precision of pooled (score, relevant) pairs, ties in expectation."""
    if num_positives <= 0:
        return 0.0
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    order = np.argsort(-scores, kind='stable')
    scores, relevant = scores[order], relevant[order]
    # Boundaries of runs of equal scores.
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])
    ends = np.r_[starts[1:], len(scores)]
    positives_before = np.r_[0, np.cumsum(relevant)]
    group_positives = positives_before[ends] - positives_before[starts]
    sizes = ends - starts
    # An untied relevant pair at position start (0-based) has precision
    # (relevant pairs above it + 1) / (start + 1); runs of ties, rarer, are
    # taken one by one.
    single = (sizes == 1) & (group_positives > 0)
    total = float(np.sum((positives_before[starts[single]] + 1.0) / (starts[single] + 1.0)))
    for start, end, positives in zip(starts[sizes > 1], ends[sizes > 1],
                                     group_positives[sizes > 1]):
        if positives:
            total += _tie_group_precision(int(start), int(positives_before[start]),
                                          int(end - start), int(positives))
    return total / num_positives


class GapAccumulator:
    """Streaming, mergeable state for an exact GAP@k.

    Keeps only each video's top-k scores (float32) and whether each is a true
    label (bool), plus the count of true labels: 5*k bytes per video, about
    100 MB for a million videos at k=20, instead of the [videos, 3862] scores.
    """

    def __init__(self, k: int = features.TOP_K):
        self.k = k
        self._scores: list[np.ndarray] = []
        self._relevant: list[np.ndarray] = []
        self.num_positives = 0
        self.num_videos = 0

    def add(self, predictions: np.ndarray, labels: np.ndarray) -> None:
        """Adds a batch: predictions [videos, classes], labels multi-hot alike."""
        predictions = np.asarray(predictions, dtype=np.float32)
        labels = np.asarray(labels) > 0
        if predictions.shape != labels.shape:
            raise ValueError(f'predictions {predictions.shape} and labels '
                             f'{labels.shape} must have the same shape')
        top = top_k_by_video(predictions, self.k)
        self._scores.append(np.take_along_axis(predictions, top, axis=1).ravel())
        self._relevant.append(np.take_along_axis(labels, top, axis=1).ravel())
        self.num_positives += int(labels.sum())
        self.num_videos += predictions.shape[0]

    def merge(self, other: 'GapAccumulator') -> 'GapAccumulator':
        self._scores.extend(other._scores)
        self._relevant.extend(other._relevant)
        self.num_positives += other.num_positives
        self.num_videos += other.num_videos
        return self

    def compact(self) -> None:
        """Joins the stored chunks into one array each (cheaper to pickle)."""
        if len(self._scores) > 1:
            self._scores = [np.concatenate(self._scores)]
            self._relevant = [np.concatenate(self._relevant)]

    def result(self) -> float:
        if not self._scores:
            return 0.0
        return average_precision(np.concatenate(self._scores),
                                 np.concatenate(self._relevant), self.num_positives)


def gap_at_k(predictions: np.ndarray, labels: np.ndarray, k: int = features.TOP_K) -> float:
    """GAP@k of a batch of videos (see the module docstring)."""
    accumulator = GapAccumulator(k)
    accumulator.add(predictions, labels)
    return accumulator.result()


def hit_at_one(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of videos whose top class (ties: lower id) is a true label."""
    predictions, labels = np.asarray(predictions), np.asarray(labels) > 0
    if predictions.shape[0] == 0:
        return 0.0
    top = top_k_by_video(predictions, 1)[:, 0]
    return float(labels[np.arange(len(top)), top].mean())


def precision_at_equal_recall_rate(predictions: np.ndarray, labels: np.ndarray) -> float:
    """PERR: precision of each video's top-m classes, m = its number of labels."""
    predictions, labels = np.asarray(predictions), np.asarray(labels) > 0
    counts = labels.sum(axis=1)
    ranked = top_k_by_video(predictions, predictions.shape[1])
    precisions = [labels[row, ranked[row, :m]].mean()
                  for row, m in enumerate(counts) if m > 0]
    return float(np.mean(precisions)) if precisions else 0.0
