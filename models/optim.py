"""Optimizer, learning-rate schedule and precision/XLA switches.

The winners trained every family with Adam, gradient-norm clipping at 1.0
and a staircase exponential decay of the learning rate every 4M examples
(e.g. LR 2e-4, decay 0.8 for NetVLAD at batch 160; docs/TRAINING.md).
Decay is stated in examples, not steps, so that the schedule does not
change when the batch size does.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.autograph.core import config as autograph_config
from tensorflow.python.autograph.core import config_lib

# docs/TRAINING.md: gradient-norm clip 1.0, decay every 4M examples.
GLOBAL_CLIPNORM = 1.0
DEFAULT_DECAY_EXAMPLES = 4_000_000


def summed_binary_crossentropy(labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
    """Cross-entropy summed over the classes, averaged over the videos.

    The starter code's and the seed's `CrossEntropyLoss`. Keras'
    `BinaryCrossentropy` averages over the 3862 classes instead, which makes
    every gradient ~3862x smaller against the same L2 weight decay (tuned by
    the seed for the summed loss), and a loss curve that only says how well
    the ~3800 absent classes are pushed to 0. Targets may be soft
    (distillation).
    """
    labels = tf.cast(labels, tf.float32)
    probabilities = tf.clip_by_value(tf.cast(probabilities, tf.float32),
                                     _EPSILON, 1.0 - _EPSILON)
    per_class = -(labels * tf.math.log(probabilities)
                  + (1.0 - labels) * tf.math.log(1.0 - probabilities))
    return tf.reduce_sum(per_class, axis=-1)


_EPSILON = 1e-7


def decay_steps_for(decay_examples: int, batch_size: int) -> int:
    """Optimizer steps between two decays (at least 1)."""
    return max(1, decay_examples // batch_size)


def make_learning_rate_schedule(
        learning_rate: float, decay_examples: int, decay_rate: float,
        batch_size: int) -> keras.optimizers.schedules.ExponentialDecay:
    """lr(step) = learning_rate * decay_rate ** floor(step / decay_steps)."""
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=learning_rate,
        decay_steps=decay_steps_for(decay_examples, batch_size),
        decay_rate=decay_rate, staircase=True)


class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule(step) * min(1, (step + 1) / warmup_steps)`: a linear ramp, then `schedule`."""

    def __init__(self, schedule, warmup_steps: int):
        self.schedule, self.warmup_steps = schedule, int(warmup_steps)

    def __call__(self, step):
        ramp = tf.minimum(1.0, (tf.cast(step, tf.float32) + 1.0) / float(self.warmup_steps))
        return self.schedule(step) * ramp

    def get_config(self):
        return {'schedule': keras.optimizers.schedules.serialize(self.schedule),
                'warmup_steps': self.warmup_steps}


def make_optimizer(learning_rate: float,
                   decay_examples: int = DEFAULT_DECAY_EXAMPLES,
                   decay_rate: float = 0.8,
                   batch_size: int = 160, warmup_steps: int = 0) -> keras.optimizers.Adam:
    """Adam on the staircase schedule with global gradient-norm clip 1.0.

    Defaults are the winners' NetVLAD settings except the learning rate
    (theirs: 2e-4 at batch 160). `warmup_steps`: a linear ramp first
    (`LinearWarmup`).
    """
    schedule = make_learning_rate_schedule(learning_rate, decay_examples,
                                           decay_rate, batch_size)
    if warmup_steps:
        schedule = LinearWarmup(schedule, warmup_steps)
    return keras.optimizers.Adam(learning_rate=schedule,
                                 global_clipnorm=GLOBAL_CLIPNORM)


def configure_precision(mixed: bool) -> None:
    """Sets the global Keras policy: 'mixed_float16' or 'float32'.

    Call before `build_model`. Under mixed precision the models keep their
    variables, the VLAD/FV pooling (whose L2 epsilon would underflow) and
    the output probabilities in float32; `compile` wraps the optimizer in
    a loss-scale optimizer by itself. Pays off on GPUs with tensor cores,
    not on CPUs.
    """
    keras.mixed_precision.set_global_policy(
        'mixed_float16' if mixed else 'float32')


def skip_autograph_for_tf_keras() -> None:
    """Stops AutoGraph from re-writing tf_keras's own code when tracing.

    AutoGraph leaves modules named `keras` alone but not `tf_keras` (Keras 2
    under TF_USE_LEGACY_KERAS), so every first `fit`/`predict` re-writes the
    whole training loop, losses and layers: 20-60 s per traced function on
    two cores, for identical results (tf_keras is Keras 2's code, which ran
    unconverted as `keras` up to TF 2.15). This adds a DoNotConvert rule for
    `tf_keras` to AutoGraph's (private) rule list; user code is still
    converted. Process-wide and idempotent; call once before `fit`.
    """
    if not any(isinstance(rule, config_lib.DoNotConvert)
               and rule.matches('tf_keras')
               for rule in autograph_config.CONVERSION_RULES):
        autograph_config.CONVERSION_RULES = (
            (config_lib.DoNotConvert('tf_keras'),)
            + tuple(autograph_config.CONVERSION_RULES))

