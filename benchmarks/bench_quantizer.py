"""Quantizer: size and prediction change per family (untrained models, random records).

    python -m benchmarks.bench_quantizer [--preset small] [--modes uniform]
                                          [--families dbof,netvlad,...]

For each family: build at `preset` (random init), export with the plain
`transform_videos` as the transform, quantize, then compare the SavedModels'
variable bytes, total bytes and the float vs quantized `probabilities` on
16 synthetic records. Writes `benchmarks/results/quantizer.json`.
Untrained weights are near-Gaussian, so the prediction numbers are a sanity
check of the method, not of a trained model's GAP (the component's report
gives that on the eval split).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.common import report  # noqa: E402
from components import io_utils  # noqa: E402
from components.quantizer import executor as executor_lib  # noqa: E402
from models import optim, registry  # noqa: E402
from tests.records import make_record  # noqa: E402
from trainer.export import export_serving_model  # noqa: E402
from trainer.preprocessing import transform_videos  # noqa: E402
from yt8m import features  # noqa: E402

COLUMNS = ['family', 'mode', 'params', 'quantized_vars', 'float_MB', 'quantized_MB',
           'variables_ratio', 'saved_model_ratio', 'max_weight_err', 'max_pred_diff',
           'top1_agree', 'quantize_s']


def _variables_bytes(saved_model_dir: str) -> int:
    return io_utils.tree_bytes(os.path.join(saved_model_dir, 'variables'))


def _probabilities(saved_model_dir: str, records) -> np.ndarray:
    signature = tf.saved_model.load(saved_model_dir).signatures['serving_default']
    return signature(examples=tf.constant(records))[features.PROBABILITIES].numpy()


def run(families, preset: str, modes, workdir: str):
    optim.skip_autograph_for_tf_keras()
    records = [make_record(video_id=b'v%d' % i, num_frames=5 + 7 * i, seed=i)
               for i in range(16)]
    rows = []
    for family in families:
        source = os.path.join(workdir, family, 'source')
        model = registry.build_model(family, preset)
        params = int(model.count_params())
        export_serving_model(model, transform_videos, source)
        before = _probabilities(source, records)
        for mode in modes:
            target = os.path.join(workdir, family, mode)
            started = time.time()
            result = executor_lib.quantize_saved_model(source, target, family, preset, mode)
            seconds = time.time() - started
            after = _probabilities(target, records)
            row = {'family': family, 'mode': mode, 'params': params,
                   'quantized_vars': f"{result['num_quantized']}/{result['num_variables']}",
                   'float_MB': _variables_bytes(source) / 1e6,
                   'quantized_MB': _variables_bytes(target) / 1e6,
                   'variables_ratio': _variables_bytes(target) / _variables_bytes(source),
                   'saved_model_ratio': result['saved_model_size_ratio'],
                   'max_weight_err': result['max_abs_weight_error'],
                   'max_pred_diff': float(np.max(np.abs(before - after))),
                   'top1_agree': float(np.mean(before.argmax(1) == after.argmax(1))),
                   'quantize_s': round(seconds, 1)}
            rows.append(row)
            print(row, flush=True)
            shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(os.path.join(workdir, family), ignore_errors=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--preset', default='small')
    parser.add_argument('--modes', default='uniform')
    parser.add_argument('--families', default=','.join(registry.FAMILIES))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        rows = run(args.families.split(','), args.preset, args.modes.split(','), workdir)
    report('quantizer', COLUMNS, rows, extra={'preset': args.preset,
                                              'records': 16, 'weights': 'random init'})


if __name__ == '__main__':
    main()
