"""Which members go into the ensemble, with which weights, before anything is built.

Weights: 'equal', 'given' (normalised to sum 1) or 'fitted', on cached
member predictions, maximising GAP@20. GAP is a step function of the
weights (it depends on rankings only), so the fit searches instead of
descending:
- up to three members: every point of a grid over the simplex (steps of
  0.01 for two members, 0.05 for three), so an interior mix is found
  wherever it lies;
- more members: the simplex's corners, its centre and 200 seeded Dirichlet
  draws, then moves of weight mass between two members around the best.
Among equally good weights, the ones closest to equal weights win: a
plateau's edge is fitted to the videos at hand, its middle generalises.

The fit is run for two ways of averaging, and the better one is kept:
- the members' probabilities;
- their logits, squashed back through a sigmoid. Logit averaging lets one
  confident member outvote several unsure ones.

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

REFINE_STEPS = (0.1, 0.05, 0.02)
GRID_DIVISIONS = {2: 100, 3: 20}   # members -> grid steps per unit weight
RANDOM_STARTS = 200
MAX_BUILD_ATTEMPTS = 3
COMBINATIONS = ('probability', 'logit')
_EPSILON = 1e-6


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
    combination: str = 'probability'  # how member outputs are averaged (COMBINATIONS)

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


def logits(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities, _EPSILON, 1 - _EPSILON).astype(np.float64)
    return (np.log(clipped) - np.log1p(-clipped)).astype(np.float32)


def combine(predictions: Sequence[np.ndarray], weights: Sequence[float],
            combination: str = 'probability') -> np.ndarray:
    """The ensemble's probabilities: a weighted mean of probabilities or of logits."""
    if combination not in COMBINATIONS:
        raise ValueError(f'unknown combination {combination!r}; use one of {COMBINATIONS}')
    members = predictions if combination == 'probability' else [logits(p) for p in predictions]
    total = np.zeros_like(members[0], dtype=np.float32)
    for weight, member in zip(weights, members):
        total += np.float32(weight) * member
    if combination == 'logit':
        total = (1.0 / (1.0 + np.exp(-total))).astype(np.float32)
    return total


def simplex_grid(count: int, divisions: int) -> np.ndarray:
    """Every weight vector of `count` members in steps of 1/divisions."""
    points = [np.array(p + (divisions - sum(p),), dtype=np.float64) / divisions
              for p in itertools.product(range(divisions + 1), repeat=count - 1)
              if sum(p) <= divisions]
    return np.stack(points)


def _starts(count: int, seed: int = 0) -> np.ndarray:
    if count in GRID_DIVISIONS:
        return simplex_grid(count, GRID_DIVISIONS[count])
    rng = np.random.default_rng(seed)
    return np.concatenate([np.eye(count), np.full((1, count), 1.0 / count),
                           rng.dirichlet(np.ones(count), RANDOM_STARTS)])


def fit_weights(predictions: Sequence[np.ndarray], labels: np.ndarray,
                combination: str = 'probability') -> Tuple[np.ndarray, float, float]:
    """Weights maximising GAP@20; returns (weights, fitted GAP, equal-weight GAP).

    Ties go to the weights closest to equal ones. The equal weights are among
    the candidates, so the fitted GAP is at least theirs on these videos;
    whether that holds on other videos is what the test split tells.
    """
    count = len(predictions)
    equal = np.full(count, 1.0 / count)

    def gap(weights):
        return float(eval_util.gap_at_k(combine(predictions, weights, combination), labels))

    equal_gap = gap(equal)
    if count == 1:
        return equal, equal_gap, equal_gap

    def better(candidate, score, best, best_score):
        if score != best_score:
            return score > best_score
        return np.sum((candidate - equal) ** 2) < np.sum((best - equal) ** 2) - 1e-12

    best, best_gap = equal, equal_gap
    for candidate in _starts(count):
        score = gap(candidate)
        if better(candidate, score, best, best_gap):
            best, best_gap = candidate, score
    if count not in GRID_DIVISIONS:   # refine around the best start
        for step in REFINE_STEPS:
            improved = True
            while improved:
                improved = False
                for i, j in itertools.permutations(range(count), 2):
                    amount = min(step, best[j])
                    if amount <= 0:
                        continue
                    candidate = best.copy()
                    candidate[i] += amount
                    candidate[j] -= amount
                    score = gap(candidate)
                    if score > best_gap + 1e-12:
                        best, best_gap, improved = candidate, score, True
    best = np.clip(best, 0.0, None)
    return best / best.sum(), best_gap, equal_gap


def fit_combination(predictions: Sequence[np.ndarray], labels: np.ndarray
                    ) -> Tuple[str, np.ndarray, float, float]:
    """The better of probability and logit averaging, each with fitted weights.

    Returns (combination, weights, fitted GAP, equal-weight GAP of it); ties
    keep probability averaging.
    """
    fits = {combination: fit_weights(predictions, labels, combination)
            for combination in COMBINATIONS}
    chosen = max(COMBINATIONS, key=lambda c: (fits[c][1], c == 'probability'))
    weights, fitted, equal = fits[chosen]
    logger.info('Weights by averaging: %s; keeping %s', {
        c: (np.round(fits[c][0], 3).tolist(), round(fits[c][1], 5)) for c in COMBINATIONS},
        chosen)
    return chosen, weights, fitted, equal


def weigh(names: Tuple[str, ...], sizes: Mapping[str, int], weighting: str,
          given: Optional[Mapping[str, float]], cache: Optional[EvalCache],
          reason: str = '') -> Candidate:
    """The subset's weights (and its GAPs when `cache` is given)."""
    gaps: Dict[str, float] = {}
    combination = 'probability'
    if weighting == 'given':
        weights = normalise([given[n] for n in names])
    elif weighting == 'fitted':
        combination, weights, fitted, equal = fit_combination(cache.of(names), cache.labels)
        gaps.update(fitted_gap=float(fitted), equal_weights_gap=float(equal),
                    eval_gap=float(fitted))
    else:
        weights = np.full(len(names), 1.0 / len(names))
    if cache is not None and 'eval_gap' not in gaps:
        gaps['eval_gap'] = float(eval_util.gap_at_k(combine(cache.of(names), weights, combination),
                                                    cache.labels))
    return Candidate(names=names, weights=tuple(float(w) for w in weights),
                     member_bytes=sum(sizes[n] for n in names), reason=reason,
                     combination=combination, **gaps)


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
