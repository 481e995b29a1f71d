"""NetVLAD and NetFV (LOUPE, Miech et al. 2017; the winners' best family).

Frame handling: order-free. Without `sample_frames` both read the
`max_frames` sampled slots (every slot a real frame: sampled with
replacement in training, every real frame at least once at prediction), so
no mask is needed; with it they pick that many frames themselves
(`layers.FrameSampler`, as DBoF), reading `num_frames`.
Options for short budgets (presets.NetVLADConfig): a per-frame linear
reduction before pooling, dropout on the pooled and the hidden vector, and
the seed's N(0, 1/sqrt(K)) start of the FC to H.

Per stream (rgb with K clusters, audio with K/2, as LOUPE and the winners):
  a = softmax(BN(x W))                       soft assignment to K clusters
  NetVLAD: v[d,k] = sum_t a_k(t) (x_t[d] - c[d,k])       residuals to centres
  NetFV:   first order  (sum_t a_k(t) (x_t - c_k)) / s_k
           second order (sum_t a_k(t) (x_t - c_k)^2) / s_k^2 - sum_t a_k(t)
           with learnable per-cluster "covariances" s = w^2 + 1e-6.
  intra-normalisation (L2 over d per cluster), flatten, L2.
Then concat(rgb, audio) -> FC to H -> context gating -> MoE (2 mixtures)
-> optional gating on the class probabilities.
"""
from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

from models import layers
from models.presets import NetVLADConfig, reduced_size
from yt8m import features

# Keeps the NetFV covariances strictly positive (LOUPE's epsilon).
_COVARIANCE_EPSILON = 1e-6


def _normalise(per_cluster: tf.Tensor) -> tf.Tensor:
    """[B, D, K] -> intra-normalise each cluster over D, flatten, L2."""
    per_cluster = tf.math.l2_normalize(per_cluster, axis=1)
    flat = tf.reshape(per_cluster, [-1, per_cluster.shape[1] *
                                    per_cluster.shape[2]])
    return tf.math.l2_normalize(flat, axis=1)


@keras.saving.register_keras_serializable(package='yt8m')
class VLADPooling(keras.layers.Layer):
    """Residual aggregation given frames [B, T, D] and assignments [B, T, K].

    Holds the K learned centres (D x K). Runs in float32 even under mixed
    precision: the L2 norms' epsilon underflows in float16.
    With `fisher=True` it is NetFV's pooling: it also holds the covariance
    weights (D x K) and returns first and second order statistics (2*D*K).
    """

    def __init__(self, fisher: bool = False, **kwargs):
        kwargs.setdefault('dtype', 'float32')
        super().__init__(**kwargs)
        self.fisher = fisher

    def build(self, input_shape):
        frames_shape, assignment_shape = input_shape
        dim, k = int(frames_shape[-1]), int(assignment_shape[-1])
        init = keras.initializers.RandomNormal(stddev=1 / math.sqrt(dim))
        self.centres = self.add_weight(name='centres', shape=(dim, k),
                                       initializer=init)
        if self.fisher:
            self.covariance_weights = self.add_weight(
                name='covariance_weights', shape=(dim, k),
                initializer=keras.initializers.RandomNormal(
                    mean=1.0, stddev=1 / math.sqrt(dim)))
        super().build(input_shape)

    @layers.plain_call
    def call(self, inputs, training=None):
        del training  # accepted because do_not_convert hides the signature
        frames, assignment = inputs
        mass = tf.reduce_sum(assignment, axis=1)[:, tf.newaxis, :]  # [B,1,K]
        weighted_sum = tf.einsum('btk,btd->bdk', assignment, frames)
        first_order = weighted_sum - mass * self.centres
        if not self.fisher:
            return _normalise(first_order)
        covariance = tf.square(self.covariance_weights) + _COVARIANCE_EPSILON
        weighted_squares = tf.einsum('btk,btd->bdk', assignment,
                                     tf.square(frames))
        second_order = (weighted_squares + mass * tf.square(self.centres)
                        - 2.0 * weighted_sum * self.centres)
        second_order = second_order / tf.square(covariance) - mass
        return tf.concat([_normalise(first_order / covariance),
                          _normalise(second_order)], axis=1)

    def get_config(self):
        return {**super().get_config(), 'fisher': self.fisher}


def _stream(frames: tf.Tensor, num_clusters: int, fisher: bool,
            name: str, config: NetVLADConfig) -> tf.Tensor:
    """[Reduction FC,] soft assignment (FC -> BN -> softmax), VLAD/FV pooling."""
    reduced = reduced_size(config, int(frames.shape[-1]))
    if reduced != int(frames.shape[-1]):
        frames = keras.layers.Dense(reduced, use_bias=False,
                                    name=f'{name}_reduction_fc')(frames)
    logits = keras.layers.Dense(num_clusters, use_bias=False,
                                name=f'{name}_assignment_fc')(frames)
    logits = layers.batch_norm(f'{name}_assignment_bn')(
        logits)
    assignment = keras.layers.Softmax(axis=-1, name=f'{name}_assignment')(
        logits)
    return VLADPooling(fisher=fisher, name=f'{name}_pooling')(
        [frames, assignment])


def build_netvlad(config: NetVLADConfig, num_classes: int, max_frames: int,
                  feature_size: int, fisher: bool = False) -> keras.Model:
    """Builds NetVLAD, or NetFV with `fisher=True` (same config fields)."""
    family = 'netfv' if fisher else 'netvlad'
    inputs = layers.model_inputs(max_frames, feature_size)
    x = inputs[features.FRAMES]
    if config.sample_frames:
        x = layers.FrameSampler(config.sample_frames, name='frame_sampler')(
            x, inputs[features.NUM_FRAMES])
    if config.input_batch_norm:
        x = layers.batch_norm('input_bn')(x)
    rgb, audio = layers.split_rgb_audio(x)
    pooled = keras.layers.Concatenate(name='concat_streams')([
        _stream(rgb, config.cluster_size, fisher, 'rgb', config),
        _stream(audio, config.cluster_size // 2, fisher, 'audio', config)])
    if config.pooled_dropout:
        pooled = keras.layers.Dropout(config.pooled_dropout,
                                      name='pooled_dropout')(pooled)
    # LOUPE's and the seed's start: the pooled vector has norm 1, so
    # N(0, 1/sqrt(K)) gives hidden units of std ~1/sqrt(K) (0.25 at K=16),
    # where Glorot over a 17,408-wide input gives ~0.01 and the MoE (kernels
    # at std 1e-3) starts blind to the input.
    kernel_init = (keras.initializers.RandomNormal(
        stddev=1 / math.sqrt(config.cluster_size))
        if config.hidden_init == 'seed' else 'glorot_uniform')
    if config.hidden_relu:
        hidden = keras.layers.Dense(config.hidden_size, use_bias=False,
                                    kernel_initializer=kernel_init,
                                    name='hidden_fc')(pooled)
        hidden = layers.batch_norm('hidden_bn')(hidden)
        hidden = keras.layers.ReLU(max_value=6.0, name='hidden_relu6')(hidden)
    else:
        hidden = keras.layers.Dense(config.hidden_size,
                                    kernel_initializer=kernel_init,
                                    name='hidden_fc')(pooled)
    if config.context_gating:
        hidden = layers.ContextGating(name='context_gating')(hidden)
    if config.dropout:
        hidden = keras.layers.Dropout(config.dropout, name='dropout')(hidden)
    probabilities = layers.classifier_head(
        hidden, num_classes, config.num_mixtures, config.gate_probabilities)
    return keras.Model(inputs, layers.probabilities_output(probabilities),
                       name=family)
