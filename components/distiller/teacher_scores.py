"""Sparse top-K teacher scores: computed once, looked up by video id while training.

Why a sparse store and not the seed's way
-----------------------------------------
The seed wrote a copy of the whole training set with the teacher's dense
predictions attached (1.4 TB at full scale). Two alternatives were measured
(`benchmarks/bench_distiller.py`):

* on-the-fly teaching: run the teacher inside the student's input pipeline.
  No storage, but every student epoch pays a full teacher forward pass per
  video (an ensemble is several models), and a student of each family and
  each distillation level pays it again;
* a dense copy of the predictions: 3862 float32 = 15,448 bytes per video
  (~5% of a generated frame-level record of ~290 KB), i.e. ~60 GB for 3.9M
  videos, still written and read every epoch.

Here the teacher runs once over the train split and only its top-K classes
are kept: K int16 class ids + K float16 scores per video plus the id
(K=20: ~96 bytes/video measured with the id, ~160x smaller than dense;
~0.45 GB on disk for 3.9M videos, held in memory as a
`tf.lookup.StaticHashTable` id -> row plus [N, K] class/score constants,
widened to int32/float32 in memory, ~0.6 GB at full scale). The student's input
pipeline looks the scores up by the transformed `video_id` and scatters them
into a dense [B, 3862] target.

Approximation: classes outside the teacher's top-K get target 0 (the
teacher's probability there is below its K-th score; with K=20 against ~3
true labels per video that mass is small, and the label term still carries
every true class). Train videos missing from the store fall back to their
labels only. Temperature T is applied to the stored probabilities at lookup
time, `p -> sigmoid(logit(p) / T)`, so one store serves any T.

Loss: BCE is linear in its target, so
`lambda * BCE(s, teacher) + (1 - lambda) * BCE(s, labels)
 == BCE(s, lambda * teacher + (1 - lambda) * labels)`:
the pipeline yields the mixed target and the unchanged Trainer code
(`trainer.run_fn.train_model`, plain BinaryCrossentropy) trains on it.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
from typing import List, Optional, Sequence

import numpy as np
import tensorflow as tf

from trainer import input_pipeline
from yt8m import features, folds

logger = logging.getLogger(__name__)

# TFRecord shards of npz blobs (see `load`).
SHARD_PREFIX = 'teacher_scores'
SHARD_PATTERN = SHARD_PREFIX + '-*.tfrecord'
EPSILON = 1e-6


@dataclasses.dataclass
class TopKScores:
    """ids [N] bytes, classes [N, K] int16, scores [N, K] float16 (probabilities)."""
    ids: np.ndarray
    classes: np.ndarray
    scores: np.ndarray

    @property
    def top_k(self) -> int:
        return int(self.classes.shape[1])

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def save(store: TopKScores, directory: str) -> str:
    """Writes the store as one shard in the Beam job's format; returns its path."""
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, f'{SHARD_PREFIX}-00000-of-00001.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(to_bytes(store))
    return path


def to_bytes(store: TopKScores) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, ids=store.ids, classes=store.classes, scores=store.scores)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> TopKScores:
    data = np.load(io.BytesIO(blob))
    return TopKScores(ids=data['ids'], classes=data['classes'], scores=data['scores'])


def concatenate(parts: List[TopKScores]) -> TopKScores:
    return TopKScores(ids=np.concatenate([p.ids for p in parts]),
                         classes=np.concatenate([p.classes for p in parts]),
                         scores=np.concatenate([p.scores for p in parts]))


def load(directory: str) -> TopKScores:
    """The store of a folder: the TFRecord shards the Beam job (or `save`) wrote.

    One record per scored batch, holding that batch's store as npz bytes;
    Beam's file sink commits the shards atomically, so a retried bundle
    leaves no duplicate.
    """
    shards = sorted(tf.io.gfile.glob(os.path.join(directory, SHARD_PATTERN)))
    if not shards:
        raise FileNotFoundError(f'{directory}: no teacher scores ({SHARD_PATTERN})')
    return concatenate([from_bytes(record.numpy())
                        for record in tf.data.TFRecordDataset(shards)])


def store_bytes(directory: str) -> int:
    """Bytes on disk of a folder's store."""
    return sum(tf.io.gfile.stat(path).length
               for path in tf.io.gfile.glob(os.path.join(directory, SHARD_PATTERN)))


def _video_ids(serialized: tf.Tensor) -> tf.Tensor:
    context, _, _ = tf.io.parse_sequence_example(
        serialized, context_features={features.ID: tf.io.FixedLenFeature([], tf.string)})
    return context[features.ID]


