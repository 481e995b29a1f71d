"""How well and how fast each family learns (issue #9's benchmark; 2 cores).

    python benchmarks/bench_learning.py [--families dbof,netvlad,...]
        [--train-videos 2000] [--steps 310] [--batch-size 64] [--top-classes 0]

Data: the project's generator over all 3862 classes (or `--top-classes K`):
`--train-videos` to train and a validate split of 2 x `--eval-videos` in two
shards: the first for early stopping, the second held out, and every GAP
below is scored on the held-out shard, so early stopping never sees the
scored videos. (One generator seed: the seed fixes the class prototypes, so
a set from another seed is another task.)

Per family at `--preset` (small), through the Trainer's own `train_model`:
- `gap_budget`: GAP@20 after exactly `--steps` steps (no early stopping);
- `gap_early_stop`: GAP@20 of the best weights when training runs until
  eval GAP@20 stalls (`--patience` evaluations, at most `--max-epochs`);
- both as a fraction of the generator's oracle on the held-out set;
- training videos/s (the `--steps` run, input pipeline included) and
  inference videos/s.
Beside them: the label prior, and the mean-pool logistic regression, which
is the `logistic` family (always run first) trained the same way: the best
of its budget and early-stopped GAP is the baseline every family must beat. Extra rows train DBoF at K=2048/H=512 (`dbof_2048`, 40 sampled
frames), the size at which the seed's own code trained at 164 videos/s on
these 2 cores, and the same on all 300 frames (`dbof_2048_all_frames`,
budget only) for the speed-up of frame sampling.

Then the seed's recipe on the same held-out videos (`--skip-ensemble` to
leave it out): the first ensemble of every family run (the logistic one
included; the EnsembleBuilder's weight fit, on the early-stopping videos,
decides who counts), one student per `--student-families`, trained on
labels mixed with the first ensemble's out-of-fold scores of the train
videos (configs.TEACHER_FOLDS copies per member, each scoring the fold it
did not train on; lambda configs.DISTILL_LAMBDA; dense scores, where the
Distiller keeps each video's top k), and the final ensemble over members
and students, with each one's gain over its family or best member.

Input path: records -> `transform_videos` with the training split's
per-dimension statistics (what Transform's analyzers compute) -> training
sampling, as the Trainer reads them; held in memory after one decode, so
videos/s measures the model and the sampling, not the protobuf parser.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import report  # noqa: E402
from components.ensemble import weight_search  # noqa: E402
from models import presets  # noqa: E402
from pipeline import configs  # noqa: E402
from trainer import monitor, sampling, training  # noqa: E402
from trainer.config import TrainingConfig  # noqa: E402
from trainer.preprocessing import frame_statistics, transformed_arrays  # noqa: E402
from yt8m import eval_util, features, reader, synthetic  # noqa: E402

AGGREGATING = ('dbof', 'netvlad', 'netfv', 'nextvlad')
SEED_DBOF_VIDEOS_PER_S = 164.0


def oracle_gap(root, files):
    params = synthetic.load_oracle(root + '_oracle.npz')
    rgb, audio, labels = [], [], []
    for path in files:
        for video in reader.read_videos(path):
            rgb.append(video[features.RGB])
            audio.append(video[features.AUDIO])
            labels.append(video[features.LABELS_MULTI_HOT])
    return eval_util.gap_at_k(synthetic.oracle_scores(params, rgb, audio), np.array(labels))


def standardise(splits, train):
    mean, std = frame_statistics(train[0], train[1], every=4)
    for frames, _, _ in splits:
        frames -= mean
        frames /= std


def train_dataset(data, batch_size, resample=True):
    """As the Trainer's: resampled to 300 slots unless the model samples its own frames."""
    frames, lengths, labels = data

    def sample(inputs, y):
        inputs[features.FRAMES] = sampling.sample_with_replacement(
            inputs[features.FRAMES], inputs[features.NUM_FRAMES])
        return inputs, y

    dataset = (tf.data.Dataset.from_tensor_slices(
        ({features.FRAMES: frames, features.NUM_FRAMES: lengths}, labels))
        .shuffle(len(labels), seed=0).repeat().batch(batch_size))
    if resample:
        dataset = dataset.map(sample, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(2)


def eval_dataset(data, batch_size):
    frames, lengths, labels = data
    return tf.data.Dataset.from_tensor_slices(
        ({features.FRAMES: frames, features.NUM_FRAMES: lengths}, labels)).batch(batch_size)


def score(model, data):
    started = time.perf_counter()
    predictions, labels = monitor.predict(model, monitor.cache_batches(
        eval_dataset(data, 64), len(data[2])))
    return eval_util.gap_at_k(predictions, labels), len(labels) / (time.perf_counter() - started)


def early_stopped(family, preset, train, validate, args):
    """(model, summary) trained until GAP@20 on `validate` stalls, at most --max-epochs."""
    config = TrainingConfig(family=family, preset=preset, batch_size=args.batch_size,
                            patience=args.patience, eval_examples=len(validate[2]),
                            eval_every_examples=len(train[2]),
                            train_examples=int(args.max_epochs * len(train[2])))
    model, _, summary = training.train_model(
        config, train_dataset(train, args.batch_size, not presets.frames_drawn(family, preset)),
        eval_dataset(validate, args.batch_size))
    return model, summary


def run_family(name, family, preset, data, args, oracle, early_stop=True):
    train, validate, test = data
    row, kept = {'model': name}, None
    resample = not presets.frames_drawn(family, preset)
    # One evaluation, at the end: the speed is the training loop's (input
    # pipeline included) and the weights are the last ones, as a fixed step
    # budget leaves them.
    budget = TrainingConfig(family=family, preset=preset, batch_size=args.batch_size,
                            patience=0, eval_examples=len(validate[2]),
                            eval_every_examples=args.steps * args.batch_size,
                            train_examples=args.steps * args.batch_size)
    model, _, summary = training.train_model(budget,
                                             train_dataset(train, args.batch_size, resample),
                                             eval_dataset(validate, args.batch_size))
    row['train_videos_per_s'] = summary['curve'][-1]['examples_per_second']
    row['gap_budget'], row['infer_videos_per_s'] = score(model, test)
    row['parameters'] = summary['num_parameters']
    if early_stop and not args.skip_early_stop:
        model, summary = early_stopped(family, preset, train, validate, args)
        row['gap_early_stop'], _ = score(model, test)
        kept = model
        row['early_stop_epochs'] = summary['best_step'] * args.batch_size / len(train[2])
        row['early_stop_of_oracle'] = row['gap_early_stop'] / oracle
    row['budget_of_oracle'] = row['gap_budget'] / oracle
    print(row, flush=True)
    return row, kept


def predict(model, data):
    return monitor.predict(model, monitor.cache_batches(eval_dataset(data, 64), len(data[2])))[0]


def subset(data, keep):
    return tuple(array[keep] for array in data)


def out_of_fold(family, preset, train, validate, args, folds=configs.TEACHER_FOLDS):
    """Scores of every train video by a copy of `family` that did not train on it.

    As the pipeline's Trainer does for the Distiller: one early-stopped copy
    per fold, trained on the other folds, scores its own fold.
    """
    fold = np.arange(len(train[2])) % folds
    scores = np.zeros(train[2].shape, np.float32)
    for k in range(folds):
        model, _ = early_stopped(family, preset, subset(train, fold != k), validate, args)
        scores[fold == k] = predict(model, subset(train, fold == k))
    return scores


def fitted_row(name, member_names, select_scores, test_scores, validate, test, oracle):
    """The EnsembleBuilder's weight fit on the early-stopping videos, scored on held-out."""
    combination, weights, select_gap, _ = weight_search.fit_combination(
        [select_scores[m] for m in member_names], validate[2])
    gap = eval_util.gap_at_k(weight_search.combine(
        [test_scores[m] for m in member_names], weights, combination), test[2])
    return {'model': name, 'gap_early_stop': gap, 'early_stop_of_oracle': gap / oracle,
            'select_gap': select_gap, 'combination': combination,
            'weights': {m: round(float(w), 3) for m, w in zip(member_names, weights)}}, \
        (combination, weights)


def ensemble_rows(members, family_rows, data, args, oracle):
    """The seed's recipe on held-out videos: first ensemble, students, final ensemble.

    The first ensemble's weights and averaging are fitted on the early-stopping
    videos; it teaches each student family through out-of-fold soft labels on
    the train videos (lambda configs.DISTILL_LAMBDA, labels mixed in as the
    Distiller mixes them); the final ensemble is fitted over the members and
    the students on the same videos. Every GAP is on the held-out shard.
    """
    train, validate, test = data
    names = list(members)
    select_scores = {m: predict(model, validate) for m, model in members.items()}
    test_scores = {m: predict(model, test) for m, model in members.items()}
    first, (combination, weights) = fitted_row('ensemble (first)', names, select_scores,
                                               test_scores, validate, test, oracle)
    best = max(family_rows, key=lambda r: r.get('gap_early_stop', 0) if r['model'] in names
               else 0)
    first['gain_over_best_member'] = first['gap_early_stop'] - best['gap_early_stop']
    print(first, flush=True)
    yield first
    started = time.perf_counter()
    teacher = weight_search.combine([out_of_fold(m, args.preset, train, validate, args)
                                     for m in names], weights, combination)
    teacher_seconds = time.perf_counter() - started
    mixed = (configs.DISTILL_LAMBDA * teacher
             + (1 - configs.DISTILL_LAMBDA) * train[2]).astype(np.float32)
    students = []
    for family in args.student_families.split(','):
        model, _ = early_stopped(family, args.preset, (train[0], train[1], mixed), validate, args)
        name = f'student_{family}'
        select_scores[name], test_scores[name] = predict(model, validate), predict(model, test)
        gap = eval_util.gap_at_k(test_scores[name], test[2])
        own = next(r['gap_early_stop'] for r in family_rows if r['model'] == family)
        row = {'model': name, 'gap_early_stop': gap, 'early_stop_of_oracle': gap / oracle,
               'gain_over_family': gap - own, 'teacher': 'ensemble (first), out-of-fold',
               'teacher_seconds': teacher_seconds}
        print(row, flush=True)
        students.append(name)
        yield row
    final, _ = fitted_row('ensemble (final)', names + students, select_scores, test_scores,
                          validate, test, oracle)
    final['gain_over_best_member'] = final['gap_early_stop'] - best['gap_early_stop']
    final['gain_over_first'] = final['gap_early_stop'] - first['gap_early_stop']
    print(final, flush=True)
    yield final


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--families', default='dbof,netvlad,netfv,nextvlad,gru,lstm',
                        help='the logistic baseline always runs first')
    parser.add_argument('--preset', default='small')
    parser.add_argument('--train-videos', type=int, default=2000)
    parser.add_argument('--eval-videos', type=int, default=500)
    parser.add_argument('--top-classes', type=int, default=0, help='0: all 3862 classes')
    parser.add_argument('--steps', type=int, default=310)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--patience', type=int, default=3)
    parser.add_argument('--max-epochs', type=float, default=30)
    parser.add_argument('--skip-early-stop', action='store_true')
    parser.add_argument('--skip-dbof-2048', action='store_true')
    parser.add_argument('--root', default=None)
    parser.add_argument('--data-root', default=None,
                        help='use this generated data set instead (train* to train, '
                             'validate* both for early stopping and scoring; its oracle '
                             'file beside it), e.g. the default run\'s outputs/data/default-*')
    parser.add_argument('--results-name', default='learning')
    parser.add_argument('--skip-ensemble', action='store_true',
                        help='no first ensemble, students or final ensemble rows')
    parser.add_argument('--student-families', default='dbof,netvlad',
                        help='families distilled from the first ensemble (every family run '
                             'is its member)')
    args = parser.parse_args()

    root = args.root or tempfile.mkdtemp(prefix='bench_learning_')
    main_root = os.path.join(root, 'data')
    if args.data_root:
        main_root = args.data_root.rstrip('/')
    elif not os.path.exists(os.path.join(main_root, 'train0000.tfrecord')):
        # One generator (the seed fixes the class prototypes): the validate
        # split's two shards are the early-stopping set and the held-out set.
        synthetic.generate(main_root, args.train_videos + 2 * args.eval_videos, seed=11,
                           shards=2, validate_fraction=2 * args.eval_videos / (
                               args.train_videos + 2 * args.eval_videos),
                           test_fraction=0.0, top_classes=args.top_classes, overwrite=True)
    train = transformed_arrays(sorted(glob.glob(os.path.join(main_root, 'train*'))))
    validate_files = sorted(glob.glob(os.path.join(main_root, 'validate*')))
    test_files = validate_files if args.data_root else validate_files[1:]
    validate = transformed_arrays(validate_files if args.data_root else validate_files[:1])
    test = transformed_arrays(test_files)
    standardise([train, validate, test], train)
    oracle = oracle_gap(main_root, test_files)
    prior = eval_util.gap_at_k(np.tile(train[2].mean(0), (len(test[2]), 1)), test[2])
    print(f'held-out: oracle {oracle:.4f}, label prior {prior:.4f}', flush=True)

    families = ['logistic'] + [f for f in args.families.split(',') if f and f != 'logistic']
    jobs = [(family, family, args.preset, True) for family in families]
    if not args.skip_dbof_2048:
        # The seed's size and frame count; then all 300 frames for the speed-up.
        jobs.append(('dbof_2048', 'dbof', presets.DBoFConfig(
            2048, 512, input_batch_norm=False, sample_frames=40, dropout=0.5), True))
        jobs.append(('dbof_2048_all_frames', 'dbof', presets.DBoFConfig(
            2048, 512, input_batch_norm=False, sample_frames=0, dropout=0.5), False))
    rows, models = [], {}
    for name, family, preset, early in jobs:   # the table is rewritten after each row
        row, models[name] = run_family(name, family, preset, (train, validate, test), args,
                                       oracle, early)
        rows.append(row)
        write_table(rows, args, oracle, prior, len(train[2]), len(validate[2]), len(test[2]))
    if not args.skip_ensemble and not args.skip_early_stop:
        members = {family: models[family] for family in families}
        for row in ensemble_rows(members, rows, (train, validate, test), args, oracle):
            rows.append(row)
            write_table(rows, args, oracle, prior, len(train[2]), len(validate[2]),
                        len(test[2]))


