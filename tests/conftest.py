"""Shared test setup: legacy Keras, CPU only, and fixtures (record builders: tests/records.py)."""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# BFC allocator: 1.3-3x faster steps on these low-bandwidth CPUs (must precede TF import).
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')

import pytest

from tests.records import REAL_DIR


@pytest.fixture
def real_files():
    return sorted(str(p) for p in REAL_DIR.glob('*.tfrecord'))