def score_batch(serving_fn, batch: List[bytes], top_k: int) -> TopKScores:
    """The teacher's top-K classes and probabilities for one batch of records."""
    examples = tf.constant(batch)
    probabilities = serving_fn(examples=examples)[features.PROBABILITIES]
    top = tf.math.top_k(probabilities, k=top_k)
    return TopKScores(ids=np.array(list(_video_ids(examples).numpy()), dtype=np.bytes_),
                         classes=top.indices.numpy().astype(np.int16),
                         scores=top.values.numpy().astype(np.float16))


def score_batch_out_of_fold(serving_fns: Sequence, batch: List[bytes],
                            top_k: int) -> TopKScores:
    """Each video scored by `serving_fns[fold of its id]` (yt8m/folds.py).

    The fold copies of teacher f never trained on fold f, so no video's soft
    label comes from a model that saw it. Rows come out grouped by fold; the
    store is looked up by id, so order does not matter.
    """
    fold = folds.fold_of(_video_ids(tf.constant(batch)), len(serving_fns)).numpy()
    parts = [score_batch(serving_fns[f], [batch[i] for i in np.flatnonzero(fold == f)], top_k)
             for f in range(len(serving_fns)) if np.any(fold == f)]
    return concatenate(parts)


class TeacherLookup:
    """In-graph id -> dense [B, 3862] teacher targets (top-K scattered, rest 0)."""

    def __init__(self, store: TopKScores, temperature: float = 1.0):
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        ids, first = np.unique(store.ids, return_index=True)   # one row per id
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(ids, tf.string), tf.constant(first, tf.int64)),
            default_value=-1)
        self.classes = tf.constant(store.classes.astype(np.int32))
        self.scores = tf.constant(temper(store.scores.astype(np.float32), temperature))
        self.top_k = store.top_k

    def __call__(self, video_ids: tf.Tensor):
        """Returns (dense [B, 3862] float32, found [B] bool)."""
        rows = self.table.lookup(video_ids)
        found = rows >= 0
        safe = tf.maximum(rows, 0)
        classes = tf.gather(self.classes, safe)                    # [B, K]
        scores = tf.gather(self.scores, safe) * tf.cast(found, tf.float32)[:, None]
        batch = tf.shape(classes)[0]
        batch_index = tf.repeat(tf.range(batch), self.top_k)
        indices = tf.stack([batch_index, tf.reshape(classes, [-1])], axis=1)
        dense = tf.scatter_nd(indices, tf.reshape(scores, [-1]),
                              tf.stack([batch, features.NUM_CLASSES]))
        return dense, found


def temper(probabilities, temperature: float):
    """p -> sigmoid(logit(p) / T) (numpy); T = 1 leaves p unchanged."""
    if temperature == 1.0:
        return probabilities
    p = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return (1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / temperature))).astype(np.float32)


def mixed_targets(labels: tf.Tensor, teacher: tf.Tensor, distillation_lambda: float,
                  found: Optional[tf.Tensor] = None) -> tf.Tensor:
    """lambda * teacher + (1 - lambda) * labels; labels alone where `found` is False."""
    lam = tf.constant(distillation_lambda, tf.float32)
    mixed = lam * teacher + (1.0 - lam) * labels
    if found is None:
        return mixed
    return tf.where(found[:, None], mixed, labels)


def make_distill_dataset(file_pattern: List[str], tf_transform_output,
                         lookup: TeacherLookup, distillation_lambda: float, batch_size: int,
                         seed: int = 0, shuffle_buffer: int = 256,
                         draw_frames: int = 0, cache_bytes: int = 0) -> tf.data.Dataset:
    """Training batches of ({frames, num_frames}, mixed targets); repeats forever.

    `trainer.input_pipeline.make_dataset` with the transformed `video_id`
    kept for the teacher lookup (same raw reader, transform layer and
    training-time frame draw, `draw_frames` as there).
    """
    dataset = input_pipeline.raw_dataset(file_pattern, batch_size, shuffle=True, seed=seed,
                                         shuffle_buffer=shuffle_buffer,
                                         cache_bytes=cache_bytes)
    transform_layer = tf_transform_output.transform_features_layer()
    to_targets = distill_map_fn(transform_layer, lookup, distillation_lambda, draw_frames)
    return input_pipeline.distribute_by_data(
        dataset.map(to_targets, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))


def distill_map_fn(transform_layer, lookup: TeacherLookup, distillation_lambda: float,
                   draw_frames: Optional[int] = 0):
    """raw features -> (model inputs, lambda * teacher + (1 - lambda) * labels).

    `draw_frames` as `input_pipeline.transform_drawn`'s (None: no draw).
    """

    @tf.autograph.experimental.do_not_convert   # plain tensor code: nothing to convert
    def to_model_inputs(raw):
        transformed, inputs = input_pipeline.transform_drawn(transform_layer, raw, draw_frames)
        teacher, found = lookup(transformed[features.VIDEO_ID])
        labels = transformed[features.LABELS_MULTI_HOT]
        return inputs, mixed_targets(labels, teacher, distillation_lambda, found)

    return to_model_inputs
