"""Recurrent families: bidirectional layer, then a second layer (LSTM/GRU).

Frame handling: in order, with masking. Unlike the aggregating families,
an RNN must see each real frame once and in time order, so it reads the
first `num_frames` slots (the real frames; the rest is padding) under the
mask `tf.sequence_mask(num_frames, max_frames)`. Keras carries the state
unchanged through masked steps and the backward direction starts at the
last real frame, so the padding's content cannot change the output. The
mask is right-padded, which keeps Keras's cuDNN kernels usable on GPU.

Sizes of the winners (docs/TRAINING.md, runme.md `Lstmbidirect`,
`--lstm_cells=1024`): bi-LSTM 512+512, LSTM 1024, then a logistic
classifier on the final state; the GRU family is the same with GRU cells.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from models import layers
from models.presets import RNNConfig
from yt8m import features

_CELLS = {'lstm': keras.layers.LSTM, 'gru': keras.layers.GRU}


def build_rnn(cell: str, config: RNNConfig, num_classes: int,
              max_frames: int, feature_size: int) -> keras.Model:
    """Builds the 'lstm' or 'gru' family model."""
    rnn = _CELLS[cell]
    inputs = layers.model_inputs(max_frames, feature_size)
    mask = tf.sequence_mask(inputs[features.NUM_FRAMES], maxlen=max_frames)
    sequence = keras.layers.Bidirectional(
        rnn(config.bidirectional_units, return_sequences=True),
        name=f'bidirectional_{cell}')(inputs[features.FRAMES], mask=mask)
    # The final state at the last real frame. For the LSTM the winners'
    # `Lstmbidirect` classified the cell state c; the GRU has only h.
    _, *states = rnn(config.units, return_state=True, name=cell)(
        sequence, mask=mask)
    final_state = states[-1]
    probabilities = keras.layers.Dense(
        num_classes, activation='sigmoid', name='logistic',
        kernel_initializer=layers.classifier_initializer(),
        bias_initializer=layers.prior_bias_initializer(num_classes))(final_state)
    return keras.Model(inputs, layers.probabilities_output(probabilities),
                       name=cell)
