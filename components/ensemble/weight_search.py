"""Which members go into the ensemble, with which weights, before anything is built.

Weights: 'equal', 'given' (normalised to sum 1) or 'fitted': coordinate
search over the simplex (moves of weight mass between two members, step sizes
shrinking) on cached member predictions of the eval split, maximising GAP@20.
It starts from equal weights and only accepts strict improvements, so the
fitted GAP is never below the equal-weight GAP on the fitting data.

Size: the members' bytes on disk sum to an estimate of the ensemble's, so a
subset "fits" when that sum is under the budget. When all members do not fit,
the subsets that do are ranked: by eval GAP if eval predictions are cached,
else smallest members first (the most members). The executor measures each
written SavedModel, so a few runners-up (MAX_BUILD_ATTEMPTS) are kept in
case the estimate was too low.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from yt8m import eval_util

if TYPE_CHECKING:
    from components.ensemble.eval_cache import EvalCache

logger = logging.getLogger(__name__)

FIT_STEPS = (0.5, 0.25, 0.1, 0.05, 0.02)
MAX_BUILD_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One subset of members with its weights, ready to build and report.

    The GAPs are None unless eval predictions were cached; `fitted_gap` and
    `equal_weights_gap` only for the 'fitted' weighting (then `eval_gap` is
    the fitted GAP).
    """

    names: Tuple[str, ...]  # chosen members, in input order
    weights: Tuple[float, ...]  # one per name, >= 0, summing to 1
    member_bytes: int  # sum of the chosen members' sizes: the size estimate
    reason: str  # why this subset; the report's `choice_reason`
    eval_gap: Optional[float] = None  # GAP@20 of these weights on the eval cache
    fitted_gap: Optional[float] = None
    equal_weights_gap: Optional[float] = None

    def scores(self) -> Dict[str, float]:
        """The known GAPs under their report keys, in the report's order."""
        scores = {'fitted_gap': self.fitted_gap, 'equal_weights_gap': self.equal_weights_gap,
                  'eval_gap': self.eval_gap}
        return {key: value for key, value in scores.items() if value is not None}


# ---------------------------------------------------------------- weights

def normalise(weights: Sequence[float]) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f'weights must be finite and >= 0, got {weights.tolist()}')
    if weights.sum() <= 0:
        raise ValueError(f'weights must not all be 0, got {weights.tolist()}')
    return weights / weights.sum()


