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

from yt8m import features

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
    labels = raw[features.LABELS]
    with tf.control_dependencies([
            tf.debugging.assert_non_negative(
                labels.flat_values, message='labels: class id below 0'),
            tf.debugging.assert_less(
                labels.flat_values, tf.constant(features.NUM_CLASSES, tf.int64),
                message=f'labels: class id outside [0, {features.NUM_CLASSES})'),
    ]):
        one_hot = tf.one_hot(labels, features.NUM_CLASSES, dtype=tf.float32)
        multi_hot = tf.minimum(tf.reduce_sum(one_hot, axis=1), 1.0)

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


def check_record(record: bytes, path: str, index: int) -> tf.train.SequenceExample:
    """Rejects records that are not frame-level SequenceExamples, naming them.

    Returns the parsed record, so callers that need its `id` parse it once.
    """
    where = f'{path}, record {index}'
    try:
        example = tf.train.SequenceExample.FromString(record)
    except Exception as err:  # protobuf DecodeError
        raise BadRecordError(f'{where}: not a tf.SequenceExample ({err})') from None
    ids = example.context.feature[features.ID].bytes_list.value \
        if features.ID in example.context.feature else []
    if ids:
        where += f' (video id {ids[0].decode("utf-8", errors="replace")!r})'
    lists = example.feature_lists.feature_list
    if features.RGB not in lists or features.AUDIO not in lists:
        hint = (' (looks like a video-level tf.Example)'
                if features.RGB in example.context.feature or
                'mean_rgb' in example.context.feature else '')
        raise BadRecordError(
            f'{where}: no rgb/audio feature lists; not a frame-level '
            f'SequenceExample{hint}')
    if features.ID not in example.context.feature:
        raise BadRecordError(f'{where}: context feature "id" is missing')
    n_rgb, n_audio = len(lists[features.RGB].feature), len(lists[features.AUDIO].feature)
    if n_rgb == 0:
        raise BadRecordError(f'{where}: video has zero frames')
    if n_rgb != n_audio:
        raise BadRecordError(f'{where}: {n_rgb} rgb frames but {n_audio} audio frames')
    for name, size in features.FEATURE_SIZES.items():
        for frame_index, frame in enumerate(lists[name].feature):
            values = frame.bytes_list.value
            if len(values) != 1 or len(values[0]) != size:
                got = [len(v) for v in values]
                raise BadRecordError(
                    f'{where}: {name} frame {frame_index} has byte lengths {got}, '
                    f'expected one value of {size} bytes (wrong feature size)')
    labels = example.context.feature[features.LABELS].int64_list.value
    bad = [label for label in labels if not 0 <= label < features.NUM_CLASSES]
    if bad:
        raise BadRecordError(
            f'{where}: labels {bad} outside [0, {features.NUM_CLASSES})')
    if n_rgb > features.MAX_FRAMES:
        logger.warning('%s: %d frames, truncated to %d', where, n_rgb,
                       features.MAX_FRAMES)
    return example


def iter_records(path: str) -> Iterator[bytes]:
    """Yields raw records of one TFRecord file; corrupt files name themselves."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        for record in tf.data.TFRecordDataset(path):
            yield record.numpy()
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
        raise BadRecordError(
            f'{path}: truncated or corrupted TFRecord file ({err.message.splitlines()[0]})'
        ) from None


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
