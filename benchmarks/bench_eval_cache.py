"""What one early-stopping evaluation costs, with the select cache as tensors or as numpy.

    python benchmarks/bench_eval_cache.py [--videos 390] [--batch-size 32]
        [--repeats 5] [--families dbof,netvlad]

Every Trainer and Distiller scores its cached select videos about 10 times
a training (`trainer/monitor.py` `GapMonitor`), a Trainer with two teacher
fold copies about 40 times. The cache used to hold numpy arrays, which the
inference function copied into new tensors at every batch of every
evaluation; it now holds the tensors tf.data made. This times
`monitor.predict` over the same full-length videos (300 frames, 1152
features; the values do not change the cost) both ways, for each family's
small preset. Writes results/eval_cache.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import report  # noqa: E402
from models import registry  # noqa: E402
from trainer import monitor  # noqa: E402
from yt8m import features  # noqa: E402


def select_dataset(videos: int, batch_size: int) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    frames = rng.random((videos, features.MAX_FRAMES, features.FRAME_SIZE), dtype=np.float32)
    inputs = {features.FRAMES: frames,
              features.NUM_FRAMES: np.full((videos,), features.MAX_FRAMES, np.int64)}
    labels = np.zeros((videos, features.NUM_CLASSES), np.float32)
    return tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size)


def as_numpy(batches):
    """The cache as it was: every input converted to numpy."""
    return [({name: value.numpy() for name, value in inputs.items()}, labels)
            for inputs, labels in batches]


def seconds_per_evaluation(model, batches, repeats: int) -> float:
    monitor.predict(model, batches)     # traced before any timing
    started = time.perf_counter()
    for _ in range(repeats):
        monitor.predict(model, batches)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--videos', type=int, default=390, help='the default run: 390 select')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--families', default='dbof,netvlad')
    args = parser.parse_args()
    batches = monitor.cache_batches(select_dataset(args.videos, args.batch_size), args.videos)
    numpy_batches = as_numpy(batches)
    rows = []
    for family in args.families.split(','):
        model = registry.build_model(family, 'small')
        # Alternating, so neither side always runs on a warmer machine.
        tensor_s = seconds_per_evaluation(model, batches, args.repeats)
        numpy_s = seconds_per_evaluation(model, numpy_batches, args.repeats)
        tensor_s = min(tensor_s, seconds_per_evaluation(model, batches, args.repeats))
        numpy_s = min(numpy_s, seconds_per_evaluation(model, numpy_batches, args.repeats))
        rows.append({'family': family, 'preset': 'small', 'videos': args.videos,
                     'batch_size': args.batch_size, 'numpy_cache_s': round(numpy_s, 3),
                     'tensor_cache_s': round(tensor_s, 3),
                     'speedup': round(numpy_s / tensor_s, 2)})
    report('eval_cache', ['family', 'preset', 'videos', 'batch_size', 'numpy_cache_s',
                          'tensor_cache_s', 'speedup'], rows,
           {'command': 'benchmarks/bench_eval_cache.py ' + ' '.join(sys.argv[1:]),
            'note': 'seconds per early-stopping evaluation (monitor.predict), best of two '
                    'means over --repeats; full-length random videos'})


if __name__ == '__main__':
    main()
