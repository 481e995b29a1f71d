"""Exponential moving average of the weights, as the winners did it.

After the model has converged, training goes on (about two epochs at a
lower learning rate) while keeping W_ema = (1 - g) * W_ema + g * W with
g about 5e-4; the model is evaluated and exported with W_ema (docs/TRAINING.md;
the seed slides: "train until convergence, then initialize averaging").
Averaging covers trainable and non-trainable float weights alike, so batch
norm's moving statistics match the averaged weights they normalise.

The average lives in float32 tf.Variables next to the model's (no host
copy per step) and is updated after each optimizer step, counted by the
optimizer's `iterations`, so a resumed fit keeps its place.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

# The winners' decay (docs/TRAINING.md): with g = 5e-4 the average spans about
# 1 / g = 2000 steps.
DEFAULT_GAMMA = 5e-4


class ExponentialMovingAverage(keras.callbacks.Callback):
    """Keeps W_ema of all float weights from optimizer step `start_step` on.

    W_ema is set to W once `start_step` optimizer steps are done (or at the
    start of training if that is already the case) and then, after every
    step, W_ema = (1 - gamma) * W_ema + gamma * W.
    """

    def __init__(self, start_step: int, gamma: float = DEFAULT_GAMMA):
        super().__init__()
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f'gamma must be in (0, 1], got {gamma}')
        self.start_step = start_step
        self.gamma = gamma
        self._averages: list[tf.Variable] | None = None
        self._update = None

    @property
    def started(self) -> bool:
        """True once averaging has begun (`start_step` reached)."""
        return self._averages is not None

    def _tracked(self) -> list[tf.Variable]:
        return [w for w in self.model.weights if w.dtype.is_floating]

    def _start(self) -> None:
        tracked = self._tracked()
        self._averages = [
            tf.Variable(tf.cast(w, tf.float32), trainable=False,
                        name=f'ema/{w.name.split(":")[0]}') for w in tracked]
        gamma = self.gamma

        @tf.function
        def update():
            for average, weight in zip(self._averages, tracked):
                average.assign((1.0 - gamma) * average
                               + gamma * tf.cast(weight, tf.float32))
        self._update = update

    def _steps_done(self) -> int:
        return int(self.model.optimizer.iterations.numpy())

    def on_train_begin(self, logs=None):
        if not self.started and self._steps_done() >= self.start_step:
            self._start()

    def on_train_batch_end(self, batch, logs=None):
        if self.started:
            self._update()
        elif self._steps_done() >= self.start_step:
            self._start()

    def averaged_weights(self) -> list[np.ndarray]:
        """W_ema aligned with `model.weights` (non-float weights as they are).

        Suits `model.set_weights(...)` on the trained model or on a fresh
        model of the same family and preset.
        """
        if not self.started:
            raise RuntimeError(
                f'EMA has not started: fewer than start_step={self.start_step}'
                ' optimizer steps were run.')
        averages = iter(self._averages)
        return [next(averages).numpy().astype(w.dtype.as_numpy_dtype)
                if w.dtype.is_floating else w.numpy()
                for w in self.model.weights]

    def apply_to(self, model: keras.Model) -> None:
        """Overwrites `model`'s weights with W_ema (e.g. before export).

        Applying to the model being trained ends the raw weights; keep a
        copy (`model.get_weights()`) first if training is to go on.
        """
        model.set_weights(self.averaged_weights())
