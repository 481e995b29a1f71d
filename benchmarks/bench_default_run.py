"""README command 1, measured: the default run's wall time and its test-split table.

    python benchmarks/bench_default_run.py [--output-root outputs] [--skip-run]
        [--runner-arg=--distill=none --runner-arg=--teacher-folds=0 --results-name N]

Runs `local_runner.py --no-cache` (unless `--skip-run`: then the newest run
under `--output-root` is read), and scores, on the run's own **test** split
(the videos that chose nothing: not early stopping, not the ensemble's
weights, not the blessing's threshold):
- every model the run reported (its Evaluator's GAP@20 and Hit@1, from the
  report);
- the label prior (the run's own `prior` row);
- a mean-pool logistic regression (the `logistic` family through the
  Trainer's own `train_model`, early-stopped on the run's select split);
- the generator's oracle on the same test videos;
and each as a fraction of the oracle, with the report's seed result (the
final ensemble against its best member and the first ensemble, each
student against its family). Writes results/default_run.json, the
source of the README's default-run table.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

import tensorflow as tf  # noqa: E402

import local_runner  # noqa: E402
from benchmarks import bench_learning, bench_pipeline  # noqa: E402
from benchmarks.common import report  # noqa: E402
from components import io_utils  # noqa: E402
from pipeline import configs  # noqa: E402
from trainer.preprocessing import transformed_arrays  # noqa: E402
from yt8m import splits  # noqa: E402


def newest(pattern: str) -> str:
    found = sorted(glob.glob(pattern), key=os.path.getmtime)
    if not found:
        raise FileNotFoundError(f'nothing matches {pattern}: run local_runner.py first')
    return found[-1]


def split_file(examples_uri: str, split: str, folder: str) -> str:
    """One split of the run's Examples as a plain TFRecord file (the readers' input)."""
    path = os.path.join(folder, f'{split}.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        for record in io_utils.split_records(examples_uri, split, 10 ** 9):
            writer.write(record)
    return path


def mean_pool_logistic(files, batch_size: int, epochs: float) -> dict:
    """The `logistic` family, early-stopped on select, scored on test."""
    data = [transformed_arrays([files[name]]) for name in splits.SPLITS]
    bench_learning.standardise(data, data[0])
    train_videos = len(data[0][2])
    args = argparse.Namespace(batch_size=batch_size, steps=int(epochs * train_videos) // batch_size,
                              patience=3, max_epochs=epochs, skip_early_stop=False)
    row, _ = bench_learning.run_family('logistic', 'logistic', 'small', data, args, oracle=1.0)
    return {'gap_at_20': row['gap_early_stop'], 'early_stop_epochs': row['early_stop_epochs']}


def teacher_fold_costs(pipeline_root: str) -> dict:
    """Per Trainer of the newest run: its main model's training seconds and its
    out-of-fold copies' (yt8m/folds.py), from each training_summary.json."""
    costs = {}
    for trainer in sorted(glob.glob(os.path.join(pipeline_root, 'Trainer-*'))):
        run = newest(os.path.join(trainer, 'model_run', '*'))
        with open(os.path.join(run, 'training_summary.json')) as f:
            summary = json.load(f)
        copies = summary.get('teacher_folds') or []
        costs[os.path.basename(trainer)] = {
            'main_training_seconds': summary.get('training_seconds'),
            'fold_copies_training_seconds': sum(c['training_seconds'] for c in copies),
            'fold_copies': len(copies),
            'fold_copies_best_select_gap': [c['best_eval_gap'] for c in copies]}
    return costs


def component_seconds(metadata_path: str) -> dict:
    """Seconds each component of the newest run took (ML Metadata), longest first."""
    rows, _ = bench_pipeline.component_rows(metadata_path)
    return {row['component']: round(row['seconds'], 1)
            for row in sorted(rows, key=lambda row: -row['seconds'])}


