"""Reading YouTube-8M frame-level records: parsing, checks, dequantization.

One set of TF functions turns raw feature tensors into model-ready tensors, and
the same functions run everywhere a record is read:

* Transform's `preprocessing_fn` (and so training and evaluation, through the
  transform graph) receives the raw tensors from TFXIO;
* the serving signature parses serialized records with `parse_serialized`,
  which yields tensors of exactly the layout TFXIO produces, then calls the
  transform graph;
* `read_videos` (pure Python, eager) reads files for tests, tools and
  benchmarks, and names the file and record in every error.

Layout of the raw tensors (what TFXIO gives for the curated schema):
``id`` and ``labels`` are ragged ``[batch, None]``; ``rgb`` and ``audio`` are
ragged ``[batch, frames, 1]`` strings, one value of 1024 (128) bytes a frame.
"""

from __future__ import annotations

import logging
import os
from typing import Dict, Iterator

import numpy as np
import tensorflow as tf

from yt8m import features, integrity

logger = logging.getLogger(__name__)

RawFeatures = Dict[str, tf.RaggedTensor]


class BadRecordError(ValueError):
    """A record or file that does not hold valid YouTube-8M frame-level data."""


def dequantize(quantized: tf.Tensor,
               max_quantized_value: float = features.QUANTIZE_MAX,
               min_quantized_value: float = features.QUANTIZE_MIN) -> tf.Tensor:
    """Maps uint8 codes back to floats exactly as the official starter code.

    x = q * (max - min) / 255 + (max - min) / 512 + min; the 1/512 term puts
    each value in the middle of its quantization bin.
    """
    quantized_range = max_quantized_value - min_quantized_value
    scalar = quantized_range / 255.0
    bias = quantized_range / 512.0 + min_quantized_value
    return tf.cast(quantized, tf.float32) * scalar + bias


def raw_feature_spec() -> tuple[dict, dict]:
    """Context and sequence parsing specs matching TFXIO's ragged layout.

    `tf.io.RaggedFeature` with int64 row splits: int32 splits make the
    transform graph fail with an int64/int32 mismatch, and
    FixedLenSequenceFeature cannot express per-frame byte strings.
    """
    context = {
        features.ID: tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
        features.LABELS: tf.io.RaggedFeature(tf.int64, row_splits_dtype=tf.int64),
    }
    sequence = {
        name: tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64)
        for name in (features.RGB, features.AUDIO)
    }
    return context, sequence


def parse_labels_multi_hot(serialized: tf.Tensor) -> tf.Tensor:
    """float32 [batch, NUM_CLASSES] multi-hot labels of serialized SequenceExamples.

    Reads the context's class ids only: no frame is parsed or dequantized,
    for the readers that need the labels alone (a label prior, a GAP check).
    The ids are checked as `decode_videos` checks them.
    """
    context_spec, _ = raw_feature_spec()
    context, _, _ = tf.io.parse_sequence_example(serialized, context_features={
        features.LABELS: context_spec[features.LABELS]})
    return labels_multi_hot(context[features.LABELS])


def labels_multi_hot(labels: tf.RaggedTensor) -> tf.Tensor:
    """float32 [batch, NUM_CLASSES] from ragged class ids; an id outside the classes fails."""
    with tf.control_dependencies([
            tf.debugging.assert_non_negative(
                labels.flat_values, message='labels: class id below 0'),
            tf.debugging.assert_less(
                labels.flat_values, tf.constant(features.NUM_CLASSES, tf.int64),
                message=f'labels: class id outside [0, {features.NUM_CLASSES})'),
    ]):
        one_hot = tf.one_hot(labels, features.NUM_CLASSES, dtype=tf.float32)
        return tf.minimum(tf.reduce_sum(one_hot, axis=1), 1.0)


def parse_serialized(serialized: tf.Tensor) -> RawFeatures:
    """Parses a batch of serialized SequenceExamples into TFXIO's raw layout."""
    context_spec, sequence_spec = raw_feature_spec()
    context, sequence, _ = tf.io.parse_sequence_example(
        serialized, context_features=context_spec, sequence_features=sequence_spec)
    raw = dict(context)
    for name, frames in sequence.items():
        # parse_sequence_example gives [batch, frames, values]; keep int64 splits.
        raw[name] = frames.with_row_splits_dtype(tf.int64)
    return raw


def _decode_frames(per_frame_bytes: tf.RaggedTensor, name: str,
                   frame_size: int) -> tf.RaggedTensor:
    """Ragged [batch, frames, 1] bytes -> ragged [batch, frames, frame_size] floats."""
    frames = per_frame_bytes.values           # [total_frames, values per frame]
    flat = frames.flat_values
    checks = [
        tf.debugging.assert_equal(
            tf.size(flat, out_type=tf.int64), frames.nrows(),
            message=f'{name}: every frame must hold exactly one bytes value'),
        tf.debugging.assert_equal(
            tf.strings.length(flat), frame_size,
            message=f'{name}: every frame must be {frame_size} bytes '
                    '(wrong feature size)'),
    ]
    with tf.control_dependencies(checks):
        codes = tf.io.decode_raw(tf.identity(flat), tf.uint8, fixed_length=frame_size)
    values = dequantize(tf.reshape(codes, [-1, frame_size]))
    return tf.RaggedTensor.from_row_splits(values, per_frame_bytes.row_splits)


