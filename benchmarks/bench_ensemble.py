"""Ensemble cost: load time, inference videos/s and bytes, members vs ensemble.

    python benchmarks/bench_ensemble.py [--families dbof,netvlad] [--preset small]
                                        [--videos 64] [--batch-size 16]

Exports untrained members of `--preset` with the pipeline's serving contract,
builds one ensemble SavedModel with the EnsembleBuilder executor (equal
weights), then for each member and the ensemble measures `tf.saved_model.load`
time, `serving_default` throughput on serialized generated records (after one
warm-up batch, all cores of this machine: 2 here) and bytes on disk.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402
from tfx.types import standard_artifacts  # noqa: E402

from benchmarks.common import report  # noqa: E402
from components import io_utils  # noqa: E402
from components.ensemble import executor  # noqa: E402
from models.registry import build_model  # noqa: E402
from trainer.export import export_serving_model  # noqa: E402
from trainer.preprocessing import transform_videos  # noqa: E402
from yt8m import synthetic  # noqa: E402


def measure(name: str, model_dir: str, records, batch_size: int) -> dict:
    started = time.perf_counter()
    serve = tf.saved_model.load(model_dir).signatures['serving_default']
    load_seconds = time.perf_counter() - started
    batches = [tf.constant(records[i:i + batch_size]) for i in range(0, len(records), batch_size)]
    serve(examples=batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches:
        serve(examples=batch)['probabilities'].numpy()
    seconds = time.perf_counter() - started
    return {'model': name, 'bytes': io_utils.tree_bytes(model_dir),
            'load_s': load_seconds, 'videos': len(records),
            'videos_per_s': len(records) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--families', default='dbof,netvlad')
    parser.add_argument('--preset', default='small')
    parser.add_argument('--videos', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=16)
    args = parser.parse_args()
    families = args.families.split(',')
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, 'data')
        synthetic.generate(data, args.videos, seed=0, validate_fraction=0, test_fraction=0)
        records = [r.numpy() for r in tf.data.TFRecordDataset(
            sorted(glob.glob(os.path.join(data, 'train*.tfrecord'))))][:args.videos]
        members = []
        for family in families:
            artifact = standard_artifacts.Model()
            artifact.uri = os.path.join(tmp, family)
            export_serving_model(build_model(family, args.preset), transform_videos,
                                 os.path.join(artifact.uri, 'Format-Serving'))
            members.append(artifact)
        output = standard_artifacts.Model()
        output.uri = os.path.join(tmp, 'ensemble')
        os.makedirs(output.uri)
        started = time.perf_counter()
        executor.Executor().Do(
            {executor.model_key(i): [m] for i, m in enumerate(members)},
            {executor.OUTPUT_KEY: [output]},
            {'member_names': json.dumps(families), 'weighting': 'equal',
             'size_budget_bytes': executor.DEFAULT_BUDGET, 'choose_subset': 0})
        build_seconds = time.perf_counter() - started
        rows = [measure(f'{f} ({args.preset})', os.path.join(m.uri, 'Format-Serving'),
                        records, args.batch_size) for f, m in zip(families, members)]
        rows.append(measure('ensemble(' + '+'.join(families) + ')',
                            os.path.join(output.uri, 'Format-Serving'), records,
                            args.batch_size))
    report('ensemble', ['model', 'bytes', 'load_s', 'videos', 'videos_per_s'], rows,
           extra={'build_seconds': build_seconds, 'batch_size': args.batch_size,
                  'preset': args.preset})


if __name__ == '__main__':
    main()
