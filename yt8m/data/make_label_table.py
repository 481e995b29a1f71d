"""Derive the packaged label-set table from the real 2018 label lists.

Why: the synthetic generator must draw realistic label sets (real class
frequencies, real co-occurrence, 3 labels per video on average) without the
project needing the 7 MB source file at run time. This script keeps a seeded
random subset of the real label sets, adds one real set for every class the
subset missed (so every class can occur), and stores them compactly:

    labels        int16 [sum(lengths)]  class ids, sets concatenated
    lengths       uint8 [num_sets]      labels per set
    class_counts  int32 [NUM_CLASSES]   class frequency over ALL source rows
    source_rows   int64 []              rows in the source file

Run from the repository root (the default source is the shared data folder):
    python -m yt8m.data.make_label_table [--source PATH] [--num-sets N]
"""
import argparse
import csv
import gzip
import os
from typing import List

import numpy as np

from yt8m import features

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SOURCE = os.path.join(_HERE, '..', '..', '..', 'shared', 'data',
                              'label_sets_2018.csv.gz')
DEFAULT_OUT = os.path.join(_HERE, 'label_sets_2018.npz')


def read_label_sets(path: str) -> List[List[int]]:
    """All label sets of the `id,split,labels` file, in file order."""
    with gzip.open(path, 'rt', newline='') as f:
        reader = csv.DictReader(f)
        return [[int(x) for x in row['labels'].split()] for row in reader]


def make_table(sets: List[List[int]], num_sets: int, seed: int) -> dict:
    """Seeded subset of `sets` plus one set per class the subset misses."""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(sets), size=min(num_sets, len(sets)),
                               replace=False).tolist())
    counts = np.zeros(features.NUM_CLASSES, np.int64)
    covered = np.zeros(features.NUM_CLASSES, bool)
    for s in sets:
        counts[s] += 1
    for i in chosen:
        covered[sets[i]] = True
    for c in np.flatnonzero(~covered):   # rare classes the subset missed
        holders = [i for i, s in enumerate(sets) if c in s]
        pick = holders[int(rng.integers(len(holders)))]
        chosen.append(pick)
        covered[sets[pick]] = True
    picked = [sorted(set(sets[i])) for i in chosen]
    return {
        'labels': np.array([c for s in picked for c in s], np.int16),
        'lengths': np.array([len(s) for s in picked], np.uint8),
        'class_counts': counts.astype(np.int32),
        'source_rows': np.int64(len(sets)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--source', default=DEFAULT_SOURCE)
    parser.add_argument('--out', default=DEFAULT_OUT)
    parser.add_argument('--num-sets', type=int, default=100_000)
    parser.add_argument('--seed', type=int, default=2018)
    args = parser.parse_args()
    table = make_table(read_label_sets(args.source), args.num_sets, args.seed)
    np.savez_compressed(args.out, **table)
    print(f"wrote {args.out}: {len(table['lengths'])} label sets, "
          f"{len(table['labels'])} labels, {os.path.getsize(args.out)} bytes")


if __name__ == '__main__':
    main()
