"""Runs the YouTube-8M pipeline locally: LocalDagRunner, Beam, SQLite ML Metadata.

    python local_runner.py                      # embedded default data
    python local_runner.py --data-root DIR      # real YouTube-8M files
    python local_runner.py --families dbof,netvlad --epochs 20 --batch-size 128 \
        -- --direct_running_mode=multi_processing --direct_num_workers=2

Arguments after `--` go to Beam unchanged. Outputs land under --output-root:
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
import tempfile
import time
from typing import List, Optional, Sequence

import tensorflow as tf

from pipeline import configs
from pipeline.pipeline import check_families, create_pipeline
from yt8m import reader

logger = logging.getLogger('local_runner')

# The DirectRunner stages no packages. Naming an SDK image stops TFX from
# building a throwaway tfx sdist before every Beam component (about 4 s each,
# `tfx.utils.dependency_utils`); a remote runner gets its own args after `--`.
DEFAULT_BEAM_ARGS = ['--direct_running_mode=in_memory', '--direct_num_workers=1',
                     '--sdk_container_image=apache/beam_python3.10_sdk:2.61.0']


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    beam_args: List[str] = []
    if '--' in argv:
        split = argv.index('--')
        argv, beam_args = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', help='folder of YouTube-8M train*/validate* '
                        '.tfrecord files (default: generated synthetic data)')
    parser.add_argument('--output-root', default='outputs', help='where everything lands')
    parser.add_argument('--families', default=','.join(configs.DEFAULT_FAMILIES),
                        help='comma-separated model families')
    parser.add_argument('--epochs', type=float, default=configs.EPOCHS,
                        help='training budget in passes over the train split (each '
                             'model stops earlier when eval GAP@20 stalls)')
    parser.add_argument('--train-examples', type=int, default=0,
                        help='training budget in examples (overrides --epochs)')
    parser.add_argument('--batch-size', type=int, default=configs.BATCH_SIZE)
    parser.add_argument('--patience', type=int, default=3,
                        help='stop after this many evaluations without a GAP@20 gain (0: off)')
    parser.add_argument('--videos', type=int, default=configs.DEFAULT_VIDEOS,
                        help='size of the generated default data set')
    parser.add_argument('--preset', default=configs.DEFAULT_PRESET,
                        help='model size preset: tiny, small or seed')
    parser.add_argument('--ema-steps', type=int, default=0,
                        help='EMA weight-averaging steps after the main training (0: off)')
    parser.add_argument('--size-budget-bytes', type=int, default=configs.SIZE_BUDGET_BYTES,
                        help='the ensemble graph must be smaller than this on disk')
    parser.add_argument('--choose-subset', action='store_true',
                        help='over budget: keep the best subset of members that fits')
    parser.add_argument('--quantization', default=configs.QUANTIZATION_MODE,
                        choices=['uniform', 'per_channel', 'kmeans', 'float16', 'none'],
                        help='how ensemble members are quantized')
    parser.add_argument('--distill', default=','.join(configs.DISTILL_FAMILIES),
                        help="student family per distillation level, e.g. 'dbof,netvlad' "
                             "(the ensemble teaches level 1); 'none' to skip")
    parser.add_argument('--gap-floor', type=float, default=configs.GAP_FLOOR)
    parser.add_argument('--min-gain-over-prior', type=float,
                        default=configs.MIN_GAIN_OVER_PRIOR,
                        help='blessing needs GAP@20 >= the label prior\'s + this')
    parser.add_argument('--no-cache', action='store_true', help='re-run every component')
    args = parser.parse_args(argv)
    args.beam_args = beam_args or DEFAULT_BEAM_ARGS
    args.families = [f.strip() for f in args.families.split(',') if f.strip()]
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


def training_examples(data_root: str, epochs: float, has_validate_files: bool) -> int:
    """`epochs` passes over the train split, counted from the train files' records.

    Counting reads the records without parsing them (seconds for the default
    data); for the full release pass --train-examples instead.
    """
    files = reader.list_split_files(data_root, 'train')
    videos = int(tf.data.TFRecordDataset(files).reduce(0, lambda count, _: count + 1))
    if not has_validate_files:   # the hash split keeps 9 of 10 buckets for training
        videos = videos * (configs.HASH_SPLIT_TOTAL_BUCKETS - configs.HASH_SPLIT_EVAL_BUCKETS
                           ) // configs.HASH_SPLIT_TOTAL_BUCKETS
    logger.info('Budget: %g epochs x %d training videos', epochs, videos)
    return max(1, int(round(epochs * videos)))


def check_output_root(output_root: str) -> None:
    """Fails before any work when the output root cannot be written."""
    try:
        tf.io.gfile.makedirs(output_root)
        with tempfile.NamedTemporaryFile(dir=output_root):
            pass
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
    data_root = (os.path.abspath(args.data_root) if args.data_root
                 else ensure_default_data(output_root, args.videos))
    reader.list_split_files(data_root, 'train')   # clear error before any work
    has_validate = bool(tf.io.gfile.glob(os.path.join(data_root, 'validate*.tfrecord')))
    train_examples = args.train_examples or training_examples(data_root, args.epochs,
                                                              has_validate)

    serving_model_dir = os.path.join(output_root, 'serving_model')
    report_dir = os.path.join(output_root, 'report')
    pipeline = create_pipeline(
        pipeline_root=os.path.join(output_root, 'pipeline_root'),
        data_root=data_root, serving_model_dir=serving_model_dir, report_dir=report_dir,
        families=families, has_validate_files=has_validate,
        train_examples=train_examples, batch_size=args.batch_size, gap_floor=args.gap_floor,
        min_gain_over_prior=args.min_gain_over_prior,
        training_options={'preset': args.preset, 'ema_steps': args.ema_steps,
                          'patience': args.patience},
        size_budget_bytes=args.size_budget_bytes, choose_subset=args.choose_subset,
        quantization_mode=None if args.quantization == 'none' else args.quantization,
        distill_families=[] if args.distill == 'none' else args.distill.split(','),
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            os.path.join(output_root, 'metadata', 'metadata.db')),
        beam_pipeline_args=args.beam_args, enable_cache=not args.no_cache)
    started = time.time()
    LocalDagRunner().run(pipeline)
    logger.info('Pipeline finished in %.0f s', time.time() - started)
    print(f'\nReport:        {newest_child(report_dir)}/report.md')
    students = [] if args.distill == 'none' else args.distill.split(',')
    for family in [*families, 'ensemble', *(f'student_{i}' for i in range(1, len(students) + 1))]:
        pushed = newest_child(os.path.join(serving_model_dir, configs.serving_model_name(family)))
        print(f'Pushed {family:8s} {pushed or "(not pushed: not blessed)"}')
    print(f'ML Metadata:   {os.path.join(output_root, "metadata", "metadata.db")}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
