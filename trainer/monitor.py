"""Watching a model learn: eval GAP@20, early stopping, progress, TensorBoard.

`GapMonitor` is a Keras callback for a `fit` whose "epochs" are evaluation
intervals. At the end of each one it scores the eval videos (cached in
memory once, so an evaluation costs one forward pass), keeps the weights of
the best GAP@20 so far, and stops training once `patience` evaluations in a
row brought no improvement. Every `log_every_seconds` it logs examples/s and
the latest eval GAP, so a long run is never silent.

With a `log_dir` (the Trainer's `model_run` folder, where TFX users point
TensorBoard) it writes the scalars `loss`, `learning_rate`,
`examples_per_second`, `eval/gap_at_20` and `eval/loss`, stepped by
optimizer step. The learning curve (eval GAP against examples seen) is also
kept in `curve` for the training summary and the report's plot.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import List, Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from models import optim
from yt8m import eval_util

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 30.0
# One traced inference function per model being trained (see `predict`).
_INFERENCE: 'weakref.WeakKeyDictionary' = weakref.WeakKeyDictionary()


def cache_batches(dataset: tf.data.Dataset, max_examples: int,
                  max_bytes: Optional[int] = None) -> List[Tuple[dict, np.ndarray]]:
    """Up to `max_examples` videos of a finite (inputs, labels) dataset, as numpy.

    `max_bytes` bounds the cache whatever the split's size (float32 frames
    take 1.4 MB a full-length video, so 2048 of them would hold 2.8 GB in
    every Trainer): caching stops before the batch that would pass it
    (the first batch is always kept).

    The model inputs stay tensors; only the labels become numpy, for GAP.
    Feeding numpy inputs copied every batch into a new tensor at every
    evaluation: 0.67 s against 0.16-0.18 s for 13 batches of 32 full-length videos
    through DBoF or NetVLAD small on 2 cores, about 40 evaluations a Trainer
    (benchmarks/bench_eval_cache.py).
    """
    batches, count, size = [], 0, 0
    for inputs, labels in dataset:
        batch = (dict(inputs), labels.numpy())
        batch_bytes = batch[1].nbytes + sum(_tensor_bytes(v) for v in inputs.values())
        if batches and max_bytes is not None and size + batch_bytes > max_bytes:
            logger.info('Select videos for early stopping: %d (the cache bound of %d bytes)',
                        count, max_bytes)
            break
        batches.append(batch)
        count += len(batch[1])
        size += batch_bytes
        if count >= max_examples:
            break
    if not batches:
        raise ValueError('the select split holds no videos: cannot measure GAP@20 to stop early')
    return batches


def _tensor_bytes(tensor: tf.Tensor) -> int:
    return int(tensor.shape.num_elements()) * tensor.dtype.size


def predict(model: keras.Model, batches) -> Tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) over cached batches, in inference mode.

    Through one tf.function per model (traced once, then one graph call a
    batch): calling the model eagerly ran it layer by layer in Python at
    every batch of every evaluation. Not Keras' `predict_on_batch`: under a
    multi-worker strategy that would run collectively across the workers.
    """
    infer = _INFERENCE.get(model)
    if infer is None:
        held = weakref.ref(model)      # the function must not keep its model alive
        infer = _INFERENCE[model] = tf.function(
            lambda inputs: held()(inputs, training=False), reduce_retracing=True)
    predictions, labels = [], []
    for inputs, batch_labels in batches:
        predictions.append(np.asarray(infer(inputs), np.float32))
        labels.append(batch_labels)
    return np.concatenate(predictions), np.concatenate(labels)


def current_learning_rate(optimizer) -> float:
    rate = optimizer.learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(optimizer.iterations)
    return float(tf.convert_to_tensor(rate))


