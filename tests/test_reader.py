"""The reader on real YouTube-8M bytes, its dequantization, and bad input."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from tests.records import REAL_DIR, make_record, write_records
from yt8m import features, reader


def test_dequantize_matches_starter_code_formula():
    codes = tf.constant([0, 1, 127, 128, 255], tf.uint8)
    expected = np.array([0, 1, 127, 128, 255]) * 4 / 255 + 4 / 512 - 2
    np.testing.assert_allclose(reader.dequantize(codes).numpy(), expected, atol=1e-6)
    # The extreme codes land in the middle of the first and last bins.
    assert reader.dequantize(tf.constant(0)).numpy() == pytest.approx(-2 + 4 / 512)
    assert reader.dequantize(tf.constant(255)).numpy() == pytest.approx(2 + 4 / 512)


def test_reads_every_real_record(real_files):
    videos = [v for path in real_files for v in reader.read_videos(path)]
    assert len(videos) == 8
    for video in videos:
        n = video[features.NUM_FRAMES]
        assert 100 < n <= features.MAX_FRAMES
        assert video[features.RGB].shape == (n, features.RGB_SIZE)
        assert video[features.AUDIO].shape == (n, features.AUDIO_SIZE)
        assert video[features.RGB].dtype == np.float32
        assert len(video[features.LABELS]) == 1
        assert video[features.LABELS][0] in {170, 709, 1057, 1308, 1454}
        assert video[features.LABELS_MULTI_HOT].sum() == 1
        # Dequantized values lie on the starter code's grid inside [-2, 2].
        assert -2 < video[features.RGB].min() and video[features.RGB].max() < 2.01
    assert videos[0][features.VIDEO_ID] == b'1hbF'


def test_real_values_equal_manual_dequantization():
    path = str(REAL_DIR / 'clippedtrain0093.tfrecord')
    record = next(reader.iter_records(path))
    example = tf.train.SequenceExample.FromString(record)
    first_frame = example.feature_lists.feature_list['rgb'].feature[0].bytes_list.value[0]
    codes = np.frombuffer(first_frame, np.uint8).astype(np.float64)
    video = next(reader.read_videos(path))
    np.testing.assert_allclose(video[features.RGB][0], codes * 4 / 255 + 4 / 512 - 2,
                               atol=1e-6)


def test_parse_serialized_matches_tfxio_layout():
    records = [make_record(num_frames=3), make_record(num_frames=5, labels=())]
    raw = reader.parse_serialized(tf.constant(records))
    assert raw[features.RGB].ragged_rank == 2
    assert raw[features.RGB].row_splits.dtype == tf.int64
    decoded = reader.decode_videos(raw)
    assert decoded[features.NUM_FRAMES].numpy().tolist() == [3, 5]
    assert decoded[features.LABELS_MULTI_HOT].numpy().sum(axis=1).tolist() == [2, 0]
    assert decoded[features.RGB].shape.as_list() == [2, None, features.RGB_SIZE]


def _read_all(path):
    return list(reader.read_videos(str(path)))


@pytest.mark.parametrize('kwargs, message', [
    (dict(rgb_size=1000), 'rgb frame 0 has byte lengths [1000], expected one value of 1024'),
    (dict(audio_size=129), 'audio frame 0 has byte lengths [129]'),
    (dict(labels=(3862,)), 'labels [3862] outside the 3862 classes [0, 3862)'),
    (dict(labels=(-1,)), 'labels [-1] outside'),
    (dict(num_frames=0), 'zero frames'),
    (dict(num_frames=3, audio_frames=2), '3 rgb frames but 2 audio frames'),
])
def test_bad_records_name_file_and_problem(tmp_path, kwargs, message):
    path = write_records(tmp_path / 'train0000.tfrecord',
                         [make_record(), make_record(**kwargs)])
    before = open(path, 'rb').read()
    with pytest.raises(reader.BadRecordError) as err:
        _read_all(path)
    assert f'{path}, record 1' in str(err.value)
    assert message in str(err.value)
    assert open(path, 'rb').read() == before  # nothing rewritten


def test_video_level_example_is_rejected(tmp_path):
    example = tf.train.Example()
    example.features.feature['id'].bytes_list.value.append(b'v')
    example.features.feature['mean_rgb'].float_list.value.extend([0.0] * 1024)
    path = write_records(tmp_path / 'train.tfrecord', [example.SerializeToString()])
    with pytest.raises(reader.BadRecordError, match='video-level tf.Example'):
        _read_all(path)


def test_graph_checks_reject_bad_sizes_and_labels():
    for record, message in ((make_record(rgb_size=10), 'wrong feature size'),
                            (make_record(labels=(5000,)), 'class id outside'),
                            (make_record(num_frames=0), 'zero frames')):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            reader.decode_videos(reader.parse_serialized(tf.constant([record])))


def test_the_labels_only_reader_gives_decode_videos_labels_and_checks():
    records = tf.constant([make_record(labels=(1, 5)), make_record(labels=()),
                           make_record(labels=(3861, 3861))])
    np.testing.assert_array_equal(
        reader.parse_labels_multi_hot(records).numpy(),
        reader.decode_videos(reader.parse_serialized(records))[features.LABELS_MULTI_HOT])
    for labels, message in (((5000,), 'class id outside'), ((-1,), 'class id below 0')):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            reader.parse_labels_multi_hot(tf.constant([make_record(labels=labels)]))


def test_long_video_truncated_to_300_and_logged(tmp_path, caplog):
    path = write_records(tmp_path / 'train.tfrecord', [make_record(num_frames=305)])
    with caplog.at_level(logging.WARNING):
        (video,) = _read_all(path)
    assert video[features.NUM_FRAMES] == 300
    assert video[features.RGB].shape == (300, features.RGB_SIZE)
    assert '305 frames, truncated to 300' in caplog.text


def test_empty_shard_is_valid(real_files):
    empty = [p for p in real_files if p.endswith('clippedtrain3529.tfrecord')][0]
    assert _read_all(empty) == []


def test_truncated_and_corrupted_files(tmp_path):
    good = open(write_records(tmp_path / 'a.tfrecord', [make_record(), make_record()]), 'rb').read()
    truncated = tmp_path / 'truncated.tfrecord'
    truncated.write_bytes(good[:len(good) - 100])
    corrupted = tmp_path / 'corrupted.tfrecord'
    flipped = bytearray(good)
    flipped[200] ^= 0xFF
    corrupted.write_bytes(bytes(flipped))
    for path, message in ((truncated, r'record 1 \(byte offset \d+\): truncated file'),
                          (corrupted, r'record 0 \(byte offset 0\): corrupted record')):
        with pytest.raises(reader.BadRecordError, match=message) as err:
            _read_all(path)
        assert str(path) in str(err.value)


def test_missing_and_empty_data_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        reader.list_split_files(str(tmp_path / 'nope'), 'train')
    with pytest.raises(FileNotFoundError, match=r'no train files \(expected train\*.tfrecord\)'):
        reader.list_split_files(str(tmp_path), 'train')
    with pytest.raises(FileNotFoundError, match='no such file'):
        _read_all(tmp_path / 'missing.tfrecord')
