"""Batch prediction: the Beam job over YT8M files, the submission format, clear errors.

The model here is an untrained tiny DBoF with the serving contract; that the
pushed ensemble's submission reproduces the Evaluator's GAP is checked on the
end-to-end run (tests/test_pipeline_e2e.py).
"""

import os

import numpy as np
import pytest

from models.registry import build_model
from tools import batch_predict
from tests.records import make_record, write_records
from trainer.export import export_serving_model
from trainer.preprocessing import transform_videos
from yt8m import features, synthetic


@pytest.fixture(scope='module')
def pushed_model(tmp_path_factory):
    """A Pusher-style destination: <dir>/<version>/saved_model.pb."""
    destination = tmp_path_factory.mktemp('serving') / 'yt8m_dbof'
    export_serving_model(build_model('dbof', 'tiny'), transform_videos,
                         str(destination / '1700000000'))
    return str(destination)


@pytest.fixture(scope='module')
def unlabelled_folder(tmp_path_factory):
    data = tmp_path_factory.mktemp('data')
    synthetic.generate(str(data), num_videos=40, seed=1, shards=3, validate_fraction=0,
                       test_fraction=1.0)
    return data


def test_submission_has_one_sorted_row_per_video(pushed_model, unlabelled_folder, tmp_path):
    output = str(tmp_path / 'submission.csv')
    counters = batch_predict.predict(str(unlabelled_folder), pushed_model, output,
                                     batch_size=16)
    rows = batch_predict.read_submission(output)
    files = batch_predict.input_files(str(unlabelled_folder))
    video_ids = {video_id for path in files
                 for video_id in _ids(path)}
    assert set(rows) == video_ids and len(video_ids) == 40
    assert counters['videos_scored'] == 40 and counters['files_read'] == len(files)
    for classes, scores in rows.values():
        assert len(classes) == len(scores) == features.TOP_K
        assert np.all((scores >= 0) & (scores <= 1))
        assert np.all(np.diff(scores) <= 0)
        assert len(set(classes)) == features.TOP_K
        assert np.all((classes >= 0) & (classes < features.NUM_CLASSES))


def _ids(path):
    import tensorflow as tf
    for record in tf.data.TFRecordDataset(path):
        example = tf.train.SequenceExample.FromString(record.numpy())
        yield example.context.feature[features.ID].bytes_list.value[0].decode()


def test_existing_output_is_never_overwritten(pushed_model, unlabelled_folder, tmp_path):
    output = tmp_path / 'submission.csv'
    output.write_text('keep me')
    with pytest.raises(FileExistsError, match='not overwriting'):
        batch_predict.predict(str(unlabelled_folder), pushed_model, str(output))
    assert output.read_text() == 'keep me'


def test_a_corrupt_file_is_named(pushed_model, tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    write_records(data / 'test0000.tfrecord', [make_record(b'ok', num_frames=3)])
    bad = write_records(data / 'test0001.tfrecord',
                        [make_record(b'a', num_frames=3), make_record(b'b', num_frames=3)])
    with open(bad, 'rb') as f:
        content = f.read()
    with open(bad, 'wb') as f:
        f.write(content[:-100])    # truncated mid-record
    with pytest.raises(Exception,
                       match=r'test0001.tfrecord, record 1 \(byte offset \d+\): truncated file'):
        batch_predict.predict(str(data), pushed_model, str(tmp_path / 'out.csv'))
    assert not os.path.exists(tmp_path / 'out.csv')


def test_a_wrong_feature_size_names_file_and_record(pushed_model, tmp_path):
    data = tmp_path / 'data'
    data.mkdir()
    write_records(data / 'test0000.tfrecord',
                  [make_record(b'ok'), make_record(b'bad', rgb_size=1000)])
    with pytest.raises(Exception,
                       match=r"test0000.tfrecord, record 1 \(video id 'bad'\): rgb frame 0"):
        batch_predict.predict(str(data), pushed_model, str(tmp_path / 'out.csv'))


def test_missing_inputs_fail_before_the_job(pushed_model, tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file or folder'):
        batch_predict.predict(str(tmp_path / 'absent'), pushed_model, str(tmp_path / 'o.csv'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='holds no'):
        batch_predict.predict(str(tmp_path / 'empty'), pushed_model, str(tmp_path / 'o.csv'))
    with pytest.raises(FileNotFoundError, match='numbered versions'):
        batch_predict.resolve_model_dir(str(tmp_path / 'empty'))


def test_newest_pushed_version_is_used(tmp_path):
    for version in ('9', '10'):
        (tmp_path / version).mkdir()
        (tmp_path / version / 'saved_model.pb').write_bytes(b'')
    assert batch_predict.resolve_model_dir(str(tmp_path)) == str(tmp_path / '10')
