"""Deep Bag of Frames (starter code `DbofModel`; gated and soft variants).

Frame handling: order-free. With `sample_frames=S` (the seed's
`iterations`, 40 in its training command) the per-frame FC reads S frames
only: S real frames drawn at random with replacement in training, S evenly
spaced frames at prediction (`layers.FrameSampler`), so training and serving
are ~300/S times cheaper and the served model stays a function of its input.
With `sample_frames=0` it reads all `max_frames` slots (every slot a real
frame). Pooling needs no mask either way.

frame -> [BN] -> FC to K (no bias) -> BN -> relu6 (or softmax: soft DBoF)
      -> max/avg pool over frames -> FC to H -> BN -> relu6
      -> [context gating: gated DBoF] -> MoE.
The winners' Gated DBoF used K/H = 4096/1024 (docs/TRAINING.md).
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
    if config.sample_frames:
        x = layers.FrameSampler(config.sample_frames, name='frame_sampler')(
            x, inputs[features.NUM_FRAMES])
    if config.input_batch_norm:
        x = layers.batch_norm('input_bn')(x)
    x = keras.layers.Dense(config.cluster_size, use_bias=False,
                           name='cluster_fc')(x)
    x = layers.batch_norm('cluster_bn')(x)
    if config.assignment == 'softmax':
        x = keras.layers.Softmax(axis=-1, name='soft_assignment')(x)
    else:
        x = keras.layers.ReLU(max_value=6.0, name='cluster_relu6')(x)
    pool = (keras.layers.GlobalMaxPooling1D if config.pooling == 'max'
            else keras.layers.GlobalAveragePooling1D)
    x = pool(name=f'{config.pooling}_pool')(x)
    x = keras.layers.Dense(config.hidden_size, use_bias=False,
                           name='hidden_fc')(x)
    x = layers.batch_norm('hidden_bn')(x)
    x = keras.layers.ReLU(max_value=6.0, name='hidden_relu6')(x)
    if config.context_gating:
        x = layers.ContextGating(name='context_gating')(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name='dropout')(x)
    probabilities = layers.classifier_head(x, num_classes,
                                           config.num_mixtures)
    return keras.Model(inputs, layers.probabilities_output(probabilities),
                       name='dbof')