def measured_before(results_name: str, run_dir: str):
    """The runner's seconds from an earlier results file of this same run, if any."""
    path = os.path.join(PROJECT, 'benchmarks', 'results', f'{results_name}.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        earlier = json.load(f)
    return earlier.get('runner_seconds') if earlier.get('report') == run_dir else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--output-root', default=os.path.join(PROJECT, 'outputs'))
    parser.add_argument('--skip-run', action='store_true',
                        help='read the newest run under --output-root instead of running')
    parser.add_argument('--results-name', default='default_run')
    parser.add_argument('--skip-logistic', action='store_true',
                        help='leave out the mean-pool logistic row: it holds every split\'s '
                             'frames as float32 arrays (about 20 GB at 4800 videos)')
    parser.add_argument('--videos', type=int, default=configs.DEFAULT_VIDEOS,
                        help="the generated data set's size (local_runner.py --videos): "
                             'the default, or a larger run, e.g. 4800 with --results-name '
                             'larger_run')
    parser.add_argument('--runner-arg', action='append', default=[], metavar='FLAG',
                        help="one more local_runner.py flag (repeatable), e.g. "
                             "--runner-arg=--distill=none --runner-arg=--teacher-folds=0 "
                             "for the members without the seed's students")
    parser.add_argument('--setup-seconds', type=float,
                        help='what `bash scripts/setup.sh` took just before, timed by the caller '
                             '(README command 1 is setup + run): stored beside the runner\'s')
    args = parser.parse_args()
    output_root = os.path.abspath(args.output_root)

    wall = None
    if not args.skip_run:
        started = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(PROJECT, 'local_runner.py'),
                        '--output-root', output_root, '--no-cache', '--videos', str(args.videos),
                        *args.runner_arg], check=True, cwd=PROJECT)
        wall = time.perf_counter() - started

    run_dir = os.path.dirname(newest(os.path.join(output_root, 'report', 'run-*', 'report.json')))
    if wall is None:
        wall = measured_before(args.results_name, run_dir)
    with open(os.path.join(run_dir, 'report.json')) as f:
        run_report = json.load(f)
    examples_uri = newest(os.path.join(output_root, 'pipeline_root', 'YT8MExampleGen',
                                       'examples', '*'))
    data_root = local_runner.default_data_root(output_root, args.videos)
    sizes = (run_report.get('input_records') or {}).get('good_records') or {}

    with tempfile.TemporaryDirectory() as folder:
        files = {name: split_file(examples_uri, name, folder) for name in splits.SPLITS}
        oracle = bench_learning.oracle_gap(data_root, [files[splits.TEST]])
        logistic = ({'gap_at_20': None, 'not_run': '--skip-logistic'} if args.skip_logistic
                    else mean_pool_logistic(files, configs.BATCH_SIZE, configs.EPOCHS))

    rows = []
    for member in run_report['members']:
        name = 'label prior' if member['member'] == 'prior' else member['member']
        rows.append({'model': name, 'gap_at_20': member.get('gap_at_20'),
                     'hit_at_1': member.get('hit_at_1'), 'blessed': member.get('blessed')})
        if member.get('ensemble'):   # what the select split chose
            rows[-1].update({key: member['ensemble'].get(key)
                             for key in ('weights', 'combination', 'fitted_on_split')})
    rows.insert(1, {'model': 'mean-pool logistic regression', **logistic})
    fold_costs = teacher_fold_costs(os.path.join(output_root, 'pipeline_root'))
    rows.append({'model': 'generator oracle', 'gap_at_20': oracle})
    for row in rows:
        row['of_oracle'] = row['gap_at_20'] / oracle if row.get('gap_at_20') else None
    report(args.results_name, ['model', 'gap_at_20', 'hit_at_1', 'of_oracle', 'blessed'], rows,
           {'split': splits.TEST, 'split_sizes': sizes, 'runner_seconds': wall,
            'setup_seconds': args.setup_seconds,
            'setup_and_runner_seconds': (args.setup_seconds + wall
                                         if args.setup_seconds is not None and wall else None),
            'seed_result': run_report.get('seed_result'),
            'teacher_fold_copies': fold_costs,
            'component_seconds': component_seconds(
                os.path.join(output_root, 'metadata', 'metadata.db')),
            'report': run_dir, 'examples': examples_uri, 'data_root': data_root,
            'videos': args.videos,
            'command': (' '.join(['local_runner.py --no-cache --videos', str(args.videos),
                                  *args.runner_arg]) if wall else None)})


if __name__ == '__main__':
    main()
