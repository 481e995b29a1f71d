"""Which members go into the ensemble, with which weights, before anything is built.

Weights: 'equal', 'given' (normalised to sum 1) or 'fitted', on cached
member predictions (the select split), maximising GAP@20. GAP is a step
function of the weights (it depends on rankings only), so the fit searches
instead of descending:
- up to three members: every point of a grid over the simplex (steps of
  0.01 for two members, 0.05 for three), so an interior mix is found
  wherever it lies (a fixed 101 or 231 GAP evaluations);
- more members: greedy forward selection with replacement (Caruana et al.,
  "Ensemble selection from libraries of models", ICML 2004): a bag of at
  most BAG_SIZE picks, each the member whose addition raises GAP the most;
  a member's weight is its share of the bag. At most BAG_SIZE x members GAP
  evaluations: the cost grows linearly with the members.
Among equally good weights on the grid, the ones closest to equal weights
win: a plateau's edge is fitted to the videos at hand, its middle
generalises. Equal weights are always a candidate, so the fit never does
worse than them on the select split.

What keeps each evaluation cheap at 10,000 videos x 8 members: member
outputs are cached once (probabilities, and their logits once per fit);
a candidate's GAP is computed on the weighted sum alone (the sigmoid after
logit averaging is monotone, and a positive scale changes no ranking); and
GAP's top 20 per video is a partial sort (`eval_util.top_k_by_video`).
`benchmarks/bench_weight_fit.py` measures it.

The fit is run for two ways of averaging, and the better one is kept:
- the members' probabilities;
- their logits, squashed back through a sigmoid. Logit averaging lets one
  confident member outvote several unsure ones.

Size: the members' bytes on disk sum to an estimate of the ensemble's, so a
subset "fits" when that sum is under the budget. When all members do not
fit, the subset is chosen by the same forward selection on the select
split, a member joining only while the members' bytes fit (runners-up: the
same at 90% and 80% of the budget); without select predictions, the
smallest members first (the most members). The executor measures each
written SavedModel, so a few runners-up (MAX_BUILD_ATTEMPTS) are kept in
case the estimate was too low.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from components.ensemble.mixture_gap import MixtureGap, mix
from yt8m import eval_util

if TYPE_CHECKING:
    from components.ensemble.eval_cache import EvalCache

logger = logging.getLogger(__name__)

GRID_DIVISIONS = {2: 100, 3: 20}   # members -> grid steps per unit weight
# Forward selection: picks per bag (weights in steps of 1/BAG_SIZE at most),
# and picks without a gain before it stops.
BAG_SIZE = 20
BAG_PATIENCE = 5
MAX_BUILD_ATTEMPTS = 3
RUNNER_UP_BUDGETS = (0.9, 0.8)
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
    """log(p) - log(1 - p) in float32, clipped at 1e-6, as the ensemble graph computes it."""
    clipped = np.clip(np.asarray(probabilities, dtype=np.float32), np.float32(_EPSILON),
                      np.float32(1 - _EPSILON))
    return np.log(clipped) - np.log1p(-clipped)


def combine(predictions: Sequence[np.ndarray], weights: Sequence[float],
            combination: str = 'probability') -> np.ndarray:
    """The ensemble's probabilities: a weighted mean of probabilities or of logits."""
    return combine_space(member_space(predictions, combination), weights, combination)


def combine_space(space: Sequence[np.ndarray], weights: Sequence[float],
                  combination: str) -> np.ndarray:
    """`combine` from member outputs already in their averaging space (`member_space`)."""
    total = mix(space, weights)
    if combination == 'logit':
        total = (1.0 / (1.0 + np.exp(-total))).astype(np.float32)
    return total


def simplex_grid(count: int, divisions: int) -> np.ndarray:
    """Every weight vector of `count` members in steps of 1/divisions."""
    points = [np.array(p + (divisions - sum(p),), dtype=np.float64) / divisions
              for p in itertools.product(range(divisions + 1), repeat=count - 1)
              if sum(p) <= divisions]
    return np.stack(points)


def member_space(predictions: Sequence[np.ndarray], combination: str) -> List[np.ndarray]:
    """Member outputs in the space they are averaged in, computed once per fit."""
    if combination not in COMBINATIONS:
        raise ValueError(f'unknown combination {combination!r}; use one of {COMBINATIONS}')
    if combination == 'probability':
        return [np.asarray(p, dtype=np.float32) for p in predictions]
    return [logits(p) for p in predictions]


