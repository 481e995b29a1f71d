"""Each family's small preset on the default data, before and after its changes.

    python benchmarks/bench_families.py [--only netvlad,netfv_before,...]

Data: the default run's generator settings (2400 videos, seed, 100 most
frequent classes, a third validate) in its own folder. Train on `train*`,
stop early on the first validate shard (the select role), score GAP@20 on
the second shard (the test role, which chose nothing). The Trainer's budget
and early stopping (10 epochs, batch 32, patience 3) through its own
`train_model`; frames from memory, as `bench_learning.py` feeds them.

Rows: the label prior, the mean-pool `logistic` family, DBoF small,
NetVLAD and NetFV small as they were (`*_before`: all 300 slots, Glorot
start, no dropout, LR 1e-3) and as the presets are now (60 sampled frames,
the seed's N(0, 1/sqrt(K)) start of the FC to H, dropout 0.5 on the pooled
and the hidden vector, LR 1e-2), and the generator's oracle. The issue's aim:
NetVLAD small >= 0.9 of DBoF small (`of_dbof`).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.bench_learning import (eval_dataset, oracle_gap, score, standardise,  # noqa: E402
                                       train_dataset)
from benchmarks.common import report  # noqa: E402
from models import presets  # noqa: E402
from models.presets import NetVLADConfig  # noqa: E402
from pipeline import configs  # noqa: E402
from trainer import training  # noqa: E402
from trainer.config import TrainingConfig  # noqa: E402
from trainer.preprocessing import transformed_arrays  # noqa: E402
from yt8m import eval_util, synthetic  # noqa: E402

_BEFORE = dict(input_batch_norm=False)
_SMALL = dict(input_batch_norm=False, hidden_init='seed', dropout=0.5, pooled_dropout=0.5,
              sample_frames=60)   # NetVLAD small's settings but K
# (row name, family, preset name or config, learning rate; None: the family's)
VARIANTS = (
    ('logistic', 'logistic', 'small', None),
    ('dbof', 'dbof', 'small', None),
    ('netvlad_before', 'netvlad', NetVLADConfig(16, 128, **_BEFORE), 1e-3),
    ('netvlad', 'netvlad', 'small', None),
    ('netfv_before', 'netfv', NetVLADConfig(8, 128, **_BEFORE), 1e-3),
    ('netfv', 'netfv', 'small', None),
    # NetVLAD small's variants (issue: NetVLAD >= 0.9 of DBoF): NetFV's 8
    # clusters; a per-frame reduction of rgb to 256 dimensions buying 4x the
    # clusters at a pooled width of 20,480 (NeXtVLAD's trade); the same at 128.
    ('netvlad_k8', 'netvlad', NetVLADConfig(8, 128, **_SMALL), None),
    ('netvlad_k64_r256', 'netvlad', NetVLADConfig(64, 128, reduction=256, **_SMALL), None),
    ('netvlad_k64_r128', 'netvlad', NetVLADConfig(64, 128, reduction=128, **_SMALL), None),
    # Wider hidden layer (DBoF small's 256), no dropout on the pooled vector,
    # twice the learning rate (NetVLAD small's best step is its last).
    ('netvlad_h256', 'netvlad', NetVLADConfig(16, 256, **_SMALL), None),
    ('netvlad_no_pooled_dropout', 'netvlad',
     NetVLADConfig(16, 128, **dict(_SMALL, pooled_dropout=0.0)), None),
    ('netvlad_lr_0.02', 'netvlad', 'small', 0.02),
    ('netvlad_lr_0.03', 'netvlad', 'small', 0.03),
    ('netvlad_lr_0.05', 'netvlad', 'small', 0.05),
    ('netvlad_lr_0.1', 'netvlad', 'small', 0.1),
    ('netfv_lr_0.05', 'netfv', 'small', 0.05),
)
# Rows that change the Trainer's options rather than the model (name ->
# TrainingConfig fields), for NetVLAD small's run-to-run spread at LR 0.1:
# more patience, or the seed's LR decay (x0.8 every 4M examples, about one
# pass over the release's 3.9M training videos) as x0.8 every epoch (1600
# videos here), for NetVLAD and for DBoF.
TRAINING_VARIANTS = {
    'netvlad_patience_5': ('netvlad', dict(patience=5)),
    'netvlad_decay_epoch': ('netvlad', dict(decay_examples=1600, decay_rate=0.8)),
    'dbof_decay_epoch': ('dbof', dict(decay_examples=1600, decay_rate=0.8)),
}


def run(name, family, preset, learning_rate, data, epochs, seed=0, options=None):
    train, select, test = data
    config = TrainingConfig(**{
        'family': family, 'batch_size': configs.BATCH_SIZE, 'patience': 3,
        'learning_rate': learning_rate, 'eval_examples': len(select[2]),
        'train_examples': int(epochs * len(train[2])), 'seed': seed, **(options or {})})
    tf.random.set_seed(seed)      # as run_fn does
    resample = not presets.frames_drawn(family, preset)
    saved = presets.PRESETS[family]['small']
    presets.PRESETS[family]['small'] = presets.resolve_config(family, preset)
    try:
        started = time.perf_counter()
        model, _, summary = training.train_model(
            config, train_dataset(train, config.batch_size, resample),
            eval_dataset(select, config.batch_size))
        seconds = time.perf_counter() - started
    finally:
        presets.PRESETS[family]['small'] = saved
    gap, _ = score(model, test)
    return {'model': name, 'family': family, 'learning_rate': config.base_learning_rate,
            'seed': seed, 'options': options or {}, 'gap_at_20': gap,
            'best_select_gap': summary['best_eval_gap'],
            'best_step': summary['best_step'], 'steps_run': summary['steps_run'],
            'train_videos_per_s': summary['curve'][-1]['examples_per_second'],
            'training_seconds': round(seconds, 1), 'parameters': summary['num_parameters']}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--only', default='', help='comma-separated row names (default: all)')
    parser.add_argument('--epochs', type=float, default=10)
    parser.add_argument('--seeds', default='0',
                        help='comma-separated seeds: each row is trained once per seed')
    parser.add_argument('--root', default='/tmp/bench_families')
    parser.add_argument('--results-name', default='families_default_data')
    args = parser.parse_args()
    root = os.path.join(args.root, 'data')
    if not os.path.exists(os.path.join(root, 'train0000.tfrecord')):
        synthetic.generate(root, configs.DEFAULT_VIDEOS, configs.DEFAULT_SEED, shards=2,
                           validate_fraction=configs.DEFAULT_VALIDATE_FRACTION,
                           test_fraction=0.0, top_classes=configs.DEFAULT_TOP_CLASSES,
                           overwrite=True)
    validate_files = sorted(glob.glob(os.path.join(root, 'validate*')))
    train = transformed_arrays(sorted(glob.glob(os.path.join(root, 'train*'))))
    select, test = transformed_arrays(validate_files[:1]), transformed_arrays(validate_files[1:])
    standardise([train, select, test], train)
    oracle = oracle_gap(root, validate_files[1:])
    prior = eval_util.gap_at_k(np.tile(train[2].mean(0), (len(test[2]), 1)), test[2])
    wanted = set(filter(None, args.only.split(',')))
    rows = [{'model': 'label prior', 'gap_at_20': prior}]
    runs = [(name, family, preset, learning_rate, None)
            for name, family, preset, learning_rate in VARIANTS]
    runs += [(name, family, 'small', None, options)
             for name, (family, options) in TRAINING_VARIANTS.items()]
    seeds = [int(seed) for seed in args.seeds.split(',')]
    for seed in seeds:
        for name, family, preset, learning_rate, options in runs:
            if wanted and name not in wanted:
                continue
            rows.append(run(name, family, preset, learning_rate, (train, select, test),
                            args.epochs, seed, options))
            print(rows[-1], flush=True)
    rows.append({'model': 'generator oracle', 'gap_at_20': oracle})
    dbof = {r['seed']: r['gap_at_20'] for r in rows if r['model'] == 'dbof'}
    for row in rows:
        row['of_oracle'] = row['gap_at_20'] / oracle
        if dbof:     # of the same seed's DBoF, else of the mean DBoF
            row['of_dbof'] = row['gap_at_20'] / dbof.get(row.get('seed'),
                                                         np.mean(list(dbof.values())))
    summary = _spread(rows) if len(seeds) > 1 else {}
    for name, stats in summary.items():
        print(f'{name}: test GAP@20 {stats["mean_test_gap"]:.4f} (min {stats["min_test_gap"]:.4f},'
              f' max {stats["max_test_gap"]:.4f}), select {stats["mean_select_gap"]:.4f}, '
              f'of DBoF {stats.get("mean_of_dbof", float("nan")):.3f} over {stats["runs"]} seeds')
    report(args.results_name,
           ['model', 'seed', 'learning_rate', 'gap_at_20', 'best_select_gap', 'of_dbof',
            'of_oracle', 'best_step', 'steps_run', 'train_videos_per_s', 'training_seconds',
            'parameters'], rows,
           {'train_videos': len(train[2]), 'select_videos': len(select[2]),
            'test_videos': len(test[2]), 'epochs': args.epochs, 'batch_size': configs.BATCH_SIZE,
            'seeds': seeds, 'spread_over_seeds': summary,
            'data': f'default generator: {configs.DEFAULT_VIDEOS} videos, seed '
                    f'{configs.DEFAULT_SEED}, top {configs.DEFAULT_TOP_CLASSES} classes',
            'command': ' '.join(['python benchmarks/bench_families.py', *sys.argv[1:]])})


def _spread(rows) -> dict:
    """Per row name: mean, min and max over the seeds, of test and select GAP@20."""
    names = [row['model'] for row in rows if 'seed' in row]
    summary = {}
    for name in dict.fromkeys(names):
        runs = [row for row in rows if row['model'] == name]
        tests = [row['gap_at_20'] for row in runs]
        summary[name] = {'runs': len(runs), 'mean_test_gap': float(np.mean(tests)),
                         'min_test_gap': float(min(tests)), 'max_test_gap': float(max(tests)),
                         'mean_select_gap': float(np.mean([r['best_select_gap'] for r in runs]))}
        if all('of_dbof' in row for row in runs):
            summary[name]['mean_of_dbof'] = float(np.mean([r['of_dbof'] for r in runs]))
    return summary


if __name__ == '__main__':
    main()
