"""Teacher scoring as a Beam job, so that it scales with the runner.

One Python loop scored 8.8 ms a video on 2 cores: about 15 hours for the
6.1M videos of the full release. Here the train files are spread over Beam
workers (Dataflow, Flink, or the DirectRunner's processes), each worker loads
the teacher once and scores batches, and every batch's sparse top-K store
(`teacher_scores.score_batch`) is written as one record of TFRecord shards
under the TeacherScores artifact; `teacher_scores.load` reads them back into
the same store the loop wrote.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Dict, List, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
import tensorflow as tf

from components.distiller import teacher_scores as scores_lib
from yt8m import progress

logger = logging.getLogger(__name__)
NAMESPACE = 'teacher_scoring'


class ReadRecords(beam.DoFn):
    """One GZIP TFRecord file of an Examples split in, its serialized records out."""

    def process(self, path: str):
        for record in tf.data.TFRecordDataset(path, compression_type='GZIP'):
            yield record.numpy()


class ScoreBatches(beam.DoFn):
    """A batch of records in, its top-K store (npz bytes) out; the teacher loads once.

    With `fold_dirs` (the teacher's out-of-fold copies, yt8m/folds.py) each
    video is scored by the copy of its fold, which did not train on it.
    """

    def __init__(self, teacher_dir: str, top_k: int, fold_dirs: Sequence[str] = ()):
        self.teacher_dir, self.top_k, self.fold_dirs = teacher_dir, top_k, list(fold_dirs)
        self.videos = Metrics.counter(NAMESPACE, 'videos')
        self.record_bytes = Metrics.counter(NAMESPACE, 'record_bytes')
        self.inference_ms = Metrics.counter(NAMESPACE, 'inference_ms')

    def setup(self):
        self.serve = [tf.saved_model.load(path).signatures['serving_default']
                      for path in (self.fold_dirs or [self.teacher_dir])]
        self.progress = progress.Progress('Teacher scoring', 'videos')

    def process(self, batch: List[bytes]):
        started = time.perf_counter()
        if self.fold_dirs:
            part = scores_lib.score_batch_out_of_fold(self.serve, batch, self.top_k)
        else:
            part = scores_lib.score_batch(self.serve[0], batch, self.top_k)
        self.inference_ms.inc(int(1000 * (time.perf_counter() - started)))
        self.videos.inc(len(batch))
        self.record_bytes.inc(sum(len(r) for r in batch))
        self.progress.add(len(batch))
        yield scores_lib.to_bytes(part)


def score_with_beam(pipeline: beam.Pipeline, files: Sequence[str], teacher_dir: str,
                    top_k: int, output_dir: str, batch_size: int,
                    fold_dirs: Sequence[str] = ()) -> None:
    """Adds the scoring job to `pipeline`: files -> workers -> TFRecord shards."""
    if not 1 <= top_k <= scores_lib.features.NUM_CLASSES:
        raise ValueError(f'top_k must be in [1, {scores_lib.features.NUM_CLASSES}], got {top_k}')
    if not files:
        raise ValueError('no train files to score')
    _ = (pipeline
         | 'Files' >> beam.Create(list(files))
         | 'SpreadFiles' >> beam.Reshuffle()
         | 'Read' >> beam.ParDo(ReadRecords())
         | 'Batch' >> beam.BatchElements(min_batch_size=batch_size, max_batch_size=batch_size)
         | 'Score' >> beam.ParDo(ScoreBatches(teacher_dir, top_k, fold_dirs))
         | 'Write' >> beam.io.WriteToTFRecord(
             os.path.join(output_dir, scores_lib.SHARD_PREFIX),
             file_name_suffix='.tfrecord'))


def counters(result) -> Dict[str, int]:
    return {entry.key.metric.name: entry.committed for entry in result.metrics().query(
        MetricsFilter().with_namespace(NAMESPACE))['counters']}
