"""Out-of-fold soft labels: no video is scored by a teacher that trained on it."""

import os

import numpy as np
import pytest
import tensorflow as tf

from components.distiller import teacher_scores as scores_lib
from tests import records
from trainer import fold_models, input_pipeline
from trainer.config import TrainingConfig
from yt8m import features, folds

FOLDS = 3
VIDEOS = 60


def _train_file(tmp_path):
    return records.write_records(tmp_path / 'train.tfrecord', [
        records.make_record(f'video{index:03d}'.encode(), num_frames=2, seed=index)
        for index in range(VIDEOS)])


def _ids_trained_on(path, exclude_fold):
    """Every id the fold copy's training data yields over two epochs."""
    dataset = input_pipeline.raw_dataset([path], 8, shuffle=True, seed=3,
                                         cache_bytes=1 << 20, exclude_fold=exclude_fold)
    return {video.decode() for batch in dataset.take(2 * VIDEOS // 8)
            for video in batch[features.ID].flat_values.numpy()}


def _fold_teacher(fold):
    """A stand-in serving function that puts all its mass on class `fold`: who scored."""
    def serve(examples):
        count = tf.shape(examples)[0]
        return {features.PROBABILITIES: tf.one_hot(tf.fill([count], fold), features.NUM_CLASSES)}
    return serve


def test_folds_are_stable_balanced_and_cover_every_video():
    ids = tf.constant([f'video{index:05d}' for index in range(3000)])
    first, again = folds.fold_of(ids, FOLDS).numpy(), folds.fold_of(ids, FOLDS).numpy()
    np.testing.assert_array_equal(first, again)
    counts = np.bincount(first, minlength=FOLDS)
    assert counts.sum() == 3000 and counts.min() > 900      # about 1000 each
    with pytest.raises(ValueError, match='folds'):
        folds.fold_of(ids, 0)


def test_no_video_is_scored_by_a_teacher_that_trained_on_it(tmp_path):
    path = _train_file(tmp_path)
    trained_on = {fold: _ids_trained_on(path, (fold, FOLDS)) for fold in range(FOLDS)}
    every_id = {f'video{index:03d}' for index in range(VIDEOS)}
    for fold, ids in trained_on.items():
        # Each copy sees every video outside its fold, and none inside it.
        assert ids and ids < every_id
        assert every_id - ids == {i for i in every_id
                                  if folds.fold_of(tf.constant(i), FOLDS).numpy() == fold}
    batch = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    store = scores_lib.score_batch_out_of_fold(
        [_fold_teacher(fold) for fold in range(FOLDS)], batch, top_k=1)
    assert sorted(i.decode() for i in store.ids) == sorted(every_id)     # every video scored
    for video, teacher in zip(store.ids, store.classes[:, 0]):
        assert video.decode() not in trained_on[int(teacher)]


def test_fold_copies_train_the_main_models_epochs_on_their_share():
    config = TrainingConfig(train_examples=1600, batch_size=32, teacher_folds=2, ema_steps=5)
    copy = fold_models.fold_config(config, {'best_step': 40})
    assert copy.train_examples == 40 * 32 // 2 and copy.teacher_folds == 0
    assert copy.ema_steps == 0 and copy.eval_every_examples == 5 * 32 // 2


def test_an_incomplete_set_of_fold_copies_is_refused(tmp_path):
    model_uri = str(tmp_path / 'model')
    assert folds.fold_model_dirs(model_uri) is None
    for fold in (0, 2):
        tf.io.gfile.makedirs(folds.fold_model_dir(model_uri, fold, 3))
    with pytest.raises(ValueError, match='incomplete'):
        folds.fold_model_dirs(model_uri)
    tf.io.gfile.makedirs(folds.fold_model_dir(model_uri, 1, 3))
    assert folds.fold_model_dirs(model_uri) == [
        folds.fold_model_dir(model_uri, fold, 3) for fold in range(3)]


def test_a_fold_copys_label_prior_counts_only_the_videos_it_trains_on(tmp_path):
    labels_of = {f'video{index:03d}': (index % 7, 100 + index) for index in range(VIDEOS)}
    path = records.write_records(tmp_path / 'labelled.tfrecord', [
        records.make_record(video.encode(), labels=labels, num_frames=1, seed=0)
        for video, labels in labels_of.items()])
    for fold in range(FOLDS):
        expected = np.zeros(features.NUM_CLASSES)
        for video in _ids_trained_on(path, (fold, FOLDS)):
            expected[list(labels_of[video])] += 1
        counted = sum(batch.numpy().sum(axis=0) for batch in input_pipeline.label_batches(
            [path], 8, exclude_fold=(fold, FOLDS)))
        assert 0 < counted.sum() < 2 * VIDEOS
        np.testing.assert_array_equal(counted, expected)


def test_fold_copies_read_the_main_models_cache_not_the_files(tmp_path):
    path = _train_file(tmp_path)
    records = input_pipeline.split_records([path], shuffle=True, seed=3, cache_bytes=1 << 30)
    main = input_pipeline.raw_dataset([path], 8, shuffle=True, seed=3, records=records)
    seen = {video.decode() for batch in main.take(2 * VIDEOS // 8)
            for video in batch[features.ID].flat_values.numpy()}
    assert len(seen) == VIDEOS
    os.remove(path)      # a copy that went back to the file would fail now
    copy = input_pipeline.raw_dataset([path], 8, shuffle=True, seed=3, records=records,
                                      exclude_fold=(1, FOLDS))
    trained = {video.decode() for batch in copy.take(2 * VIDEOS // 8)
               for video in batch[features.ID].flat_values.numpy()}
    assert trained == _outside_fold(seen, 1)


def _outside_fold(ids, fold):
    """The ids outside `fold` (yt8m/folds.py's hash, computed directly)."""
    assigned = folds.fold_of(tf.constant(sorted(ids)), FOLDS).numpy()
    return {video for video, f in zip(sorted(ids), assigned) if f != fold}
