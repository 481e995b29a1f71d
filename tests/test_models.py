"""Model families: calling convention, sizes, masking, EMA, optimizer.

Everything runs at the 'tiny' preset on tiny frames (18 dims: 16 rgb +
2 audio, the real 8:1 split) so the file runs in well under a minute on
two cores; only the parameter-count test builds 'small', at full size.
"""
import functools

import numpy as np
import pytest
import tf_keras as keras

from models import ema, layers, optim
from models.presets import (DBoFConfig, PRESET_NAMES, closed_form_param_count,
                            get_preset)
from models.registry import FAMILIES, build_model
from trainer.config import TrainingConfig
from yt8m import features

optim.skip_autograph_for_tf_keras()  # minutes -> seconds for the fit tests

NUM_CLASSES = 5
MAX_FRAMES = 6
FEATURE_SIZE = 18


def _tiny(family, preset='tiny'):
    return build_model(family, preset, num_classes=NUM_CLASSES,
                       max_frames=MAX_FRAMES, feature_size=FEATURE_SIZE)


@functools.lru_cache(maxsize=None)
def _untrained(family):
    """One shared tiny model per family for the tests that only read it."""
    keras.utils.set_random_seed(0)
    return _tiny(family)


def _batch(batch_size, seed=0, num_frames=None):
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(batch_size, MAX_FRAMES, FEATURE_SIZE))
    frames /= np.linalg.norm(frames, axis=-1, keepdims=True)
    if num_frames is None:
        num_frames = rng.integers(1, MAX_FRAMES + 1, size=batch_size)
    return {features.FRAMES: frames.astype(np.float32),
            features.NUM_FRAMES: np.asarray(num_frames, np.int64)}


