"""Input-pipeline throughput: videos/s parsed, dequantized, normalised and sampled.

    python benchmarks/bench_input_pipeline.py [--videos 400] [--batch-size 32]

Runs the same functions the pipeline runs (reader.parse_serialized ->
preprocessing_fn -> sample_with_replacement) on generated records, on all
cores of this machine (2 here), after one warm-up batch.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

from benchmarks.common import report  # noqa: E402
from trainer import preprocessing, sampling  # noqa: E402
from yt8m import features, reader, synthetic  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--videos', type=int, default=400)
    parser.add_argument('--batch-size', type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, 'data')
        synthetic.generate(data, args.videos, seed=0, validate_fraction=0, test_fraction=0)
        files = sorted(glob.glob(os.path.join(data, 'train*.tfrecord')))
        megabytes = sum(os.path.getsize(f) for f in files) / 1e6

        @tf.function
        def prepare(serialized):
            out = preprocessing.transform_videos(reader.parse_serialized(serialized))
            return sampling.sample_with_replacement(out[features.FRAMES], out[features.NUM_FRAMES])

        dataset = (tf.data.TFRecordDataset(files).batch(args.batch_size)
                   .map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2))
        for _ in dataset.take(1):
            pass
        started = time.perf_counter()
        videos = sum(int(batch.shape[0]) for batch in dataset)
        seconds = time.perf_counter() - started
    report('input_pipeline', ['videos', 'batch_size', 'seconds', 'videos_per_s', 'MB_per_s'],
           [{'videos': videos, 'batch_size': args.batch_size, 'seconds': seconds,
             'videos_per_s': videos / seconds, 'MB_per_s': megabytes / seconds}])


if __name__ == '__main__':
    main()