def decode_videos(raw: RawFeatures) -> Dict[str, tf.Tensor]:
    """Decodes a batch of raw features into float frames and multi-hot labels.

    Returns ``video_id`` [batch] string, ``labels_multi_hot`` [batch, 3862]
    float32, ``rgb`` ragged [batch, frames, 1024], ``audio`` ragged
    [batch, frames, 128] float32 and ``num_frames`` [batch] int64. Videos
    longer than 300 frames are truncated to 300, as the starter code does.
    Bad input fails with a message naming the feature and the problem.
    """
    video_id = tf.squeeze(
        raw[features.ID].to_tensor(default_value='', shape=[None, 1]), axis=1)
    multi_hot = labels_multi_hot(raw[features.LABELS])

    rgb = _decode_frames(raw[features.RGB], features.RGB, features.RGB_SIZE)
    audio = _decode_frames(raw[features.AUDIO], features.AUDIO, features.AUDIO_SIZE)
    num_frames = rgb.row_lengths()
    checks = [
        tf.debugging.assert_equal(
            num_frames, audio.row_lengths(),
            message='rgb and audio must have the same number of frames'),
        tf.debugging.assert_positive(
            num_frames, message='video has zero frames (empty rgb/audio feature lists)'),
    ]
    with tf.control_dependencies(checks):
        num_frames = tf.minimum(tf.identity(num_frames), features.MAX_FRAMES)
    return {
        features.VIDEO_ID: video_id,
        features.LABELS_MULTI_HOT: multi_hot,
        features.RGB: rgb[:, :features.MAX_FRAMES],
        features.AUDIO: audio[:, :features.MAX_FRAMES],
        features.NUM_FRAMES: num_frames,
    }


def check_record(record: bytes, path: str, index: int) -> str:
    """Rejects records that are not valid frame-level videos, naming file, record and id.

    The checks are `integrity.find_problem`'s, the same ones ingestion runs.
    Returns the video id it read on the way, so callers need no second parse.
    """
    kind, message, video_id, num_frames = integrity.find_problem(record)
    where = f'{path}, record {index}' + (f' (video id {video_id!r})' if video_id else '')
    if kind is not None:
        raise BadRecordError(f'{where}: {message}')
    if num_frames > features.MAX_FRAMES:
        logger.warning('%s: %d frames, truncated to %d', where, num_frames,
                       features.MAX_FRAMES)
    return video_id


def iter_records(path: str) -> Iterator[bytes]:
    """Yields raw records of one TFRecord file; a broken file names itself and the offset."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        for _, _, record, problem in integrity.framed_records(path):
            if problem is not None:
                raise BadRecordError(problem.describe())
            yield record
    except integrity.BrokenFile as err:
        raise BadRecordError(str(err)) from None


def read_videos(path: str) -> Iterator[Dict[str, np.ndarray]]:
    """Yields each video of a file as numpy arrays, checking every record.

    Each item has ``video_id`` (bytes), ``labels`` (int64 class ids),
    ``labels_multi_hot``, ``rgb`` [frames, 1024] and ``audio`` [frames, 128]
    float32 and ``num_frames``. An empty file yields nothing (valid).
    """
    for index, record in enumerate(iter_records(path)):
        check_record(record, path, index)
        decoded = decode_videos(parse_serialized(tf.constant([record])))
        labels = np.flatnonzero(decoded[features.LABELS_MULTI_HOT][0].numpy())
        yield {
            features.VIDEO_ID: decoded[features.VIDEO_ID][0].numpy(),
            features.LABELS: labels.astype(np.int64),
            features.LABELS_MULTI_HOT: decoded[features.LABELS_MULTI_HOT][0].numpy(),
            features.RGB: decoded[features.RGB][0].numpy(),
            features.AUDIO: decoded[features.AUDIO][0].numpy(),
            features.NUM_FRAMES: int(decoded[features.NUM_FRAMES][0]),
        }


def list_split_files(data_root: str, split: str) -> list[str]:
    """Files of one split under a data root, by the release's naming.

    Raises FileNotFoundError naming the folder when it is missing or holds no
    file of the split.
    """
    if not tf.io.gfile.isdir(data_root):
        raise FileNotFoundError(f'{data_root}: data directory does not exist')
    pattern = os.path.join(data_root, features.SPLIT_PATTERNS[split])
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(
            f'{data_root}: no {split} files (expected {features.SPLIT_PATTERNS[split]})')
    return files
