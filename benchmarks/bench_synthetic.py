"""Throughput of the synthetic data generator on one core, and its ceiling.

Why: every experiment starts by generating data; the generator must keep up
(target: at least 200 videos/s on one core) and its oracle must leave room
(a high but imperfect GAP) so that models can be compared to the ceiling.

    python benchmarks/bench_synthetic.py [--videos 2000] [--oracle-videos 200]

Prints a table and writes benchmarks/results/synthetic.json.
"""
import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tensorflow as tf  # noqa: E402

from yt8m import features, synthetic  # noqa: E402
from yt8m.eval_util import gap_at_k  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results',
                       'synthetic.json')


def oracle_gap(files, params_path: str, limit: int) -> float:
    """Oracle GAP@20 on the first `limit` validate videos, read back."""
    params = synthetic.load_oracle(params_path)
    context = {features.LABELS: tf.io.VarLenFeature(tf.int64)}
    sequence = {k: tf.io.FixedLenSequenceFeature([], tf.string)
                for k in features.FEATURE_SIZES}
    rgb, audio, labels = [], [], np.zeros((limit, features.NUM_CLASSES))
    for i, record in enumerate(tf.data.TFRecordDataset(files).take(limit)):
        ctx, seq = tf.io.parse_single_sequence_example(record, context,
                                                       sequence)
        labels[i, ctx[features.LABELS].values.numpy()] = 1
        frames = {k: np.frombuffer(b''.join(seq[k].numpy()), np.uint8)
                  .reshape(-1, size)
                  for k, size in features.FEATURE_SIZES.items()}
        rgb.append(frames[features.RGB])
        audio.append(frames[features.AUDIO])
    labels = labels[:len(rgb)]
    return gap_at_k(synthetic.oracle_scores(params, rgb, audio), labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--videos', type=int, default=2000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--shards', type=int, default=4)
    parser.add_argument('--oracle-videos', type=int, default=200)
    parser.add_argument('--out-json', default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one core

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'data')
        synthetic.make_params(args.seed)          # warm caches: label table
        synthetic._noise_bank(args.seed, synthetic.Knobs().noise_std)
        wall, cpu = time.perf_counter(), time.process_time()
        files = synthetic.generate(out, args.videos, args.seed, args.shards)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(os.path.getsize(p) for ps in files.values() for p in ps)
        params_path = synthetic.default_params_path(out)
        oracle_size = os.path.getsize(params_path)
        t = time.perf_counter()
        gap = oracle_gap(files['validate'], params_path, args.oracle_videos)
        oracle_seconds = time.perf_counter() - t

    result = {
        'videos': args.videos, 'seconds': round(wall, 2),
        'cpu_seconds': round(cpu, 2),
        'videos_per_s': round(args.videos / wall, 1),
        'videos_per_cpu_s': round(args.videos / cpu, 1),
        'mb_written': round(size / 1e6, 1),
        'kb_per_video': round(size / 1e3 / args.videos, 1),
        'oracle_file_mb': round(oracle_size / 1e6, 2),
        'oracle_gap_validate': round(gap, 4),
        'oracle_videos': min(args.oracle_videos,
                             round(args.videos * 0.1)),
        'oracle_seconds': round(oracle_seconds, 1),
        'cores_used': 1, 'shards_per_split': args.shards, 'seed': args.seed,
        'python': platform.python_version(), 'numpy': np.__version__,
        'tensorflow': tf.__version__,
    }
    print(f"{'videos':>8} {'seconds':>8} {'videos/s':>9} {'MB':>8} "
          f"{'oracle GAP':>11}")
    print(f"{result['videos']:>8} {result['seconds']:>8} "
          f"{result['videos_per_s']:>9} {result['mb_written']:>8} "
          f"{result['oracle_gap_validate']:>11}")
    os.makedirs(os.path.dirname(args.out_json), exist_ok=True)
    with open(args.out_json, 'w') as f:
        json.dump(result, f, indent=2)
        f.write('\n')
    print(f'wrote {args.out_json}')


if __name__ == '__main__':
    main()
