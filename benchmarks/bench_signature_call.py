"""What TFMA's positional call of the serving signature costs, and the Evaluator's cut.

    python benchmarks/bench_signature_call.py --model-dir DIR --examples 'GLOB'
        [--videos 410]

TFMA 0.47 calls a SavedModel's serving signature with the batch of
serialized records as a positional argument. A loaded signature takes
keywords only, so TensorFlow 2.16 first fails to bind its structured
signature and formats a TypeError holding the repr of the batch, then
falls back to the flat signature. This times one call on `--videos`
records in one batch three ways: positionally with numpy's default print
options, by keyword, and positionally through the wrapper the Evaluator
hands TFMA (`components/evaluator/keyword_call.py`). Writes
results/signature_call.json.

`--model-dir`: a pushed model (e.g. outputs/serving_model/yt8m_dbof/<n>);
`--examples`: GZIP record files (e.g. the ExampleGen's Split-test/*).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from benchmarks.common import report  # noqa: E402
from components.evaluator import keyword_call  # noqa: E402


def seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--model-dir', required=True)
    parser.add_argument('--examples', required=True, help='glob of GZIP record files')
    parser.add_argument('--videos', type=int, default=410)
    args = parser.parse_args()
    files = sorted(glob.glob(args.examples))
    if not files:
        raise SystemExit(f'--examples {args.examples}: no files match')
    signature = tf.saved_model.load(args.model_dir).signatures['serving_default']
    (input_name,) = signature.structured_input_signature[1]
    records = [record.numpy() for record in
               tf.data.TFRecordDataset(files, compression_type='GZIP').take(args.videos)]
    batch = tf.constant(records, dtype=tf.string)
    signature(**{input_name: batch})   # traced and warm before any timing
    rows = [{'call': 'positional, numpy default print options',
             'seconds': seconds(lambda: signature(batch))},
            {'call': 'by keyword',
             'seconds': seconds(lambda: signature(**{input_name: batch}))}]
    wrapped = keyword_call.KeywordSignature(signature)
    rows.append({'call': 'positional, through keyword_call.KeywordSignature (the Evaluator)',
                 'seconds': seconds(lambda: wrapped(batch))})
    report('signature_call', ['call', 'seconds'], rows, {
        'videos': len(records), 'model_dir': args.model_dir,
        'command': ' '.join(['python benchmarks/bench_signature_call.py', *sys.argv[1:]])})


if __name__ == '__main__':
    main()