class GapMonitor(keras.callbacks.Callback):
    """Eval GAP@20 per interval, best weights, early stopping, logs, TensorBoard."""

    def __init__(self, eval_batches, batch_size: int, patience: int = 0,
                 log_dir: Optional[str] = None, phase: str = 'main',
                 log_every_seconds: float = LOG_EVERY_SECONDS, step_offset: int = 0,
                 score_start: bool = False):
        super().__init__()
        # A warm-started model: the start itself is a candidate (step 0).
        self.score_start = score_start
        self.eval_batches = eval_batches
        self.batch_size = batch_size
        self.patience = patience
        self.phase = phase
        self.log_every_seconds = log_every_seconds
        self.step_offset = step_offset
        self.writer = tf.summary.create_file_writer(log_dir) if log_dir else None
        self.curve: List[dict] = []
        self.best_gap = -1.0
        self.best_weights = None
        self.best_step = 0
        self.stopped_early = False
        self._bad_evaluations = 0
        self._last_loss = float('nan')

    # -- bookkeeping ------------------------------------------------------
    def _step(self) -> int:
        return int(self.model.optimizer.iterations.numpy()) + self.step_offset

    def _scalars(self, step: int, values: dict) -> None:
        if self.writer is None:
            return
        with self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        self.writer.flush()

    def evaluate(self) -> Tuple[float, float]:
        predictions, labels = predict(self.model, self.eval_batches)
        eval_loss = float(np.mean(optim.summed_binary_crossentropy(labels, predictions)))
        return eval_util.gap_at_k(predictions, labels), eval_loss

    # -- Keras hooks ------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._started = self._last_log = time.monotonic()
        self._first_step = self._step()
        if self.score_start and self.best_weights is None:
            gap, eval_loss = self.evaluate()
            self.best_gap, self.best_step = gap, self._first_step
            self.best_weights = self.model.get_weights()
            self.curve.append({'phase': self.phase, 'step': self._first_step,
                               'examples': self._first_step * self.batch_size,
                               'eval_gap': gap, 'eval_loss': eval_loss, 'seconds': 0.0})
            logger.info('[%s] start (warm): select GAP@20 %.4f, select loss %.3f',
                        self.phase, gap, eval_loss)

    def on_train_batch_end(self, batch, logs=None):
        self._last_loss = float((logs or {}).get('loss', self._last_loss))
        now = time.monotonic()
        if now - self._last_log >= self.log_every_seconds:
            self._last_log = now
            step = self._step()
            rate = (step - self._first_step) * self.batch_size / max(now - self._started, 1e-9)
            last = self.curve[-1]['eval_gap'] if self.curve else float('nan')
            logger.info('[%s] step %d (%d examples): loss %.3f, %.0f examples/s, '
                        'last select GAP@20 %.4f', self.phase, step, step * self.batch_size,
                        self._last_loss, rate, last)
            self._scalars(step, {'loss': self._last_loss, 'examples_per_second': rate,
                                 'learning_rate': current_learning_rate(self.model.optimizer)})

    def on_epoch_end(self, epoch, logs=None):
        step = self._step()
        seconds = time.monotonic() - self._started
        gap, eval_loss = self.evaluate()
        rate = (step - self._first_step) * self.batch_size / max(seconds, 1e-9)
        point = {'phase': self.phase, 'step': step, 'examples': step * self.batch_size,
                 'eval_gap': gap, 'eval_loss': eval_loss,
                 'train_loss': float((logs or {}).get('loss', self._last_loss)),
                 'learning_rate': current_learning_rate(self.model.optimizer),
                 'examples_per_second': rate, 'seconds': round(seconds, 2)}
        self.curve.append(point)
        self._scalars(step, {'eval/gap_at_20': gap, 'eval/loss': eval_loss,
                             'loss': point['train_loss'], 'examples_per_second': rate,
                             'learning_rate': point['learning_rate']})
        improved = gap > self.best_gap
        if improved:
            self.best_gap, self.best_step = gap, step
            self.best_weights = self.model.get_weights()
            self._bad_evaluations = 0
        else:
            self._bad_evaluations += 1
        logger.info('[%s] step %d (%d examples): select GAP@20 %.4f (best %.4f at step %d), '
                    'select loss %.3f, train loss %.3f, %.0f examples/s', self.phase, step,
                    point['examples'], gap, self.best_gap, self.best_step, eval_loss,
                    point['train_loss'], rate)
        self._last_log = time.monotonic()
        if self.patience and self._bad_evaluations >= self.patience:
            logger.info('[%s] early stop: no select GAP@20 gain in %d evaluations; '
                        'keeping step %d', self.phase, self.patience, self.best_step)
            self.stopped_early = True
            self.model.stop_training = True
