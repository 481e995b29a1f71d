"""What exporting one model costs, with and without Keras' layer traces.

    python benchmarks/bench_export.py --transform-graph DIR --examples 'GLOB'
        [--repeats 2] [--families dbof,netvlad]

`trainer/export.py` saves the serving module without tf_keras' traces of
every layer's call functions (`save_traces=False`), which only
`keras.models.load_model` would read. This saves each family's small
preset both ways (the first save of a model is a warm-up and not counted),
loads each export back, and checks that both serve the same probabilities
on 16 records. Writes results/export.json.

`--transform-graph`: a Transform component's `transform_graph` artifact
(e.g. outputs/pipeline_root/Transform/transform_graph/<n>); `--examples`:
GZIP record files (e.g. the ExampleGen's Split-select/*).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402

from benchmarks.common import report  # noqa: E402
from components.io_utils import tree_bytes  # noqa: E402
from models import registry  # noqa: E402
from trainer import export  # noqa: E402
from yt8m import features  # noqa: E402


def save_with_traces(model, transform_layer, export_dir: str) -> None:
    """The export as it was: tf.saved_model.save with tf_keras' defaults."""
    module = export.ServingModule(model, transform_layer)
    tf.saved_model.save(module, export_dir, signatures={
        'serving_default': module.serve, 'transform_features': module.transform_features})


def timed(save, model, transform_layer, export_dir: str) -> float:
    shutil.rmtree(export_dir, ignore_errors=True)
    started = time.perf_counter()
    save(model, transform_layer, export_dir)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--transform-graph', required=True)
    parser.add_argument('--examples', required=True, help='glob of GZIP record files')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--families', default='dbof,netvlad')
    args = parser.parse_args()
    if not os.path.isdir(args.transform_graph):
        raise SystemExit(f'--transform-graph {args.transform_graph}: no such folder')
    files = sorted(glob.glob(args.examples))
    if not files:
        raise SystemExit(f'--examples {args.examples}: no files match')
    transform_layer = tft.TFTransformOutput(args.transform_graph).transform_features_layer()
    records = [record.numpy() for record in
               tf.data.TFRecordDataset(files, compression_type='GZIP').take(16)]
    ways = {'with_layer_traces': save_with_traces, 'without (trainer/export.py)':
            export.export_serving_model}
    rows = []
    work = tempfile.mkdtemp(prefix='bench_export_')
    try:
        for family in args.families.split(','):
            model = registry.build_model(family, 'small')
            model({features.FRAMES: tf.zeros([1, features.MAX_FRAMES, features.FRAME_SIZE]),
                   features.NUM_FRAMES: tf.constant([features.MAX_FRAMES], tf.int64)})
            served = {}
            for way, save in ways.items():
                export_dir = os.path.join(work, family, way.split()[0])
                timed(save, model, transform_layer, export_dir)     # warm-up
                seconds = min(timed(save, model, transform_layer, export_dir)
                              for _ in range(args.repeats))
                started = time.perf_counter()
                loaded = tf.saved_model.load(export_dir)
                load_seconds = time.perf_counter() - started
                served[way] = loaded.signatures['serving_default'](
                    examples=tf.constant(records))[features.PROBABILITIES].numpy()
                rows.append({'family': family, 'preset': 'small', 'export': way,
                             'save_s': round(seconds, 2), 'load_s': round(load_seconds, 2),
                             'bytes': tree_bytes(export_dir)})
            first, second = served.values()
            rows[-1]['max_abs_prediction_diff'] = float(np.max(np.abs(first - second)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report('export', ['family', 'preset', 'export', 'save_s', 'load_s', 'bytes',
                      'max_abs_prediction_diff'], rows,
           {'command': 'benchmarks/bench_export.py ' + ' '.join(sys.argv[1:]),
            'note': 'save_s: best of --repeats saves after a warm-up save'})


if __name__ == '__main__':
    main()
