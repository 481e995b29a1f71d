"""The ensemble's weight fit at the release's scale: 10,000 select videos x 8 members.

    python benchmarks/bench_weight_fit.py [--videos 10000] [--members 8]

Member outputs are synthetic but shaped like the real ones: [videos, 3862]
float32 probabilities over multi-hot labels (about 3 labels a video, class
frequencies like the release's long tail). Member i sees the labels through
its own noise, stronger for later members, and each member is blind to a
different slice of the classes, so members complement each other and a
good mix beats the best member.

Measured, each on one core (numpy's elementwise work is single-threaded;
BLAS threads are pinned to 1 below): the GAP@20 of one mix (partial sort)
against the full stable sort it replaces; `fit_combination` over all
members (forward selection, probability and logit averaging); the subset
choice under a budget that holds half the members. Writes
results/weight_fit.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

for variable in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ[variable] = '1'
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks.common import report  # noqa: E402
from components.ensemble import weight_search  # noqa: E402
from components.ensemble.eval_cache import EvalCache  # noqa: E402
from yt8m import eval_util, features  # noqa: E402


def synthetic_members(videos: int, members: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    classes = features.NUM_CLASSES
    frequency = 1.0 / np.arange(1, classes + 1) ** 0.8
    frequency *= 3.0 / frequency.sum()
    labels = (rng.random((videos, classes), dtype=np.float32) < frequency).astype(np.float32)
    outputs = []
    for member in range(members):
        blind = np.zeros(classes, bool)
        blind[member::members] = True            # a slice of classes this member misses
        signal = np.where(blind, 0.0, 3.0 - 0.15 * member).astype(np.float32)
        logit = (signal * labels + rng.normal(0, 1.0 + 0.1 * member, (videos, classes))
                 .astype(np.float32) + np.log(frequency / (1 - frequency)).astype(np.float32))
        outputs.append((1 / (1 + np.exp(-logit))).astype(np.float32))
    return outputs, labels


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    parser = argparse.ArgumentParser()
    parser.add_argument('--videos', type=int, default=10000)
    parser.add_argument('--members', type=int, default=8)
    args = parser.parse_args()
    outputs, labels = synthetic_members(args.videos, args.members)
    names = [f'member_{i}' for i in range(args.members)]
    member_gaps = [eval_util.gap_at_k(p, labels) for p in outputs]

    rows = []
    _, partial = timed(eval_util.top_k_by_video, outputs[0])
    _, full = timed(lambda p: np.argsort(-p, axis=1, kind='stable')[:, :features.TOP_K],
                    outputs[0])
    _, one_gap = timed(eval_util.gap_at_k, outputs[0], labels)
    rows.append({'step': 'top 20 per video: partial sort', 'seconds': partial})
    rows.append({'step': 'top 20 per video: stable full sort (before)', 'seconds': full})
    rows.append({'step': 'one GAP@20 evaluation', 'seconds': one_gap})

    (combination, weights, fitted, equal), fit_seconds = timed(
        weight_search.fit_combination, outputs, labels)
    rows.append({'step': f'fit weights, {args.members} members, both averagings',
                 'seconds': fit_seconds, 'gap': fitted,
                 'note': f'{combination}; equal weights {equal:.4f}'})

    cache = EvalCache(labels=labels, predictions=dict(zip(names, outputs)))
    sizes = {name: 100 for name in names}
    budget = 100 * (args.members // 2) + 1
    candidates, subset_seconds = timed(weight_search.rank_candidates, names, sizes, budget,
                                       'fitted', None, cache)
    rows.append({'step': f'subset under a budget of {args.members // 2} members + weights '
                         f'(and {len(candidates) - 1} runner-up)',
                 'seconds': subset_seconds, 'gap': candidates[0].eval_gap,
                 'note': ', '.join(candidates[0].names)})
    best_member = max(member_gaps)
    report('weight_fit', ['step', 'seconds', 'gap', 'note'], rows, {
        'videos': args.videos, 'members': args.members, 'classes': features.NUM_CLASSES,
        'member_gaps': dict(zip(names, member_gaps)), 'best_member_gap': best_member,
        'fitted_weights': dict(zip(names, [float(w) for w in weights])),
        'fitted_gap': fitted, 'fitted_over_best_member': fitted - best_member,
        'aim_seconds': 60, 'threads': 1})


if __name__ == '__main__':
    main()
