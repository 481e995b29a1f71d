"""Runs the YouTube-8M pipeline locally: LocalDagRunner, Beam, SQLite ML Metadata.

    python local_runner.py                      # embedded default data
    python local_runner.py --data-root DIR      # real YouTube-8M files
    python local_runner.py --families dbof,netvlad --epochs 20 --batch-size 128 \
        -- --direct_running_mode=multi_processing --direct_num_workers=2

Arguments after `--` go to Beam unchanged. Outputs land under --output-root
(with --artifact-root gs://..., everything but ML Metadata lands there):
`pipeline_root/` (artifacts), `metadata/metadata.db` (ML Metadata),
`serving_model/<model name>/<version>/` (pushed models, TF Serving layout),
`report/run-<time>/` (report.md, gap_vs_size.png), `data/` (default data).
"""

from __future__ import annotations

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# BFC allocator: 1.3-3x faster steps on these low-bandwidth CPUs (must precede TF import).
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')

import argparse
import logging
import sys
import time
from typing import Optional, Sequence

import tensorflow as tf

from pipeline import configs
from pipeline.options import RunOptions, split_beam_args
from pipeline.pipeline import check_families, create_pipeline
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
    RunOptions.add_arguments(parser)
    args = parser.parse_args(argv)
    args.beam_args = beam_args or DEFAULT_BEAM_ARGS
    args.options = RunOptions.from_args(args)
    args.families = list(args.options.families)
    return args


def ensure_default_data(output_root: str, videos: int) -> str:
    """Generates the embedded default data set once; later runs reuse it."""
    from yt8m import synthetic
    data_root = os.path.join(output_root, 'data', f'default-{videos}-seed{configs.DEFAULT_SEED}'
                             f'-top{configs.DEFAULT_TOP_CLASSES}'
                             f'-val{configs.DEFAULT_VALIDATE_FRACTION:g}')
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


def main(argv: Sequence[str]) -> int:
    from tfx.orchestration import metadata
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s',
                        force=True)

    args = parse_args(argv)
    families = check_families(args.families)
    output_root = os.path.abspath(args.output_root)
    check_output_root(output_root)
    artifact_root = absolute(args.artifact_root) if args.artifact_root else output_root
    if artifact_root != output_root:
        check_output_root(artifact_root)
    data_root = (absolute(args.data_root) if args.data_root
                 else ensure_default_data(output_root, args.videos))
    reader.list_split_files(data_root, 'train')   # clear error before any work
    has_validate = bool(tf.io.gfile.glob(os.path.join(data_root, 'validate*.tfrecord')))
    options = args.options
    train_examples = options.resolve_train_examples(data_root, has_validate,
                                                    default_epochs=configs.EPOCHS)

    serving_model_dir = os.path.join(artifact_root, 'serving_model')
    report_dir = os.path.join(artifact_root, 'report')
    pipeline = create_pipeline(
        pipeline_root=os.path.join(artifact_root, 'pipeline_root'),
        data_root=data_root, serving_model_dir=serving_model_dir, report_dir=report_dir,
        has_validate_files=has_validate, **options.pipeline_kwargs(train_examples),
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            os.path.join(output_root, 'metadata', 'metadata.db')),
        beam_pipeline_args=args.beam_args, enable_cache=not args.no_cache)
    started = time.time()
    LocalDagRunner().run(pipeline)
    logger.info('Pipeline finished in %.0f s', time.time() - started)
    print(f'\nReport:        {newest_child(report_dir)}/report.md')
    students = options.distill
    for family in [*families, 'ensemble', *(f'student_{i}' for i in range(1, len(students) + 1))]:
        pushed = newest_child(os.path.join(serving_model_dir, configs.serving_model_name(family)))
        print(f'Pushed {family:8s} {pushed or "(not pushed: not blessed)"}')
    print(f'ML Metadata:   {os.path.join(output_root, "metadata", "metadata.db")}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
