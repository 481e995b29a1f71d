"""Per-family benchmark at a preset on the embedded default data (2 cores).

    python benchmarks/bench_families.py [--families dbof,netvlad] [--steps 150]
        [--videos 1000] [--preset small] [--ema-steps 50]

For each family: training throughput (videos/s), inference throughput, the
parameter count, and GAP@20 on the default data's validate split after a
fixed budget of `--steps` steps, also as a fraction of the generator's oracle
GAP on the same videos; with EMA (`gap_ema`: the averaged weights after
`--ema-steps` more steps at a lower LR) and without (`gap_raw`: the raw
weights at the end of the same run). The
mean-pool logistic regression ('logistic') is the reference baseline.

Training reads the same tf.data path as the Trainer (reader -> Transform's
preprocessing_fn -> training-time frame sampling), without the TFX wrapping.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import report  # noqa: E402
from local_runner import ensure_default_data  # noqa: E402
from models.registry import FAMILIES  # noqa: E402
from trainer import preprocessing, run_fn, sampling  # noqa: E402
from trainer.config import TrainingConfig  # noqa: E402
from yt8m import eval_util, features, reader, synthetic  # noqa: E402


def dataset(files, batch_size, training):
    ds = tf.data.TFRecordDataset(files)
    if training:
        ds = ds.shuffle(512, seed=0).repeat()
    ds = ds.batch(batch_size)

    def to_inputs(serialized):
        out = preprocessing.preprocessing_fn(reader.parse_serialized(serialized))
        frames = out[features.FRAMES]
        if training:
            frames = sampling.sample_with_replacement(frames, out[features.NUM_FRAMES])
        return ({features.FRAMES: frames, features.NUM_FRAMES: out[features.NUM_FRAMES]},
                out[features.LABELS_MULTI_HOT])
    return ds.map(to_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def evaluate(model, files, batch_size=32):
    predictions, labels, started = [], [], time.perf_counter()
    for inputs, y in dataset(files, batch_size, training=False):
        predictions.append(model(inputs, training=False).numpy())
        labels.append(y.numpy())
    seconds = time.perf_counter() - started
    predictions, labels = np.concatenate(predictions), np.concatenate(labels)
    return eval_util.gap_at_k(predictions, labels), len(labels) / seconds


def oracle_gap(data_root, files):
    params = synthetic.load_oracle(data_root + '_oracle.npz')
    rgb, audio, labels = [], [], []
    for path in files:
        for video in reader.read_videos(path):
            rgb.append(video[features.RGB])
            audio.append(video[features.AUDIO])
            labels.append(video[features.LABELS_MULTI_HOT])
    return eval_util.gap_at_k(synthetic.oracle_scores(params, rgb, audio), np.array(labels))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--families', default=','.join(FAMILIES))
    parser.add_argument('--preset', default='small')
    parser.add_argument('--steps', type=int, default=150)
    parser.add_argument('--ema-steps', type=int, default=50)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--videos', type=int, default=1000)
    parser.add_argument('--output-root', default='outputs')
    parser.add_argument('--results-name', default='families',
                        help='writes benchmarks/results/<name>.json')
    args = parser.parse_args()
    data_root = ensure_default_data(os.path.abspath(args.output_root), args.videos)
    train_files = sorted(glob.glob(os.path.join(data_root, 'train*.tfrecord')))
    eval_files = sorted(glob.glob(os.path.join(data_root, 'validate*.tfrecord')))
    ceiling = oracle_gap(data_root, eval_files)
    rows = []
    for family in args.families.split(','):
        config = TrainingConfig(family=family, preset=args.preset, batch_size=args.batch_size,
                                ema_steps=args.ema_steps)
        train_ds = dataset(train_files, args.batch_size, training=True)
        eval_ds = dataset(eval_files, args.batch_size, training=False)
        started = time.perf_counter()
        model, ema_weights, summary = run_fn.train_model(
            config, train_ds, eval_ds.repeat(), args.steps, eval_steps=1)
        seconds = time.perf_counter() - started
        total_steps = args.steps + args.ema_steps
        raw_gap, infer_rate = evaluate(model, eval_files)
        model.set_weights(ema_weights)
        ema_gap, _ = evaluate(model, eval_files)
        rows.append({'family': family, 'parameters': summary['num_parameters'],
                     'train_videos_per_s': total_steps * args.batch_size / seconds,
                     'infer_videos_per_s': infer_rate,
                     'gap_raw': raw_gap, 'gap_ema': ema_gap,
                     'gap_raw_of_oracle': raw_gap / ceiling, 'gap_ema_of_oracle': ema_gap / ceiling})
        print(rows[-1], flush=True)
    report(args.results_name, ['family', 'parameters', 'train_videos_per_s', 'infer_videos_per_s',
                        'gap_raw', 'gap_ema', 'gap_raw_of_oracle', 'gap_ema_of_oracle'], rows,
           {'oracle_gap': ceiling, 'steps': args.steps, 'ema_steps': args.ema_steps,
            'preset': args.preset, 'videos': args.videos,
            'note': 'gap_raw: raw weights at the end; gap_ema: EMA-averaged weights'})


if __name__ == '__main__':
    main()
