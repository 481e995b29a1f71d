"""Frame-level logistic regression: the baseline every family must beat.

Frame handling: order-free. It averages all `max_frames` slots, which is
right for the sampled input (every slot a real frame, as in training and
prediction of the aggregating families); `num_frames` is not read. This is
the starter code's `FrameLevelLogisticModel` without its division by the
true length, which assumed zero padding.
"""
from __future__ import annotations

import tf_keras as keras

from models import layers
from models.presets import LogisticConfig
from yt8m import features

# Weight decay of the starter code's frame-level logistic model.
_L2 = 1e-8


def build_logistic(config: LogisticConfig, num_classes: int, max_frames: int,
                   feature_size: int) -> keras.Model:
    """Mean of the frames -> sigmoid(W x + b). Parameters: F*C + C."""
    del config  # nothing to size
    inputs = layers.model_inputs(max_frames, feature_size)
    pooled = keras.layers.GlobalAveragePooling1D(name='mean_pool')(
        inputs[features.FRAMES])
    probabilities = keras.layers.Dense(
        num_classes, activation='sigmoid', name='logistic',
        kernel_initializer=layers.classifier_initializer(),
        bias_initializer=layers.prior_bias_initializer(num_classes),
        kernel_regularizer=keras.regularizers.l2(_L2))(pooled)
    return keras.Model(inputs, layers.probabilities_output(probabilities),
                       name='logistic')
