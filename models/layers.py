"""Pieces every model family shares, written once.

* `model_inputs` / `probabilities_output`: the one calling convention of
  `models.registry.build_model` (a dict of frames and true lengths in,
  float32 probabilities out), like the starter code's `create_model`.
* `split_rgb_audio`: the 2018 winners (and LOUPE before them) encode the
  visual and the audio stream separately, the audio one with half the
  clusters, because the two embeddings live in unrelated spaces.
* `ContextGating` (Miech et al., LOUPE 2017; kept by Skalic & Austin):
  `y = x * sigmoid(BN(x W))`, a learned H x H re-weighting of the features.
* `MixtureOfExperts`: the starter code's `MoeModel` (gates without bias,
  experts with bias, softmax over `num_mixtures + 1` gates where the extra
  gate is a "none of the experts" dummy); 2 mixtures as in docs/TRAINING.md.
* `batch_norm`: every batch norm of every family, with moving statistics
  that converge within a short budget (see `BN_MOMENTUM`).
* `FrameSampler`: a model that reads only some frames (DBoF) picks them
  itself: at random in training, evenly spaced at prediction.
"""
from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras
from tf_keras.src.utils import control_flow_util

from models.presets import rgb_size_for
from yt8m import features

# L2 weight decay on the classifier: `--moe_l2=1e-6` in the winners'
# NetVLAD and DBoF training commands (youtube8mchallenge/runme.md).
MOE_L2 = 1e-6


# Moving-statistics momentum of every batch norm. Keras' default (0.99)
# keeps 30% of the initial (mean 0, variance 1) statistics after 120 steps;
# on inputs whose variance is ~1e-3 that made every prediction-time
# activation ~15x too small and the output the label prior (issue #9:
# inference-mode GAP 0.15 where the same weights with batch statistics
# scored 0.31). At 0.9 the statistics follow the weights within ~30 steps.
BN_MOMENTUM = 0.9


def batch_norm(name: str) -> keras.layers.BatchNormalization:
    """The one batch norm of the project (momentum `BN_MOMENTUM`)."""
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def plain_call(call):
    """Marks a custom `Layer.call` as plain TF ops, exempt from autograph.

    Keras converts each custom layer's `call` with autograph, and since
    tf_keras is not on autograph's skip list, it also converts every tf_keras
    layer called inside: about 15 s per model build on two cores. These calls
    have no tensor-dependent Python control flow, so nothing is lost.
    """
    return tf.autograph.experimental.do_not_convert(call)


