"""NeXtVLAD (Lin et al., 2018): grouped, expanded NetVLAD with SE gating.

Frame handling: order-free. Reads the `max_frames` sampled slots (every slot
a real frame), so `num_frames` is not read. Lin et al. fed all frames with
a mask instead; with sampled input every slot is real and the mask would be
all ones.

Per stream (rgb: K clusters, G groups; audio: K/2 and G/2, as Lin's code):
  x' = FC(x) to lambda*D (expansion), split into G groups of lambda*D/G
  attention alpha_g(t) = sigmoid(FC(x'))          one weight per group
  a_gk(t) = softmax_k(BN(x' W))_gk * alpha_g(t)   grouped soft assignment
  v[d,k] = sum_{t,g} a_gk(t) (x'_g(t)[d] - c[d,k])   residuals over groups
  intra-normalisation (L2 per cluster), flatten, BN (Lin's code; it takes
  the place of NetVLAD's final L2).
Then concat -> dropout -> FC to H -> BN -> SE context gating
(FC H/r -> BN -> relu -> FC H -> sigmoid, elementwise product) -> MoE.
Lin et al.'s single model: K=64, lambda=2, G=8, H=2048, r=8, dropout 0.5.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from models import layers
from models.presets import NeXtVLADConfig
from yt8m import features


@keras.saving.register_keras_serializable(package='yt8m')
class GroupedVLADPooling(keras.layers.Layer):
    """Residuals of grouped features to K centres, summed over frames+groups.

    Inputs: expanded frames [B, T, lambda*D], assignment logits after BN
    [B, T, G*K] and group attention [B, T, G]. Holds the centres
    (lambda*D/G x K). Runs in float32 (L2 epsilon underflows in float16).
    """

    def __init__(self, groups: int, **kwargs):
        kwargs.setdefault('dtype', 'float32')
        super().__init__(**kwargs)
        self.groups = groups

    def build(self, input_shape):
        frames_shape, logits_shape, _ = input_shape
        self.group_dim = int(frames_shape[-1]) // self.groups
        self.num_clusters = int(logits_shape[-1]) // self.groups
        self.centres = self.add_weight(
            name='centres', shape=(self.group_dim, self.num_clusters),
            initializer=keras.initializers.VarianceScaling())
        super().build(input_shape)

    @layers.plain_call
    def call(self, inputs, training=None):
        del training  # accepted because do_not_convert hides the signature
        frames, logits, attention = inputs
        k, d = self.num_clusters, self.group_dim
        slots = tf.shape(attention)[1] * self.groups  # T*G group-frames
        frames = tf.reshape(frames, [-1, slots, d])
        assignment = tf.nn.softmax(tf.reshape(logits, [-1, slots, k]), axis=-1)
        assignment *= tf.reshape(attention, [-1, slots, 1])
        mass = tf.reduce_sum(assignment, axis=1)[:, tf.newaxis, :]  # [B,1,K]
        vlad = tf.einsum('bnk,bnd->bdk', assignment, frames)
        vlad = tf.math.l2_normalize(vlad - mass * self.centres, axis=1)
        return tf.reshape(vlad, [-1, d * k])

    def get_config(self):
        return {**super().get_config(), 'groups': self.groups}


def _stream(frames: tf.Tensor, num_clusters: int, groups: int,
            expansion: int, name: str) -> tf.Tensor:
    wide = expansion * int(frames.shape[-1])
    if wide % groups:
        raise ValueError(f'{name}: expanded size {wide} is not divisible by '
                         f'{groups} groups')
    expanded = keras.layers.Dense(wide, name=f'{name}_expansion')(frames)
    attention = keras.layers.Dense(groups, activation='sigmoid',
                                   name=f'{name}_group_attention')(expanded)
    logits = keras.layers.Dense(groups * num_clusters, use_bias=False,
                                name=f'{name}_assignment_fc')(expanded)
    logits = layers.batch_norm(f'{name}_assignment_bn')(
        logits)
    vlad = GroupedVLADPooling(groups, name=f'{name}_pooling')(
        [expanded, logits, attention])
    return layers.batch_norm(f'{name}_vlad_bn')(vlad)


def build_nextvlad(config: NeXtVLADConfig, num_classes: int, max_frames: int,
                   feature_size: int) -> keras.Model:
    """Builds the NeXtVLAD model."""
    inputs = layers.model_inputs(max_frames, feature_size)
    rgb, audio = layers.split_rgb_audio(inputs[features.FRAMES])
    vlad = keras.layers.Concatenate(name='concat_streams')([
        _stream(rgb, config.cluster_size, config.groups, config.expansion,
                'rgb'),
        _stream(audio, config.cluster_size // 2, config.groups // 2,
                config.expansion, 'audio')])
    if config.dropout > 0:
        vlad = keras.layers.Dropout(config.dropout, name='vlad_dropout')(vlad)
    hidden = keras.layers.Dense(config.hidden_size, use_bias=False,
                                name='hidden_fc')(vlad)
    hidden = layers.batch_norm('hidden_bn')(hidden)
    # SE-style context gating: a bottleneck of H / gating_reduction units.
    gates = keras.layers.Dense(config.hidden_size // config.gating_reduction,
                               use_bias=False, name='se_squeeze')(hidden)
    gates = layers.batch_norm('se_bn')(gates)
    gates = keras.layers.ReLU(name='se_relu')(gates)
    gates = keras.layers.Dense(config.hidden_size, use_bias=False,
                               activation='sigmoid', name='se_excite')(gates)
    hidden = keras.layers.Multiply(name='se_gating')([hidden, gates])
    probabilities = layers.classifier_head(hidden, num_classes,
                                           config.num_mixtures)
    return keras.Model(inputs, layers.probabilities_output(probabilities),
                       name='nextvlad')
