"""Frame sampling, training configuration and EMA export in the trainer."""

import numpy as np
import pytest
import tensorflow as tf

from trainer import run_fn, sampling
from trainer.config import TrainingConfig
from yt8m import features


def test_cover_every_frame_puts_real_frames_first_then_cycles():
    frames = tf.ragged.constant([[[1.0], [2.0], [3.0]], [[7.0]]], ragged_rank=1)
    covered = sampling.cover_every_frame(frames, tf.constant([3, 1]), slots=7).numpy()
    assert covered[0, :, 0].tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert covered[1, :, 0].tolist() == [7] * 7


def test_training_sampling_draws_real_frames_and_changes_each_call():
    frames = tf.constant(np.arange(10, dtype=np.float32).reshape(1, 10, 1))
    draws = [sampling.sample_with_replacement(frames, tf.constant([4]), slots=300).numpy()
             for _ in range(2)]
    for draw in draws:
        assert set(draw.ravel()) <= {0.0, 1.0, 2.0, 3.0}     # only the 4 real frames
        assert len(set(draw.ravel())) == 4                    # with replacement, all seen
    assert not np.array_equal(draws[0], draws[1])


def test_unknown_training_option_is_rejected():
    with pytest.raises(ValueError, match=r"unknown training options \['lerning_rate'\]"):
        TrainingConfig.from_custom_config({'lerning_rate': 0.1})
    config = TrainingConfig.from_custom_config({'family': 'gru', 'code_fingerprint': 'x'})
    assert config.family == 'gru'


def _toy_dataset(batch=4, frames=300):
    rng = np.random.default_rng(0)
    inputs = {features.FRAMES: rng.normal(size=(batch, frames, features.FRAME_SIZE)).astype('f'),
              features.NUM_FRAMES: np.full([batch], frames, np.int64)}
    labels = (rng.random((batch, features.NUM_CLASSES)) < 0.001).astype('f')
    return tf.data.Dataset.from_tensors((inputs, labels)).repeat()


def test_ema_weights_are_the_exported_ones():
    config = TrainingConfig(family='logistic', preset='tiny', ema_steps=3, ema_gamma=0.5,
                            learning_rate=0.1)
    dataset = _toy_dataset()
    model, weights, summary = run_fn.train_model(config, dataset, dataset, train_steps=2,
                                                 eval_steps=1)
    raw = model.get_weights()
    assert summary['ema_steps'] == 3 and summary['main_steps'] == 2
    assert any(not np.allclose(w, r) for w, r in zip(weights, raw))
    exported = run_fn.build_export_model(config, weights)
    for got, want in zip(exported.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