def split_rgb_audio(frames: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Splits [..., feature_size] frames into (rgb, audio) on the last axis."""
    feature_size = int(frames.shape[-1])
    rgb = rgb_size_for(feature_size)
    return tuple(tf.split(frames, [rgb, feature_size - rgb], axis=-1))


def model_inputs(max_frames: int, feature_size: int) -> dict[str, tf.Tensor]:
    """The input dict every family takes (names from `yt8m.features`)."""
    return {
        features.FRAMES: keras.Input(
            shape=(max_frames, feature_size), dtype='float32',
            name=features.FRAMES),
        features.NUM_FRAMES: keras.Input(
            shape=(), dtype='int64', name=features.NUM_FRAMES),
    }


def probabilities_output(probabilities: tf.Tensor) -> tf.Tensor:
    """Names the model output and pins it to float32 (mixed precision)."""
    return keras.layers.Activation(
        'linear', dtype='float32', name=features.PROBABILITIES)(probabilities)


@keras.saving.register_keras_serializable(package='yt8m')
class ContextGating(keras.layers.Layer):
    """`x * sigmoid(BN(x @ W))` with W of shape [H, H] (no bias: BN has one).

    Parameters: H*H + 4*H (BN gamma, beta, moving mean and variance).
    Also used on class probabilities (the winners' `--moe_prob_gating`),
    where H is the number of classes.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = None
        self.batch_norm = batch_norm('gate_bn')

    def build(self, input_shape):
        self.dense = keras.layers.Dense(
            int(input_shape[-1]), use_bias=False, name='gate_weights')
        super().build(input_shape)

    @plain_call
    def call(self, inputs, training=None):
        gates = self.batch_norm(self.dense(inputs), training=training)
        return inputs * tf.sigmoid(gates)


# YouTube-8M videos carry about 3 labels of 3862 (docs/TRAINING.md).
AVERAGE_LABELS_PER_VIDEO = 3.0


def prior_bias_initializer(num_classes: int) -> keras.initializers.Initializer:
    """Output biases at the log-odds of an average class's frequency.

    With zero biases every class starts at probability 0.5 and the first few
    hundred steps only push 3862 biases down (a mean-pool logistic regression
    was still at 0.46 after 160 steps); starting at the prior lets short
    budgets learn the classes instead.
    """
    prior = min(0.5, AVERAGE_LABELS_PER_VIDEO / num_classes)
    return keras.initializers.Constant(math.log(prior / (1.0 - prior)))


def start_at_label_prior(model: keras.Model, frequencies) -> int:
    """Sets every output layer's biases so that the untrained model predicts `frequencies`.

    The generic start (`prior_bias_initializer`, every class at 3/3862)
    leaves frequent classes, which carry most of GAP, hundreds of Adam steps
    away from their frequency (a bias moves ~LR per step: 0.003 a step from
    -7.2 to -1.5). Starting each class at its own training frequency lets
    the budget go to what the frames say. Covers the MoE experts (the
    gates start near uniform, so the experts carry M/(M+1) of the mass)
    and plain sigmoid output layers named 'logistic'. Returns the number of
    layers set.
    """
    import numpy as np
    frequencies = np.asarray(frequencies, np.float64)
    layers_set = 0
    for layer in model.submodules:
        if isinstance(layer, MixtureOfExperts):
            m = layer.num_mixtures
            target = np.clip(frequencies * (m + 1) / m, 1e-6, 0.999)
            bias = np.repeat(np.log(target / (1 - target)), m)   # [C * M], class-major
            layer.experts.bias.assign(bias.astype(np.float32))
            layers_set += 1
        elif isinstance(layer, keras.layers.Dense) and layer.name == 'logistic':
            target = np.clip(frequencies, 1e-6, 0.999)
            layer.bias.assign(np.log(target / (1 - target)).astype(np.float32))
            layers_set += 1
    return layers_set


def classifier_initializer() -> keras.initializers.Initializer:
    """Small output-layer kernels: every video starts near the prior.

    Glorot's scale on standardised 1152-d inputs gives every class a random
    logit of std ~1 per video, which a short budget spends its first
    hundreds of steps unlearning (a mean-pool logistic regression fell
    below the label prior). 1e-3 keeps the output input-dependent.
    """
    return keras.initializers.RandomNormal(stddev=1e-3)


@keras.saving.register_keras_serializable(package='yt8m')
class MixtureOfExperts(keras.layers.Layer):
    """Per-class mixture of `num_mixtures` logistic experts.

    p(c) = sum_m softmax(gates_c)[m] * sigmoid(expert_{c,m}), the softmax
    running over num_mixtures + 1 gates (the last one is the dummy "off"
    expert of the starter code). Parameters with input size H and C classes:
    H*C*(M+1) gate weights + H*C*M expert weights + C*M expert biases.
    """

    def __init__(self, num_classes: int, num_mixtures: int = 2,
                 l2: float = MOE_L2, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.num_mixtures = num_mixtures
        self.l2 = l2
        regularizer = keras.regularizers.l2(l2) if l2 else None
        self.gates = keras.layers.Dense(
            num_classes * (num_mixtures + 1), use_bias=False,
            kernel_initializer=classifier_initializer(), kernel_regularizer=regularizer,
            name='gates')
        self.experts = keras.layers.Dense(
            num_classes * num_mixtures, kernel_regularizer=regularizer,
            kernel_initializer=classifier_initializer(),
            bias_initializer=prior_bias_initializer(num_classes), name='experts')

    @plain_call
    def call(self, inputs, training=None):
        del training  # accepted because do_not_convert hides the signature
        m = self.num_mixtures
        gates = tf.reshape(self.gates(inputs), [-1, self.num_classes, m + 1])
        experts = tf.reshape(self.experts(inputs), [-1, self.num_classes, m])
        gate_distribution = tf.nn.softmax(gates, axis=-1)[..., :m]
        return tf.reduce_sum(gate_distribution * tf.sigmoid(experts), axis=-1)

    def get_config(self):
        return {**super().get_config(), 'num_classes': self.num_classes,
                'num_mixtures': self.num_mixtures, 'l2': self.l2}


def classifier_head(hidden: tf.Tensor, num_classes: int, num_mixtures: int,
                    gate_probabilities: bool = False) -> tf.Tensor:
    """MoE on the video vector, optionally gated on the class probabilities.

    The probability gating (a ContextGating of size C x C) lets classes that
    co-occur raise or damp each other; the winners' NetVLAD ran with it.
    """
    probabilities = MixtureOfExperts(num_classes, num_mixtures, name='moe')(
        hidden)
    if gate_probabilities:
        probabilities = ContextGating(name='probability_gating')(probabilities)
    return probabilities


@keras.saving.register_keras_serializable(package='yt8m')
class FrameSampler(keras.layers.Layer):
    """Keeps `num_samples` of the `max_frames` slots, as the seed's DBoF did.

    Input: the covered layout (slot j holds real frame j mod n, see
    `trainer/sampling.py`) and the true lengths n. Training draws
    `num_samples` real frames uniformly with replacement (a fresh draw per
    step: augmentation). Prediction takes the evenly spaced frames
    floor((j + 1/2) n / num_samples): deterministic, so a served model is a
    function of its input, and with the same marginal distribution over the
    video's time axis as the random draw, so max/avg pools see at prediction
    what they saw in training.
    """

    def __init__(self, num_samples: int, **kwargs):
        super().__init__(**kwargs)
        if num_samples < 1:
            raise ValueError(f'num_samples must be >= 1, got {num_samples}')
        self.num_samples = num_samples
        # Set by `read_drawn_frames` (never saved): the training input holds
        # this layer's random draw already, in its first `num_samples` slots.
        self.input_is_drawn = False

    @plain_call
    def call(self, frames, num_frames, training=None):
        if training is None:
            training = keras.backend.learning_phase()
        n = tf.maximum(tf.cast(num_frames, tf.int32), 1)[:, tf.newaxis]
        n_float = tf.cast(n, tf.float32)
        k = self.num_samples

        def random_indices():
            if self.input_is_drawn:
                return tf.broadcast_to(tf.range(k)[tf.newaxis, :], [tf.shape(frames)[0], k])
            uniform = tf.random.uniform([tf.shape(frames)[0], k])
            return tf.minimum(tf.cast(uniform * n_float, tf.int32), n - 1)

        def spaced_indices():
            centres = (tf.range(k, dtype=tf.float32) + 0.5) / k
            return tf.minimum(tf.cast(centres[tf.newaxis, :] * n_float, tf.int32), n - 1)

        indices = control_flow_util.smart_cond(training, random_indices, spaced_indices)
        return tf.gather(frames, indices, batch_dims=1)

    def get_config(self):
        return {**super().get_config(), 'num_samples': self.num_samples}


def read_drawn_frames(model: keras.Model) -> None:
    """The training input already holds the FrameSampler's draw (`sampling.draw_raw_frames`).

    The same uniform draw with replacement, made by the input pipeline before
    the transform graph, so that only the drawn frames are dequantized and
    standardised (issue: the Trainer fed at the model's speed). Training
    then reads the first `num_samples` slots as they come; prediction is
    unchanged (evenly spaced frames of the full video), and the exported
    model is built afresh, without this setting.
    """
    for layer in model.layers:
        if isinstance(layer, FrameSampler):
            layer.input_is_drawn = True