def forward_selection(gap: Callable[[np.ndarray], float], count: int, units: Sequence[float],
                      with_replacement: bool = True,
                      allowed: Callable[[Tuple[int, ...]], bool] = lambda members: True,
                      steps: int = BAG_SIZE, patience: int = BAG_PATIENCE
                      ) -> Tuple[Optional[np.ndarray], float]:
    """Greedy ensemble selection (Caruana et al., ICML 2004); (weights, GAP) of the best bag.

    Each step adds `units[i]` of the member whose addition gives the highest
    `gap` (ties: the earlier member), among those `allowed` to join; without
    replacement a member joins once. The best bag seen is returned, None if
    none could start. At most `steps` x `count` evaluations.
    """
    weights = np.zeros(count)
    best, best_gap, stale = None, -1.0, 0
    for _ in range(steps):
        pick = None
        for i in range(count):
            if weights[i] and not with_replacement:
                continue
            if not allowed(tuple(sorted(set(np.flatnonzero(weights)) | {i}))):
                continue
            candidate = weights.copy()
            candidate[i] += units[i]
            score = gap(candidate)
            if pick is None or score > pick[0]:
                pick = (score, i)
        if pick is None:
            break
        score, i = pick
        weights[i] += units[i]
        if score > best_gap + 1e-12:
            best, best_gap, stale = weights / weights.sum(), score, 0
        else:
            stale += 1
            if stale >= patience:
                break
    return best, best_gap


def served_gap(space: Sequence[np.ndarray], weights: Sequence[float], combination: str,
               labels: np.ndarray) -> float:
    """GAP@20 of what the ensemble graph serves: `combine`, from members already in `space`."""
    return float(eval_util.gap_at_k(combine_space(space, weights, combination), labels))


class SharedFit:
    """Member spaces and one MixtureGap per averaging, built once for all members.

    A subset's mix is the full set's mix with zero weight on the others, so
    every subset the fit tries is scored by the same evaluator.
    """

    def __init__(self, cache: EvalCache):
        self.cache = cache
        self.names = tuple(cache.predictions)
        self._spaces: Dict[str, List[np.ndarray]] = {}
        self._gaps: Dict[str, MixtureGap] = {}

    def space(self, combination: str, names: Sequence[str]) -> List[np.ndarray]:
        if combination not in self._spaces:
            self._spaces[combination] = member_space(self.cache.of(self.names), combination)
        return [self._spaces[combination][self.names.index(n)] for n in names]

    def gap(self, combination: str, names: Sequence[str]) -> Callable[[np.ndarray], float]:
        if combination not in self._gaps:
            self._gaps[combination] = MixtureGap(self.space(combination, self.names),
                                                 self.cache.labels)
        full, index = self._gaps[combination], [self.names.index(n) for n in names]

        def of_subset(weights):
            embedded = np.zeros(len(self.names))
            embedded[index] = weights
            return full(embedded)
        of_subset.evaluator = full
        return of_subset


def shared_fit(cache: EvalCache) -> SharedFit:
    if 'fit' not in cache.memo:
        cache.memo['fit'] = SharedFit(cache)
    return cache.memo['fit']


def fit_weights(predictions: Sequence[np.ndarray], labels: np.ndarray,
                combination: str = 'probability',
                space: Optional[Sequence[np.ndarray]] = None,
                gap: Optional[Callable[[np.ndarray], float]] = None
                ) -> Tuple[np.ndarray, float, float]:
    """Weights maximising GAP@20; returns (weights, fitted GAP, equal-weight GAP).

    Ties go to the weights closest to equal ones. The equal weights are among
    the candidates, so the fitted GAP is at least theirs on these videos;
    whether that holds on other videos is what the test split tells.
    """
    count = len(predictions)
    equal = np.full(count, 1.0 / count)
    space = space if space is not None else member_space(predictions, combination)
    gap = gap if gap is not None else MixtureGap(space, labels)
    evaluator = getattr(gap, 'evaluator', gap)
    # Equal weights mix every member, the least settled mix of all: scored in
    # full, so that one call does not deepen the evaluator's lists for the
    # sparse mixes the search tries (the same GAP either way: both are exact).
    best, best_gap = equal, float(eval_util.gap_at_k(mix(space, equal), labels))
    if count in GRID_DIVISIONS:
        for candidate in simplex_grid(count, GRID_DIVISIONS[count]):
            score = gap(candidate)
            closer = np.sum((candidate - equal) ** 2) < np.sum((best - equal) ** 2) - 1e-12
            if score > best_gap or (score == best_gap and closer):
                best, best_gap = candidate, score
    elif count > 1:
        bag, bag_gap = forward_selection(gap, count, units=np.ones(count))
        if bag is not None and bag_gap > best_gap:
            best, best_gap = bag, bag_gap
    logger.info('Fitted %s weights on %d videos: %d GAP evaluations on each member\'s top-%d '
                'candidates, %d video rows ranked in full (so far)', combination, len(labels),
                evaluator.calls, evaluator.depth, evaluator.full_rows)
    best = np.clip(best, 0.0, None)
    best = best / best.sum()
    # The reported GAPs are the served output's (the sigmoid after logits included).
    return (best, served_gap(space, best, combination, labels),
            served_gap(space, equal, combination, labels))


