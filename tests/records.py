"""Builders of raw YouTube-8M records for tests and benchmarks: the one test-support module.

Tests anywhere (tests/, components/*/*_test.py, benchmarks/) import these
from here; conftest.py only sets the environment and holds fixtures.
"""

import pathlib

import numpy as np
import tensorflow as tf

from yt8m import features

REAL_DIR = pathlib.Path(__file__).parent / 'data' / 'real_frame_sample'


def make_record(video_id: bytes = b'vid0', labels=(1, 5), num_frames: int = 4,
                rgb_size: int = features.RGB_SIZE, audio_size: int = features.AUDIO_SIZE,
                audio_frames: int | None = None, seed: int = 0) -> bytes:
    """One serialized frame-level SequenceExample with random uint8 codes."""
    rng = np.random.default_rng(seed)
    example = tf.train.SequenceExample()
    example.context.feature[features.ID].bytes_list.value.append(video_id)
    example.context.feature[features.LABELS].int64_list.value.extend(list(labels))
    for name, size, count in ((features.RGB, rgb_size, num_frames),
                              (features.AUDIO, audio_size,
                               num_frames if audio_frames is None else audio_frames)):
        frame_list = example.feature_lists.feature_list[name]
        for _ in range(count):
            codes = rng.integers(0, 256, size, dtype=np.uint8)
            frame_list.feature.add().bytes_list.value.append(codes.tobytes())
    return example.SerializeToString()


def write_records(path, records) -> str:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def video_level_record(video_id: bytes = b'v') -> bytes:
    """A 2017 video-level tf.Example: one mean vector per video."""
    example = tf.train.Example()
    example.features.feature[features.ID].bytes_list.value.append(video_id)
    example.features.feature['mean_rgb'].float_list.value.extend([0.0] * features.RGB_SIZE)
    example.features.feature['mean_audio'].float_list.value.extend([0.0] * features.AUDIO_SIZE)
    return example.SerializeToString()


def write_flawed_shards(data_root) -> dict:
    """One train shard per flaw that ingestion must catch, plus two valid oddities.

    Returns {problem kind: (file name, text its message must hold)}. Also
    writes a video of 305 frames (valid, truncated to 300) and an empty shard
    (valid).
    """
    data_root = pathlib.Path(data_root)
    data_root.mkdir(parents=True, exist_ok=True)
    truncated = write_records(data_root / 'train0100.tfrecord',
                              [make_record(b'trunc0', seed=1), make_record(b'trunc1', seed=2)])
    content = open(truncated, 'rb').read()
    open(truncated, 'wb').write(content[:-50])
    corrupted = write_records(data_root / 'train0101.tfrecord', [make_record(b'crc', seed=3)])
    content = bytearray(open(corrupted, 'rb').read())
    content[200] ^= 0xFF
    open(corrupted, 'wb').write(bytes(content))
    write_records(data_root / 'train0102.tfrecord', [make_record(b'rgb1000', rgb_size=1000)])
    write_records(data_root / 'train0103.tfrecord', [make_record(b'label5000', labels=(5000,))])
    write_records(data_root / 'train0104.tfrecord', [make_record(b'noframes', num_frames=0)])
    write_records(data_root / 'train0105.tfrecord', [video_level_record(b'videolevel')])
    write_records(data_root / 'train0106.tfrecord', [make_record(b'long', num_frames=305)])
    write_records(data_root / 'train0107.tfrecord', [])
    return {
        'broken_file': ('train0100.tfrecord', 'record 1 (byte offset '),
        'corrupted_record': ('train0101.tfrecord', 'record 0 (byte offset 0)'),
        'wrong_feature_size': ('train0102.tfrecord', "video id 'rgb1000'"),
        'label_out_of_range': ('train0103.tfrecord', "video id 'label5000'"),
        'no_frames': ('train0104.tfrecord', "video id 'noframes'"),
        'video_level_example': ('train0105.tfrecord', 'a video-level tf.Example'),
    }
