"""Checking YouTube-8M files record by record, with every flaw named in plain words.

Two levels, both pure Python so that they run inside any Beam worker:

* `framed_records(path)` reads a TFRecord file's framing itself (length,
  masked CRC-32C of the length, data, masked CRC-32C of the data) and so can
  say *where* a file breaks: the record index and byte offset. TensorFlow's
  reader only says "Not a valid TFRecord" with a byte dump. A record whose
  data checksum fails is reported and skipped, and reading goes on (its
  framing is intact); a broken length or a truncated record ends the file.
* `find_problem(record)` checks one record against the frame-level format
  (docs/TRAINING.md, section 1): a `tf.SequenceExample` with a context `id`, labels in
  [0, 3862), 1 to 300 frames of 1024 rgb and 128 audio bytes each. A 2017
  video-level `tf.Example` gets its own message.

Problems are `Problem` values: file, record index, byte offset, video id (when
readable), a kind (a stable key for counting) and the message.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Iterator, Optional, Tuple

import google_crc32c
import tensorflow as tf

from yt8m import features

# Kinds of problems (stable keys: counted in reports and lineage).
BROKEN_FILE = 'broken_file'
CORRUPTED_RECORD = 'corrupted_record'
NOT_A_SEQUENCE_EXAMPLE = 'not_a_sequence_example'
VIDEO_LEVEL_EXAMPLE = 'video_level_example'
MISSING_ID = 'missing_id'
NO_FRAMES = 'no_frames'
FRAME_COUNT_MISMATCH = 'frame_count_mismatch'
WRONG_FEATURE_SIZE = 'wrong_feature_size'
LABEL_OUT_OF_RANGE = 'label_out_of_range'

_HEADER = struct.Struct('<QI')
_CRC = struct.Struct('<I')
_MASK_DELTA = 0xa282ead8


@dataclasses.dataclass(frozen=True)
class Problem:
    """One flaw in the input, located as precisely as the file allows."""
    file: str
    record: int
    offset: int
    kind: str
    message: str
    video_id: str = ''

    def describe(self) -> str:
        video = f', video id {self.video_id!r}' if self.video_id else ''
        return (f'{self.file}, record {self.record} (byte offset {self.offset}{video}): '
                f'{self.message}')


def masked_crc(data: bytes) -> int:
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xffffffff


class BrokenFile(Exception):
    """The framing of a TFRecord file breaks; nothing after `offset` is readable."""

    def __init__(self, problem: Problem):
        super().__init__(problem.describe())
        self.problem = problem


def framed_records(path: str) -> Iterator[Tuple[int, int, bytes, Optional[Problem]]]:
    """Yields (record index, byte offset, data, problem or None) of one file.

    A record whose data checksum fails is yielded with a CORRUPTED_RECORD
    problem; a file whose framing breaks raises `BrokenFile` after the
    records before the break.
    """
    with tf.io.gfile.GFile(path, 'rb') as f:
        index, offset = 0, 0
        while True:
            header = f.read(_HEADER.size)
            if not header:
                return
            if len(header) < _HEADER.size:
                raise BrokenFile(Problem(path, index, offset, BROKEN_FILE,
                                         'the file ends inside a record header '
                                         '(truncated file)'))
            length, length_crc = _HEADER.unpack(header)
            if masked_crc(header[:8]) != length_crc:
                raise BrokenFile(Problem(path, index, offset, BROKEN_FILE,
                                         'record header corrupted (its length checksum '
                                         'fails); nothing after it can be read'))
            data = f.read(length)
            footer = f.read(_CRC.size)
            if len(data) < length or len(footer) < _CRC.size:
                raise BrokenFile(Problem(
                    path, index, offset, BROKEN_FILE,
                    f'truncated file: the record declares {length} bytes but the file '
                    f'ends {len(data)} bytes into it'))
            problem = None
            if masked_crc(data) != _CRC.unpack(footer)[0]:
                problem = Problem(path, index, offset, CORRUPTED_RECORD,
                                  'corrupted record: its data checksum (CRC) fails')
            yield index, offset, data, problem
            index += 1
            offset += _HEADER.size + length + _CRC.size


def video_id_of(example: tf.train.SequenceExample) -> str:
    ids = example.context.feature[features.ID].bytes_list.value \
        if features.ID in example.context.feature else []
    return ids[0].decode('utf-8', errors='replace') if ids else ''


def find_problem(record: bytes) -> Tuple[Optional[str], str, str, int]:
    """(kind or None, message, video id, frame count) of one serialized record."""
    try:
        example = tf.train.SequenceExample.FromString(record)
    except Exception as err:  # protobuf DecodeError
        return NOT_A_SEQUENCE_EXAMPLE, f'not a tf.SequenceExample ({err})', '', 0
    video_id = video_id_of(example)
    lists = example.feature_lists.feature_list
    context = example.context.feature
    if features.RGB not in lists or features.AUDIO not in lists:
        if 'mean_rgb' in context or 'mean_audio' in context or features.RGB in context:
            return (VIDEO_LEVEL_EXAMPLE,
                    'a video-level tf.Example (one mean_rgb/mean_audio vector per video); '
                    'this pipeline needs the frame-level release: tf.SequenceExample '
                    'records with per-second rgb and audio feature lists (the "frame" '
                    'files of YouTube-8M)', video_id, 0)
        return (NOT_A_SEQUENCE_EXAMPLE,
                'no rgb/audio feature lists: not a frame-level SequenceExample',
                video_id, 0)
    if not video_id:
        return MISSING_ID, 'the context feature "id" is missing or empty', '', 0
    n_rgb, n_audio = len(lists[features.RGB].feature), len(lists[features.AUDIO].feature)
    if n_rgb == 0:
        return NO_FRAMES, 'the video has zero frames', video_id, 0
    if n_rgb != n_audio:
        return (FRAME_COUNT_MISMATCH, f'{n_rgb} rgb frames but {n_audio} audio frames',
                video_id, n_rgb)
    for name, size in features.FEATURE_SIZES.items():
        for frame_index, frame in enumerate(lists[name].feature):
            values = frame.bytes_list.value
            if len(values) != 1 or len(values[0]) != size:
                got = [len(v) for v in values]
                return (WRONG_FEATURE_SIZE,
                        f'{name} frame {frame_index} has byte lengths {got}, expected one '
                        f'value of {size} bytes (wrong feature size)', video_id, n_rgb)
    labels = context[features.LABELS].int64_list.value if features.LABELS in context else []
    bad = [label for label in labels if not 0 <= label < features.NUM_CLASSES]
    if bad:
        return (LABEL_OUT_OF_RANGE,
                f'labels {bad} outside the {features.NUM_CLASSES} classes [0, '
                f'{features.NUM_CLASSES})', video_id, n_rgb)
    return None, '', video_id, n_rgb


def describe_listed(problem: dict) -> str:
    """One line for a problem as bad_records.json lists it (a Problem's fields + its split)."""
    return Problem(**{k: v for k, v in problem.items() if k != 'split'}).describe()