def fit_combination(predictions: Sequence[np.ndarray], labels: np.ndarray,
                    shared: Optional[Tuple[SharedFit, Sequence[str]]] = None
                    ) -> Tuple[str, np.ndarray, float, float]:
    """The better of probability and logit averaging, each with fitted weights.

    Returns (combination, weights, fitted GAP, equal-weight GAP of it); ties
    keep probability averaging. `shared`: (the cache's SharedFit, these
    members' names), to reuse its spaces and evaluators.
    """
    def fit(combination):
        if shared is None:
            return fit_weights(predictions, labels, combination)
        fitter, names = shared
        return fit_weights(predictions, labels, combination,
                           space=fitter.space(combination, names),
                           gap=fitter.gap(combination, names))
    fits = {combination: fit(combination) for combination in COMBINATIONS}
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
        combination, weights, fitted, equal = fit_combination(
            cache.of(names), cache.labels, shared=(shared_fit(cache), names))
        gaps.update(fitted_gap=float(fitted), equal_weights_gap=float(equal),
                    eval_gap=float(fitted))
    else:
        weights = np.full(len(names), 1.0 / len(names))
    if cache is not None and 'eval_gap' not in gaps:
        gaps['eval_gap'] = served_gap(shared_fit(cache).space(combination, names), weights,
                                      combination, cache.labels)
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
    if cache is None:
        fitting = fitting_subsets(names, sizes, budget)
        first = greedy_smallest_first(names, sizes, budget)
        ordered = ([first] + [s for s in fitting if s != first])[:MAX_BUILD_ATTEMPTS]
        reason = ('over budget; no eval examples, so the smallest members first '
                  '(most members that fit)')
        return [weigh(subset, sizes, weighting, given, None, reason) for subset in ordered]
    subsets = []
    for share in (1.0, *RUNNER_UP_BUDGETS):
        subset = select_subset(names, sizes, int(budget * share), weighting, given, cache)
        if subset and subset not in subsets:
            subsets.append(subset)
    chosen = [weigh(subset, sizes, weighting, given, cache) for subset in subsets]
    for candidate in chosen:
        logger.info('Subset %s: eval GAP %.5f', candidate.names, candidate.eval_gap)
    return [dataclasses.replace(c, reason=f'over budget; best eval GAP ({c.eval_gap:.5f}) by '
                                          'forward selection on the select split among '
                                          f'members that fit ({", ".join(c.names)})')
            for c in chosen[:MAX_BUILD_ATTEMPTS]]


def select_subset(names: Tuple[str, ...], sizes: Mapping[str, int], budget: int,
                  weighting: str, given: Optional[Mapping[str, float]],
                  cache: EvalCache) -> Tuple[str, ...]:
    """The members forward selection keeps while their bytes fit `budget`.

    'fitted' picks with replacement (a member may be picked again, raising
    its weight) in both averaging spaces and keeps the better; 'equal' and
    'given' add each member once, with its own weight.
    """
    def allowed(members: Tuple[int, ...]) -> bool:
        return sum(sizes[names[i]] for i in members) < budget

    fitter, count = shared_fit(cache), len(names)
    if weighting == 'fitted':
        tries = [forward_selection(fitter.gap(combination, names), count, np.ones(count),
                                   allowed=allowed)
                 for combination in COMBINATIONS]
    else:
        units = (np.ones(count) if weighting == 'equal'
                 else normalise([given[n] for n in names]))
        tries = [forward_selection(fitter.gap('probability', names), count, units,
                                   with_replacement=False, allowed=allowed,
                                   steps=count, patience=count)]
    weights, _ = max(tries, key=lambda t: t[1])
    if weights is None:
        return ()
    return tuple(n for n, w in zip(names, weights) if w > 0)


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