def combine(predictions: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    total = np.zeros_like(predictions[0], dtype=np.float32)
    for weight, member in zip(weights, predictions):
        total += np.float32(weight) * member
    return total


def fit_weights(predictions: Sequence[np.ndarray], labels: np.ndarray,
                steps: Sequence[float] = FIT_STEPS, max_rounds: int = 20
                ) -> Tuple[np.ndarray, float, float]:
    """Coordinate search on the simplex maximising GAP@20.

    Returns (weights, fitted GAP, equal-weight GAP). A move transfers
    `min(step, w_j)` of weight from member j to member i; it is accepted only
    if GAP strictly improves, so the result is never worse than equal weights.
    """
    count = len(predictions)
    weights = np.full(count, 1.0 / count)
    equal_gap = best_gap = eval_util.gap_at_k(combine(predictions, weights), labels)
    if count == 1:
        return weights, best_gap, equal_gap
    for step in steps:
        for _ in range(max_rounds):
            improved = False
            for i, j in itertools.permutations(range(count), 2):
                amount = min(step, weights[j])
                if amount <= 0:
                    continue
                candidate = weights.copy()
                candidate[i] += amount
                candidate[j] -= amount
                gap = eval_util.gap_at_k(combine(predictions, candidate), labels)
                if gap > best_gap + 1e-12:
                    weights, best_gap, improved = candidate, gap, True
            if not improved:
                break
    weights = np.clip(weights, 0.0, None)
    return weights / weights.sum(), best_gap, equal_gap


def weigh(names: Tuple[str, ...], sizes: Mapping[str, int], weighting: str,
          given: Optional[Mapping[str, float]], cache: Optional[EvalCache],
          reason: str = '') -> Candidate:
    """The subset's weights (and its GAPs when `cache` is given)."""
    gaps: Dict[str, float] = {}
    if weighting == 'given':
        weights = normalise([given[n] for n in names])
    elif weighting == 'fitted':
        weights, fitted, equal = fit_weights(cache.of(names), cache.labels)
        gaps.update(fitted_gap=float(fitted), equal_weights_gap=float(equal),
                    eval_gap=float(fitted))
    else:
        weights = np.full(len(names), 1.0 / len(names))
    if cache is not None and 'eval_gap' not in gaps:
        gaps['eval_gap'] = float(eval_util.gap_at_k(combine(cache.of(names), weights),
                                                    cache.labels))
    return Candidate(names=names, weights=tuple(float(w) for w in weights),
                     member_bytes=sum(sizes[n] for n in names), reason=reason, **gaps)


# ---------------------------------------------------------------- subsets

def rank_candidates(names: Sequence[str], sizes: Mapping[str, int], budget: int,
                    weighting: str, given: Optional[Mapping[str, float]],
                    cache: Optional[EvalCache]) -> List[Candidate]:
    """What to build, best first: all members if they fit, else the
    MAX_BUILD_ATTEMPTS best subsets whose members' bytes fit the budget."""
    names = tuple(names)
    if sum(sizes[n] for n in names) < budget:
        return [weigh(names, sizes, weighting, given, cache, 'all members fit the budget')]
    fitting = fitting_subsets(names, sizes, budget)
    if cache is None:
        first = greedy_smallest_first(names, sizes, budget)
        ordered = ([first] + [s for s in fitting if s != first])[:MAX_BUILD_ATTEMPTS]
        reason = ('over budget; no eval examples, so the smallest members first '
                  '(most members that fit)')
        return [weigh(subset, sizes, weighting, given, None, reason) for subset in ordered]
    scored = []
    for subset in fitting:
        scored.append(weigh(subset, sizes, weighting, given, cache))
        logger.info('Subset %s: eval GAP %.5f', subset, scored[-1].eval_gap)
    # Ties on GAP: more members, then fewer bytes; sort is stable for the rest.
    scored.sort(key=lambda c: (c.eval_gap, len(c.names), -c.member_bytes), reverse=True)
    return [dataclasses.replace(c, reason=f'over budget; best eval GAP ({c.eval_gap:.5f}) '
                                          f'among {len(fitting)} subsets that fit')
            for c in scored[:MAX_BUILD_ATTEMPTS]]


def fitting_subsets(names: Sequence[str], sizes: Dict[str, int], budget: int
                    ) -> List[Tuple[str, ...]]:
    """Every non-empty subset whose members' bytes sum under the budget."""
    subsets = []
    for count in range(len(names), 0, -1):
        for subset in itertools.combinations(names, count):
            if sum(sizes[n] for n in subset) < budget:
                subsets.append(subset)
    return subsets


def greedy_smallest_first(names: Sequence[str], sizes: Dict[str, int], budget: int
                          ) -> Tuple[str, ...]:
    """Without eval data to judge quality, keep as many members as fit."""
    chosen, total = [], 0
    for name in sorted(names, key=lambda n: (sizes[n], names.index(n))):
        if total + sizes[name] < budget:
            chosen.append(name)
            total += sizes[name]
    return tuple(n for n in names if n in chosen)


# ---------------------------------------------------------------- size messages

def size_table(names: Sequence[str], sizes: Dict[str, int]) -> str:
    return ', '.join(f'{name}={sizes[name]:,} B' for name in names)


def over_budget_message(names: Sequence[str], sizes: Dict[str, int], total: int,
                        budget: int, what: str = 'estimated from members') -> str:
    return (f'Ensemble over the size budget: {total:,} bytes ({what}) > budget '
            f'{budget:,} bytes. Members: {size_table(names, sizes)}. '
            f'Drop members, quantize them, or set choose_subset=True.')
