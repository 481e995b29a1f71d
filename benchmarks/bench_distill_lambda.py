"""Which distillation lambda serves the seed's result, chosen on select, shown on test.

    python benchmarks/bench_distill_lambda.py [--output-root outputs] [--lambdas 0,0.2,0.5]
        [--starts scratch,member] [--budget-factors 1,2] [--lr-factors 1,0.3]
        [--family dbof --teacher-scorer TeacherScorer-ensemble] [--results-name distill_lambda]

Reads the newest default run under `--output-root` (run `local_runner.py`
first): its Examples, transform graph, the DBoF member (`Trainer-dbof`) and
the first ensemble's teacher scores (`TeacherScorer-ensemble`: out-of-fold
by default). For each lambda it trains the DBoF student exactly as the
Distiller does (same input pipeline, budget and early stopping on select;
lambda 0 is the family trained on the labels alone through the same path)
and records, on select and on test:

- the student's GAP@20;
- the pair (DBoF member, student) with the EnsembleBuilder's own weight fit
  (`weight_search.fit_combination`, fitted on select), the seed's final
  artifact in small.

`--starts`: `scratch` starts the student at the label prior as a Trainer
does; `member` warm-starts it from the DBoF member's exported weights
(`training.warm_start`), its start scored on select as step 0.
`--budget-factors`: the student's budget as a multiple of the member's.

The Distiller's default lambda (`configs.DISTILL_LAMBDA`) is the one with
the best select GAP of the pair; test only reports. Writes
results/distill_lambda.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.bench_default_run import newest  # noqa: E402
from benchmarks.common import report  # noqa: E402
from components import artifact_files  # noqa: E402
from components.distiller import teacher_scores as scores_lib  # noqa: E402
from components.ensemble import weight_search  # noqa: E402
from pipeline import options as run_options  # noqa: E402
from trainer import input_pipeline, monitor, training  # noqa: E402
from yt8m import eval_util, features, splits  # noqa: E402


def predictions(model, dataset):
    return monitor.predict(model, monitor.cache_batches(dataset, 10 ** 6))


def served(model_dir: str, files):
    """The member's SavedModel on raw records of `files` (its own transform inside)."""
    serve = tf.saved_model.load(model_dir).signatures['serving_default']
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type='GZIP')]
    return np.concatenate([serve(examples=tf.constant(records[i:i + 64]))[features.PROBABILITIES]
                           .numpy() for i in range(0, len(records), 64)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--output-root', default=os.path.join(PROJECT, 'outputs'))
    parser.add_argument('--lambdas', default='0,0.2,0.5')
    parser.add_argument('--starts', default='scratch')
    parser.add_argument('--budget-factors', default='1')
    parser.add_argument('--lr-factors', default='1',
                        help="the student's learning rate as a multiple of its family's")
    parser.add_argument('--warmup-steps', default='0',
                        help="the student's linear LR warm-up in steps (TrainingConfig.warmup_steps)")
    parser.add_argument('--patiences', default='',
                        help="early stopping's patience in evaluations (default: the pipeline's)")
    parser.add_argument('--seeds', default='',
                        help="the student's random seeds (shuffle order, frame draws, dropout); "
                             "default: unseeded. The Distiller's seed is its TrainingConfig's "
                             "(0, its member's, unless told otherwise)")
    parser.add_argument('--results-name', default='distill_lambda')
    parser.add_argument('--family', default='dbof',
                        help="the student's family: its member is Trainer-<family>")
    parser.add_argument('--teacher-scorer', default='TeacherScorer-ensemble',
                        help='the TeacherScorer whose scores the students learn from')
    args = parser.parse_args()
    import tensorflow_transform as tft
    root = os.path.join(os.path.abspath(args.output_root), 'pipeline_root')
    examples = newest(os.path.join(root, 'YT8MExampleGen', 'examples', '*'))
    transform = tft.TFTransformOutput(newest(os.path.join(root, 'Transform', 'transform_graph', '*')))
    scores_uri = newest(os.path.join(root, args.teacher_scorer, 'teacher_scores', '*'))
    member_dir = os.path.join(newest(os.path.join(root, f'Trainer-{args.family}', 'model', '*')),
                              'Format-Serving')
    store = scores_lib.load(scores_uri)
    lookup = scores_lib.TeacherLookup(store)
    costs = artifact_files.read_json(scores_uri, artifact_files.TEACHER_SCORES_COSTS) or {}
    files = {split: sorted(glob.glob(os.path.join(examples, f'Split-{split}', '*')))
             for split in splits.SPLITS}
    member = {split: served(member_dir, files[split]) for split in (splits.SELECT, splits.TEST)}
    # The Distiller's own config: the pipeline's defaults, 10 epochs of train.
    config = run_options.RunOptions().training_config(args.family, student=True)
    config = config.resolve_epochs(len(store))
    rows = []
    variants = [(float(lam), start, float(factor), float(lr), int(warmup), int(patience), seed)
                for lam in args.lambdas.split(',') for start in args.starts.split(',')
                for factor in args.budget_factors.split(',')
                for lr in args.lr_factors.split(',')
                for warmup in args.warmup_steps.split(',')
                for patience in (args.patiences or str(config.patience)).split(',')
                for seed in (args.seeds.split(',') if args.seeds else [None])]
    for lam, start, factor, lr, warmup, patience, seed in variants:
        if seed is not None:
            seed = int(seed)
            tf.random.set_seed(seed)
        variant = dataclasses.replace(config, train_examples=int(config.train_examples * factor),
                                      learning_rate=config.base_learning_rate * lr,
                                      warmup_steps=warmup, patience=patience)
        train = scores_lib.make_distill_dataset(
            files[splits.TRAIN], transform, lookup, lam, config.batch_size,
            **({} if seed is None else {'seed': seed}),
            shuffle_buffer=config.shuffle_buffer, cache_bytes=config.input_cache_bytes,
            draw_frames=training.frames_to_draw(config))
        select_ds = input_pipeline.make_dataset(files[splits.SELECT], transform,
                                                config.batch_size, training=False)
        model, _, summary = training.train_model(
            variant, train, select_ds, frames_drawn_in_input=True,
            init_from=member_dir if start == 'member' else None)
        row = {'lambda': lam, 'start': start, 'budget_factor': factor, 'lr_factor': lr,
               'warmup_steps': warmup, 'patience': patience, 'seed': seed,
               'best_step': summary['best_step'], 'steps_run': summary['steps_run']}
        fitted = None
        for split in (splits.SELECT, splits.TEST):
            student, labels = predictions(model, input_pipeline.make_dataset(
                files[split], transform, config.batch_size, training=False))
            row[f'student_{split}_gap'] = eval_util.gap_at_k(student, labels)
            row[f'member_{split}_gap'] = eval_util.gap_at_k(member[split], labels)
            if fitted is None:        # fitted on select, applied unchanged to test
                fitted = weight_search.fit_combination([member[split], student], labels)
            combination, weights = fitted[0], fitted[1]
            row[f'pair_{split}_gap'] = eval_util.gap_at_k(
                weight_search.combine([member[split], student], weights, combination), labels)
        row.update(pair_weights=[round(float(w), 3) for w in weights], combination=combination)
        rows.append(row)
        print(row, flush=True)
    best = max(rows, key=lambda r: r['pair_select_gap'])
    report(args.results_name, ['lambda', 'start', 'budget_factor', 'lr_factor', 'warmup_steps',
                               'patience', 'seed', 'best_step',
                               'student_select_gap', 'student_test_gap', 'member_test_gap',
                               'pair_select_gap', 'pair_test_gap', 'pair_weights', 'combination'], rows,
           {'teacher_scores': scores_uri, 'soft_labels': costs.get('soft_labels', 'in-sample'),
            'chosen_on_select': {key: best[key] for key in
                                 ('lambda', 'start', 'budget_factor', 'lr_factor',
                                  'warmup_steps', 'patience')},
            'member': member_dir,
            'command': f'python benchmarks/bench_distill_lambda.py --lambdas {args.lambdas} '
                       f'--starts {args.starts} --budget-factors {args.budget_factors} '
                       f'--lr-factors {args.lr_factors} --warmup-steps {args.warmup_steps} '
                       f'--patiences {args.patiences or config.patience} --seeds {args.seeds} '
                       f'--family {args.family} '
                       f'--teacher-scorer {args.teacher_scorer} '
                       f'--results-name {args.results_name}'})


if __name__ == '__main__':
    main()