def write_table(rows, args, oracle, prior, train_videos, validate_videos, heldout_videos):
    logistic = max(rows[0]['gap_budget'], rows[0].get('gap_early_stop', 0.0))
    for row in rows:
        row['beats_logistic'] = bool(
            max(row.get('gap_budget', 0), row.get('gap_early_stop', 0)) > logistic)
        if row['model'].startswith('dbof_2048'):
            row['speed_vs_seed'] = row['train_videos_per_s'] / SEED_DBOF_VIDEOS_PER_S
    report(args.results_name,
           ['model', 'parameters', 'train_videos_per_s', 'infer_videos_per_s', 'gap_budget',
            'budget_of_oracle', 'gap_early_stop', 'early_stop_of_oracle', 'early_stop_epochs',
            'beats_logistic', 'speed_vs_seed', 'gain_over_family', 'gain_over_best_member',
            'gain_over_first', 'weights'], rows,
           {'oracle_gap': oracle, 'label_prior_gap': prior, 'mean_pool_logistic_gap': logistic,
            'args': vars(args), 'train_videos': train_videos, 'validate_videos': validate_videos,
            'heldout_videos': heldout_videos, 'aggregating_families': AGGREGATING,
            'seed_dbof_2048_videos_per_s': SEED_DBOF_VIDEOS_PER_S})


if __name__ == '__main__':
    main()
