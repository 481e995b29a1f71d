"""GAP@20 of many weighted sums of the same member outputs, exact and cheap.

The weight fit scores hundreds of weight vectors on the same members and
videos. A full evaluation mixes [videos, 3862] scores and partially sorts
every row; at 10,000 videos that is most of a second. Here each video keeps
only the classes that could reach its top 20:

* per member, its `depth` (40) highest-scoring classes and the depth-th
  score b_i: any class outside member i's list scores at most b_i there;
* the video's candidates are the union of those lists (at most
  members x depth classes, ascending ids, so ties still go to the lower id).
  The bound is loose where members disagree (logit averaging of members
  that are unsure in different places): when a call leaves more than
  REBUILD_SHARE of the videos unsettled, the lists are rebuilt twice as
  deep.

A mix with weights w >= 0 gives any class outside the union at most
sum_i w_i b_i. When the 20th best candidate scores above that bound, the
candidates' top 20 *is* the video's top 20; where it does not (rare), the
video's row is mixed and ranked in full. So every value equals what
`eval_util.gap_at_k` of the full mix gives, at about members x depth /
3862 of the work.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from yt8m import eval_util, features

DEPTH = 40
REBUILD_SHARE = 0.05
# Slack on the bound for float32 rounding of the mixed scores.
_RELATIVE_SLACK, _ABSOLUTE_SLACK = 1e-5, 1e-6


def mix(members: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """sum_i w_i x_i in float32, skipping zero weights (the same ops everywhere)."""
    total = np.zeros_like(members[0], dtype=np.float32)
    for weight, member in zip(weights, members):
        if weight:
            total += np.float32(weight) * member
    return total


class MixtureGap:
    """Callable: weights -> exact GAP@k of the weighted sum of `space` (see the module)."""

    def __init__(self, space: Sequence[np.ndarray], labels: np.ndarray,
                 k: int = features.TOP_K, depth: int = DEPTH):
        self.space = [np.asarray(member, dtype=np.float32) for member in space]
        self.labels = np.asarray(labels) > 0
        self.k = k
        self.num_positives = int(self.labels.sum())
        self.full_rows = 0   # videos the bound could not settle, over all calls
        self.calls = 0
        self._build(max(depth, k))

    def _build(self, depth: int) -> None:
        classes = self.space[0].shape[1]
        self.depth = depth = min(depth, classes)
        # Few classes (tests, toy data), or lists this deep: the union is no smaller.
        self.full_only = len(self.space) * depth >= classes
        if self.full_only:
            return
        tops, bounds = [], []
        for member in self.space:
            top = eval_util.top_k_ids(member, depth)
            tops.append(top)
            bounds.append(np.take_along_axis(member, top, axis=1).min(axis=1))
        ids = np.sort(np.concatenate(tops, axis=1), axis=1)
        self.padding = np.zeros(ids.shape, bool)
        self.padding[:, 1:] = ids[:, 1:] == ids[:, :-1]          # repeats of a class
        self.candidates = [np.take_along_axis(member, ids, axis=1) for member in self.space]
        self.relevant = np.take_along_axis(self.labels, ids, axis=1) & ~self.padding
        self.bounds = np.stack(bounds, axis=1).astype(np.float64)   # [videos, members]

    def __call__(self, weights: Sequence[float]) -> float:
        weights = np.asarray(weights, dtype=np.float64)
        self.calls += 1
        if self.full_only:
            self.full_rows += len(self.labels)
            return eval_util.gap_at_k(mix(self.space, weights), self.labels, self.k)
        scores = mix(self.candidates, weights)
        scores[self.padding] = -np.inf
        # GAP pools every video's top k, so their order within a video does
        # not matter: the ids (ties by lower id) without sorting them.
        top = eval_util.top_k_ids(scores, self.k)
        top_scores = np.take_along_axis(scores, top, axis=1)
        top_relevant = np.take_along_axis(self.relevant, top, axis=1)
        bound = self.bounds @ weights
        settled = top_scores.min(axis=1) > bound + _RELATIVE_SLACK * np.abs(bound) + _ABSOLUTE_SLACK
        unsettled = np.flatnonzero(~settled)
        if len(unsettled) > REBUILD_SHARE * len(settled):
            self.calls -= 1
            self._build(2 * self.depth)
            return self(weights)
        if len(unsettled):
            self.full_rows += len(unsettled)
            full = mix([member[unsettled] for member in self.space], weights)
            exact = eval_util.top_k_ids(full, self.k)
            top_scores[unsettled] = np.take_along_axis(full, exact, axis=1)
            top_relevant[unsettled] = np.take_along_axis(self.labels[unsettled], exact, axis=1)
        return eval_util.average_precision(top_scores.ravel(), top_relevant.ravel(),
                                           self.num_positives)