@pytest.mark.parametrize('family', FAMILIES)
def test_family_predicts_probabilities_and_trains(family):
    keras.utils.set_random_seed(0)
    model = _tiny(family)
    probabilities = model(_batch(3), training=False).numpy()
    assert probabilities.shape == (3, NUM_CLASSES)
    assert probabilities.dtype == np.float32
    assert np.all((probabilities >= 0) & (probabilities <= 1))

    model.compile(optimizer=optim.make_optimizer(1e-3, 64, 0.8, 4),
                  loss=optim.summed_binary_crossentropy)
    labels = (np.random.default_rng(1).random((8, NUM_CLASSES)) < 0.3)
    history = model.fit(_batch(8), labels.astype(np.float32), batch_size=4,
                        epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2
    assert np.isfinite(history.history['loss'][0])
    assert np.all(np.isfinite(model(_batch(3), training=False).numpy()))


@pytest.mark.parametrize('family', FAMILIES)
def test_closed_form_param_count_matches_keras(family):
    tiny = _untrained(family)
    assert tiny.count_params() == closed_form_param_count(
        family, 'tiny', NUM_CLASSES, FEATURE_SIZE)
    # Full-size frames and classes; the frame count does not change sizes.
    small = build_model(family, 'small', max_frames=2)
    assert small.count_params() == closed_form_param_count(family, 'small')


def test_closed_form_of_seed_netvlad_is_the_published_size():
    # docs/TRAINING.md: K=256/H=1024 NetVLAD is about 320M parameters.
    assert 315e6 < closed_form_param_count('netvlad', 'seed') < 325e6


@pytest.mark.parametrize('family', ['lstm', 'gru'])
def test_rnn_output_ignores_padding(family):
    model = _untrained(family)
    lengths = [3, MAX_FRAMES, 1]
    clean = _batch(3, seed=0, num_frames=lengths)
    noisy = {key: value.copy() for key, value in clean.items()}
    noise = _batch(3, seed=1)[features.FRAMES] * 10.0
    for row, length in enumerate(lengths):
        clean[features.FRAMES][row, length:] = 0.0
        noisy[features.FRAMES][row, length:] = noise[row, length:]
    np.testing.assert_allclose(model(clean).numpy(), model(noisy).numpy(),
                               rtol=1e-5, atol=1e-6)
    # ...while the real frames do matter.
    changed = {**clean, features.FRAMES: clean[features.FRAMES].copy()}
    changed[features.FRAMES][:, 0] = noise[:, 0]
    assert not np.allclose(model(clean).numpy(), model(changed).numpy())


def test_ema_follows_the_recursion_on_a_hand_checked_case():
    model = keras.Sequential([keras.layers.Dense(1, use_bias=False)])
    model.build((None, 1))
    model.compile(optimizer=keras.optimizers.SGD(), loss='mse')
    callback = ema.ExponentialMovingAverage(start_step=2, gamma=0.25)
    callback.set_model(model)

    def step(weight):  # what fit does: one optimizer step, then the hook
        model.set_weights([np.array([[weight]], np.float32)])
        model.optimizer.iterations.assign_add(1)
        callback.on_train_batch_end(0)

    callback.on_train_begin()
    step(100.0)                  # step 1 < start_step: no average yet
    assert not callback.started
    step(4.0)                    # step 2: W_ema = W = 4
    step(8.0)                    # 0.75 * 4 + 0.25 * 8 = 5
    step(0.0)                    # 0.75 * 5 + 0.25 * 0 = 3.75
    np.testing.assert_allclose(callback.averaged_weights()[0], [[3.75]])
    fresh = keras.Sequential([keras.layers.Dense(1, use_bias=False)])
    fresh.build((None, 1))
    callback.apply_to(fresh)
    np.testing.assert_allclose(fresh.get_weights()[0], [[3.75]])


def test_ema_during_fit_lags_the_raw_weights():
    keras.utils.set_random_seed(0)
    model = _tiny('netvlad')
    model.compile(optimizer=optim.make_optimizer(1e-2, 64, 0.8, 4),
                  loss=optim.summed_binary_crossentropy)
    callback = ema.ExponentialMovingAverage(start_step=1, gamma=0.5)
    callback.set_model(model)
    with pytest.raises(RuntimeError):
        callback.averaged_weights()
    labels = np.ones((16, NUM_CLASSES), np.float32)
    model.fit(_batch(16), labels, batch_size=4, verbose=0,
              callbacks=[callback])
    averaged, raw = callback.averaged_weights(), model.get_weights()
    assert len(averaged) == len(raw) == len(model.weights)
    trainable_ids = {id(w) for w in model.trainable_weights}
    moving_ids = {id(w) for w in model.non_trainable_weights}
    changed = {id(w) for w, a, r in zip(model.weights, averaged, raw)
               if not np.allclose(a, r)}
    assert changed & trainable_ids and changed & moving_ids


def test_optimizer_decays_in_staircase_per_examples_and_clips():
    assert optim.make_optimizer(1e-3, 4000, 0.5, 32).global_clipnorm == 1.0
    # 4000 examples / batch 32 = a decay every 125 steps.
    schedule = optim.make_learning_rate_schedule(1e-3, 4000, 0.5, 32)
    np.testing.assert_allclose(
        [float(schedule(s)) for s in (0, 124, 125, 250)],
        [1e-3, 1e-3, 5e-4, 2.5e-4], rtol=1e-6)


def test_warmup_ramps_the_rate_linearly_then_hands_over_to_the_decay():
    # 4 warm-up steps before a decay every 125 steps (4000 examples / batch 32).
    schedule = optim.LinearWarmup(optim.make_learning_rate_schedule(1e-3, 4000, 0.5, 32), 4)
    np.testing.assert_allclose(
        [float(schedule(s)) for s in (0, 1, 3, 4, 124, 125)],
        [2.5e-4, 5e-4, 1e-3, 1e-3, 1e-3, 5e-4], rtol=1e-6)
    # The optimizer's rate at its first step: ramped with warm-up, full without.
    assert float(optim.make_optimizer(1e-3, 4000, 0.5, 32, warmup_steps=4).learning_rate
                 ) == pytest.approx(2.5e-4)
    assert float(optim.make_optimizer(1e-3, 4000, 0.5, 32).learning_rate) == pytest.approx(1e-3)
    with pytest.raises(ValueError, match='warmup_steps'):
        TrainingConfig(family='dbof', warmup_steps=-1)


def test_unknown_family_or_preset_raises_listing_valid_names():
    with pytest.raises(ValueError, match='netvlad'):
        build_model('transformer')
    with pytest.raises(ValueError, match='small'):
        build_model('netvlad', 'huge')
    with pytest.raises(ValueError, match='DBoFConfig'):
        build_model('dbof', get_preset('netvlad', 'tiny'))
    with pytest.raises(ValueError, match='avg'):
        DBoFConfig(8, 8, pooling='median')


def test_every_family_has_every_preset():
    for family in FAMILIES:
        for preset in PRESET_NAMES:
            assert closed_form_param_count(family, preset) > 0


def test_dbof_variants_build_from_a_config():
    soft_avg = DBoFConfig(8, 8, pooling='avg', assignment='softmax',
                          context_gating=False, input_batch_norm=False)
    model = _tiny('dbof', soft_avg)
    assert model.count_params() == closed_form_param_count(
        'dbof', soft_avg, NUM_CLASSES, FEATURE_SIZE)
    assert model(_batch(2)).shape == (2, NUM_CLASSES)


def test_dbof_frame_sampler_draws_the_configured_count_and_is_deterministic_at_prediction():
    sampler = layers.FrameSampler(5)
    # Covered layout: slot j holds frame j mod n; frame values are their index.
    n = np.array([3, 300], np.int64)
    frames = np.stack([np.arange(300) % 3, np.arange(300)]).astype('f')[..., None]
    drawn = [sampler(frames, n, training=True).numpy() for _ in range(3)]
    assert drawn[0].shape == (2, 5, 1)
    assert set(np.concatenate([d[0].ravel() for d in drawn])) <= {0.0, 1.0, 2.0}
    assert any(not np.array_equal(drawn[0], d) for d in drawn[1:])   # fresh draws
    predicted = sampler(frames, n, training=False).numpy()
    np.testing.assert_array_equal(predicted, sampler(frames, n, training=False).numpy())
    # Evenly spaced: floor((j + 1/2) * n / 5).
    assert predicted[1, :, 0].tolist() == [30, 90, 150, 210, 270]
    assert predicted[0, :, 0].tolist() == [0, 0, 1, 2, 2]


def test_frame_sampler_reads_a_drawn_input_as_it_comes_in_training_only():
    model = _tiny('dbof', DBoFConfig(8, 8, sample_frames=5))
    sampler = model.get_layer('frame_sampler')
    assert sampler.num_samples == 5
    layers.read_drawn_frames(model)
    n = np.array([300], np.int64)
    frames = np.arange(300, dtype='f').reshape(1, 300, 1)
    np.testing.assert_array_equal(sampler(frames, n, training=True).numpy()[0, :, 0],
                                  [0, 1, 2, 3, 4])               # the first k slots: the draw
    assert sampler(frames, n, training=False).numpy()[0, :, 0].tolist() == [30, 90, 150, 210, 270]


def test_sampled_dbof_predicts_deterministically_and_reads_only_sampled_frames():
    model = _tiny('dbof', DBoFConfig(8, 8, sample_frames=4))
    batch = _batch(2, seed=0, num_frames=[MAX_FRAMES, MAX_FRAMES])
    first = model(batch, training=False).numpy()
    np.testing.assert_array_equal(first, model(batch, training=False).numpy())
    # Frames that the evenly spaced choice skips cannot change the prediction.
    changed = {**batch, features.FRAMES: batch[features.FRAMES].copy()}
    changed[features.FRAMES][:, 1] += 100.0      # slot 1 is not among floor((j + .5) 6 / 4)
    np.testing.assert_allclose(model(changed, training=False).numpy(), first, rtol=1e-6)
    assert model.get_layer('frame_sampler').num_samples == 4
