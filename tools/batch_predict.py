"""Batch prediction with a pushed model: YT8M files in, a Kaggle submission out.

    python -m tools.batch_predict --input /data/yt8m/frame/test \\
        --model outputs/serving_model/yt8m_final --output submission.csv \\
        [--batch-size 64] [-- --runner=DataflowRunner ...]

Users score new videos with the pipeline's final artifact: the challenge's
test split has no labels. This is a Beam job (DirectRunner locally, any Beam
runner through the arguments after `--`), so it scales with the files:

    files -> Reshuffle -> read and check each record (naming the file and
    record on any flaw) -> batches -> the model's `serving_default` -> CSV

The output is the 2018 Kaggle format of the starter code's `inference.py`:
a header `VideoId,LabelConfidencePairs`, then one row per video with its
top 20 `class score` pairs, best first (`%i %g`).

Why not TFX's BulkInferrer: it needs an Examples artifact from a pipeline run
and writes PredictionLog protos, while users have a folder of YT8M files and
need the submission file; the same Beam job also runs as a DAG node's
executor if one is wanted. Input records go through `yt8m.reader.check_record`,
the checks the rest of the project uses, so a corrupt or truncated file, a
wrong feature size or a video-level file fails with its path and record
index instead of a byte dump. Existing output is never overwritten.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Dict, Iterable, Iterator, List, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
import numpy as np
import tensorflow as tf

from yt8m import features, progress, reader

logger = logging.getLogger(__name__)

HEADER = 'VideoId,LabelConfidencePairs'
FILE_PATTERNS = ('*.tfrecord', '*.tfrecord.gz', '*.tfrecords')


def input_files(input_path: str) -> List[str]:
    """The YT8M files of a folder (or of a glob pattern), sorted; clear errors."""
    if any(ch in input_path for ch in '*?['):
        files = tf.io.gfile.glob(input_path)
        if not files:
            raise FileNotFoundError(f'{input_path}: no file matches this pattern')
        return sorted(files)
    if not tf.io.gfile.exists(input_path):
        raise FileNotFoundError(f'{input_path}: no such file or folder')
    if not tf.io.gfile.isdir(input_path):
        return [input_path]
    files = sorted({f for pattern in FILE_PATTERNS
                    for f in tf.io.gfile.glob(os.path.join(input_path, pattern))})
    if not files:
        raise FileNotFoundError(
            f'{input_path}: folder holds no {"/".join(FILE_PATTERNS)} files')
    return files


def resolve_model_dir(model_path: str) -> str:
    """A SavedModel folder, or the newest numbered version under a Pusher destination."""
    if tf.io.gfile.exists(os.path.join(model_path, 'saved_model.pb')):
        return model_path
    if not tf.io.gfile.isdir(model_path):
        raise FileNotFoundError(f'{model_path}: no such model folder')
    versions = [name.rstrip('/') for name in tf.io.gfile.listdir(model_path)]
    versions = [v for v in versions if v.isdigit() and tf.io.gfile.exists(
        os.path.join(model_path, v, 'saved_model.pb'))]
    if not versions:
        raise FileNotFoundError(
            f'{model_path}: neither a SavedModel nor a folder of numbered versions '
            '(a Pusher destination such as outputs/serving_model/yt8m_final)')
    return os.path.join(model_path, max(versions, key=int))


def format_row(video_id: str, classes: Sequence[int], scores: Sequence[float]) -> str:
    """One submission row: the id, then `class score` pairs best first."""
    return video_id + ',' + ' '.join('%i %g' % (c, s) for c, s in zip(classes, scores))


def read_submission(path: str) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """video id -> (classes, scores) of a submission file (header checked)."""
    rows = {}
    with tf.io.gfile.GFile(path) as f:
        header = f.readline().strip()
        if header != HEADER:
            raise ValueError(f'{path}: header {header!r}, expected {HEADER!r}')
        for line_number, line in enumerate(f, start=2):
            video_id, _, pairs = line.rstrip('\n').partition(',')
            values = pairs.split()
            if not video_id or len(values) % 2:
                raise ValueError(f'{path}, line {line_number}: malformed row {line[:80]!r}')
            rows[video_id] = (np.array(values[0::2], dtype=np.int64),
                              np.array(values[1::2], dtype=np.float64))
    return rows


class ReadVideos(beam.DoFn):
    """One file in, (video id, serialized record) out, every record checked."""

    def __init__(self):
        self.videos = Metrics.counter('batch_predict', 'videos_read')
        self.files = Metrics.counter('batch_predict', 'files_read')

    def process(self, path: str) -> Iterator[Tuple[str, bytes]]:
        count = 0
        for index, record in enumerate(reader.iter_records(path)):
            video_id = reader.check_record(record, path, index)
            count += 1
            yield video_id, record
        self.videos.inc(count)
        self.files.inc()
        logger.info('Read %d videos from %s', count, path)


class PredictTopK(beam.DoFn):
    """A batch of (id, record) in, submission rows out; the model loads once per worker."""

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.scored = Metrics.counter('batch_predict', 'videos_scored')

    def setup(self):
        loaded = tf.saved_model.load(self.model_dir)
        if 'serving_default' not in loaded.signatures:
            raise ValueError(f'{self.model_dir}: SavedModel has no serving_default signature')
        self.serve = loaded.signatures['serving_default']
        self.progress = progress.Progress('Batch prediction', 'videos')

    def process(self, batch: List[Tuple[str, bytes]]) -> Iterable[str]:
        ids, records = zip(*batch)
        outputs = self.serve(examples=tf.constant(records))
        classes = outputs[features.TOP_CLASSES].numpy()
        scores = outputs[features.TOP_SCORES].numpy()
        self.scored.inc(len(ids))
        self.progress.add(len(ids))
        for video_id, video_classes, video_scores in zip(ids, classes, scores):
            yield format_row(video_id, video_classes, video_scores)


def predict(input_path: str, model_path: str, output_csv: str, batch_size: int = 64,
            beam_args: Sequence[str] = ()) -> Dict[str, int]:
    """Runs the Beam job; returns its counters (files read, videos scored)."""
    if tf.io.gfile.exists(output_csv):
        raise FileExistsError(f'{output_csv}: already exists; not overwriting')
    files = input_files(input_path)
    model_dir = resolve_model_dir(model_path)
    logger.info('Scoring %d files with %s -> %s', len(files), model_dir, output_csv)
    started = time.monotonic()
    with beam.Pipeline(options=PipelineOptions(list(beam_args))) as pipeline:
        _ = (pipeline
             | 'Files' >> beam.Create(files)
             | 'SpreadFiles' >> beam.Reshuffle()
             | 'ReadVideos' >> beam.ParDo(ReadVideos())
             | 'Batch' >> beam.BatchElements(min_batch_size=batch_size,
                                             max_batch_size=batch_size)
             | 'Predict' >> beam.ParDo(PredictTopK(model_dir))
             | 'Write' >> beam.io.WriteToText(output_csv, header=HEADER, num_shards=1,
                                              shard_name_template=''))
    counters = {result.key.metric.name: result.committed
                for result in pipeline.result.metrics().query(
                    MetricsFilter().with_namespace('batch_predict'))['counters']}
    seconds = time.monotonic() - started
    logger.info('Wrote %s: %d videos from %d files in %.1f s', output_csv,
                counters.get('videos_scored', 0), counters.get('files_read', 0), seconds)
    return counters


def main(argv: Sequence[str] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_args = argv[argv.index('--') + 1:] if '--' in argv else []
    own_args = argv[:argv.index('--')] if '--' in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--input', required=True,
                        help='folder of YT8M frame-level files, a file, or a glob pattern')
    parser.add_argument('--model', default='outputs/serving_model/yt8m_final',
                        help='SavedModel folder or Pusher destination (newest version)')
    parser.add_argument('--output', required=True, help='CSV path (must not exist)')
    parser.add_argument('--batch-size', type=int, default=64)
    args = parser.parse_args(own_args)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    try:
        counters = predict(args.input, args.model, args.output, args.batch_size, beam_args)
    except (reader.BadRecordError, FileNotFoundError, FileExistsError) as err:
        sys.exit(f'batch_predict: {err}')
    print(f'{args.output}: {counters.get("videos_scored", 0)} videos scored')


if __name__ == '__main__':
    main()
