"""Shared test setup: legacy Keras, CPU only, and builders of raw records."""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# BFC allocator: 1.3-3x faster steps on these low-bandwidth CPUs (must precede TF import).
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')

import pathlib

import numpy as np
import pytest
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


@pytest.fixture
def real_files():
    return sorted(str(p) for p in REAL_DIR.glob('*.tfrecord'))
