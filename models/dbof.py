"""Deep Bag of Frames (starter code `DbofModel`; gated and soft variants).

Frame handling: order-free. Reads the `max_frames` sampled slots (every
slot a real frame; the winners sampled 300 with replacement in training and
put each real frame in at least once at prediction), so `num_frames` is not
read and pooling needs no mask.

frame -> [BN] -> FC to K (no bias) -> BN -> relu6 (or softmax: soft DBoF)
      -> max/avg pool over frames -> FC to H -> BN -> relu6
      -> [context gating: gated DBoF] -> MoE.
The winners' Gated DBoF used K/H = 4096/1024 (REFERENCE.md).
"""
from __future__ import annotations

import tf_keras as keras

from models import layers
from models.presets import DBoFConfig
from yt8m import features


def build_dbof(config: DBoFConfig, num_classes: int, max_frames: int,
               feature_size: int) -> keras.Model:
    """Builds the DBoF model; variants are fields of `config`."""
    inputs = layers.model_inputs(max_frames, feature_size)
    x = inputs[features.FRAMES]
    if config.input_batch_norm:
        x = keras.layers.BatchNormalization(name='input_bn')(x)
    x = keras.layers.Dense(config.cluster_size, use_bias=False,
                           name='cluster_fc')(x)
    x = keras.layers.BatchNormalization(name='cluster_bn')(x)
    if config.assignment == 'softmax':
        x = keras.layers.Softmax(axis=-1, name='soft_assignment')(x)
    else:
        x = keras.layers.ReLU(max_value=6.0, name='cluster_relu6')(x)
    pool = (keras.layers.GlobalMaxPooling1D if config.pooling == 'max'
            else keras.layers.GlobalAveragePooling1D)
    x = pool(name=f'{config.pooling}_pool')(x)
    x = keras.layers.Dense(config.hidden_size, use_bias=False,
                           name='hidden_fc')(x)
    x = keras.layers.BatchNormalization(name='hidden_bn')(x)
    x = keras.layers.ReLU(max_value=6.0, name='hidden_relu6')(x)
    if config.context_gating:
        x = layers.ContextGating(name='context_gating')(x)
    probabilities = layers.classifier_head(x, num_classes,
                                           config.num_mixtures)
    return keras.Model(inputs, layers.probabilities_output(probabilities),
                       name='dbof')
