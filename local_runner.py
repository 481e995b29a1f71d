"""Runs the YouTube-8M pipeline locally: LocalDagRunner, Beam, SQLite ML Metadata.

    python local_runner.py                      # embedded default data
    python local_runner.py --data-root DIR      # real YouTube-8M files
    python local_runner.py --families dbof,netvlad --epochs 20 --batch-size 128 \
        -- --direct_running_mode=multi_processing --direct_num_workers=2

Arguments after `--` go to Beam unchanged. Outputs land under --output-root
(with --artifact-root gs://..., everything but ML Metadata lands there):
`pipeline_root/` (artifacts), `metadata/metadata.db` (ML Metadata),
`serving_model/<model name>/<version>/` (pushed models, TF Serving layout),
`report/run-<time>/` (report.md, gap_vs_size.png), `data/` (default data),
`logs/run-<time>.log` (everything TFX, Beam and TensorFlow logged; the
console shows one line per component start and end, `--verbose` all of it).
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
# TensorFlow's C++ start-up lines (CUDA plugin registration on a CPU machine)
# print before any logging is set up; only --verbose shows them.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2' if '--verbose' in sys.argv else '3')
# BFC allocator: 1.3-3x faster steps on these low-bandwidth CPUs (must precede TF import).
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
if '--verbose' not in sys.argv:   # libraries' notices about their own future, at import
    warnings.filterwarnings('ignore', category=FutureWarning)

import argparse
import logging
import time
from typing import Optional, Sequence

import tensorflow as tf

from pipeline import configs, filesystems
from pipeline.options import PipelinePaths, RunOptions, split_beam_args
from pipeline.pipeline import create_pipeline
from yt8m import reader

logger = logging.getLogger('local_runner')

# The DirectRunner stages no packages. Naming an SDK image stops TFX from
# building a throwaway tfx sdist before every Beam component (about 4 s each,
# `tfx.utils.dependency_utils`); a remote runner gets its own args after `--`.
DEFAULT_BEAM_ARGS = ['--direct_running_mode=in_memory', '--direct_num_workers=1',
                     '--sdk_container_image=apache/beam_python3.10_sdk:2.61.0']


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv, beam_args = split_beam_args(argv)
    parser = argparse.ArgumentParser(description='Run the pipeline locally.')
    parser.add_argument('--data-root', help='folder of YouTube-8M train*/validate* '
                        '.tfrecord files (default: generated synthetic data)')
    parser.add_argument('--output-root', default='outputs', help='where everything lands')
    parser.add_argument('--artifact-root', metavar='URI',
                        help='put pipeline_root/, serving_model/ and report/ here instead, '
                             'e.g. gs://BUCKET/yt8m (ML Metadata stays under --output-root)')
    parser.add_argument('--videos', type=int, default=configs.DEFAULT_VIDEOS,
                        help='size of the generated default data set')
    parser.add_argument('--no-cache', action='store_true', help='re-run every component')
    parser.add_argument('--verbose', action='store_true',
                        help="stream everything TFX, Beam and TensorFlow log to the console "
                             "(it always goes to the log file under --output-root)")
    RunOptions.add_arguments(parser)
    args = parser.parse_args(argv)
    args.beam_args = beam_args or DEFAULT_BEAM_ARGS
    # Option mistakes (an unknown family, a typo in a training option) are
    # reported by main() with the log path, like every mistake found before the run.
    args.options, args.options_error = None, None
    try:
        args.options = RunOptions.from_args(args)
    except ValueError as err:
        args.options_error = str(err)
    return args


def default_data_root(output_root: str, videos: int) -> str:
    return os.path.join(output_root, 'data', f'default-{videos}-seed{configs.DEFAULT_SEED}'
                        f'-top{configs.DEFAULT_TOP_CLASSES}'
                        f'-val{configs.DEFAULT_VALIDATE_FRACTION:.3g}')


def ensure_default_data(output_root: str, videos: int) -> str:
    """Generates the embedded default data set once; later runs reuse it."""
    from yt8m import synthetic
    data_root = default_data_root(output_root, videos)
    if tf.io.gfile.exists(os.path.join(data_root, '_SUCCESS')):
        return data_root
    logger.info('Generating %d synthetic videos into %s (once)', videos, data_root)
    staging = data_root + '.partial'
    if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)
    synthetic.generate(staging, videos, configs.DEFAULT_SEED, shards=2,
                       validate_fraction=configs.DEFAULT_VALIDATE_FRACTION, test_fraction=0.0,
                       top_classes=configs.DEFAULT_TOP_CLASSES,
                       params_out=data_root + '_oracle.npz', overwrite=True)
    tf.io.gfile.rename(staging, data_root)
    with tf.io.gfile.GFile(os.path.join(data_root, '_SUCCESS'), 'w') as f:
        f.write('ok\n')
    return data_root


def absolute(path: str) -> str:
    """A local path made absolute; a URI (gs://...) as it is."""
    return path if '://' in path else os.path.abspath(path)


def check_output_root(output_root: str) -> None:
    """Fails before any work when the output root cannot be written (any filesystem)."""
    try:
        tf.io.gfile.makedirs(output_root)
        probe = os.path.join(output_root, f'.write-probe-{os.getpid()}')
        with tf.io.gfile.GFile(probe, 'w') as f:
            f.write('ok')
        tf.io.gfile.remove(probe)
    except (OSError, tf.errors.OpError) as err:
        raise PermissionError(f'{output_root}: output root is not writable ({err})') from None


def newest_child(folder: str) -> Optional[str]:
    if not tf.io.gfile.isdir(folder):
        return None
    children = sorted(tf.io.gfile.listdir(folder))
    return os.path.join(folder, children[-1].rstrip('/')) if children else None


class UsageError(ValueError):
    """A mistake in the flags or the paths, found before any component runs."""


def _log_dir(output_root: str) -> str:
    """<output root>/logs, or a temporary folder when the root cannot hold it."""
    folder = os.path.join(output_root, 'logs')
    try:
        os.makedirs(folder, exist_ok=True)
        return folder
    except OSError:
        import tempfile
        return os.path.join(tempfile.gettempdir(), 'yt8m-logs')


def main(argv: Sequence[str]) -> int:
    """Runs the pipeline; returns 0, 1 (a component failed) or 2 (a usage mistake)."""
    from pipeline import console
    args = parse_args(argv)
    output_root = os.path.abspath(args.output_root)   # local: ML Metadata (SQLite) lives here
    log_path = console.setup_logging(_log_dir(output_root), verbose=args.verbose)
    try:
        prepared = prepare(args, output_root)
    except (UsageError, FileNotFoundError, PermissionError, ValueError) as err:
        logger.exception('Stopped before the run')
        print(f'Error: {err}\nFull log: {log_path}', file=sys.stderr)
        return 2
    return run(args, prepared, log_path)


def prepare(args: argparse.Namespace, output_root: str) -> dict:
    """Everything checked and resolved before the first component runs."""
    if args.options_error:
        raise UsageError(args.options_error)
    filesystems.register_for([args.data_root, args.artifact_root])
    check_output_root(output_root)
    artifact_root = absolute(args.artifact_root) if args.artifact_root else output_root
    if artifact_root != output_root:
        check_output_root(artifact_root)
    data_root = (absolute(args.data_root) if args.data_root
                 else ensure_default_data(output_root, args.videos))
    reader.list_split_files(data_root, 'train')   # clear error before any work
    has_validate = bool(tf.io.gfile.glob(os.path.join(data_root, 'validate*.tfrecord')))
    options = args.options.with_budget(default_epochs=configs.EPOCHS)
    paths = PipelinePaths(
        pipeline_root=os.path.join(artifact_root, 'pipeline_root'), data_root=data_root,
        serving_model_dir=os.path.join(artifact_root, 'serving_model'),
        report_dir=os.path.join(artifact_root, 'report'), has_validate_files=has_validate)
    return {'options': options, 'paths': paths,
            'metadata': os.path.join(output_root, 'metadata', 'metadata.db')}


def run(args: argparse.Namespace, prepared: dict, log_path: str) -> int:
    from tfx.orchestration import metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from absl import logging as absl_logging
    from pipeline import console
    absl_logging.set_verbosity(absl_logging.INFO)
    options, paths = prepared['options'], prepared['paths']
    pipeline = create_pipeline(
        paths, options,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            prepared['metadata']),
        beam_pipeline_args=args.beam_args, enable_cache=not args.no_cache)
    story = None
    if not args.verbose:
        story = console.RunConsole(prepared['metadata'], pipeline.pipeline_info.pipeline_name,
                                   len(pipeline.components))
        logging.getLogger().addHandler(story)
    print(f'Running {len(pipeline.components)} components on {paths.data_root} '
          f'(log: {log_path})', flush=True)
    started = time.time()
    try:
        LocalDagRunner().run(pipeline)
    except Exception as err:   # the cause in one sentence; the traceback stays in the log
        logger.exception('The run failed')
        node = story.current if story else None
        print(f'\n{console.failure_message(node, err, options.batch_size, options.preset)}'
              f'\nFull log: {log_path}', file=sys.stderr)
        return 1
    finally:
        if story:
            logging.getLogger().removeHandler(story)
            story.close()
    print(f'\nPipeline finished in {time.time() - started:.0f} s')
    report = newest_child(paths.report_dir)
    if report:
        import json
        with tf.io.gfile.GFile(os.path.join(report, 'report.json')) as f:
            report_json = json.load(f)
        print('\n'.join([console.report_title(report_json),
                         *console.report_table(report_json),
                         *console.seed_result_lines(report_json)]))
    print(f'\nReport:        {report}/report.md')
    for name in options.model_names():
        pushed = newest_child(os.path.join(paths.serving_model_dir,
                                           configs.serving_model_name(name)))
        print(f'Pushed {name:9s} {pushed or "(not pushed: not blessed)"}')
    print(f'ML Metadata:   {prepared["metadata"]}')
    print(f'Full log:      {log_path}')
    return 0


if __name__ == '__main__':
    sys.exit(filesystems.exit_code(main(sys.argv[1:])))
