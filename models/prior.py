"""The label prior as a model: the training label frequencies for every video.

The floor every trained model must clear by a margin before it is blessed
(`components/blessing_gate`): a model that only learned how often each class
occurs scores exactly this. Wrapping it as a model with the serving contract
lets the standard Evaluator score it on the same eval split, with the same
metrics, as every candidate.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from yt8m import features


class LabelPriorModel(tf.Module):
    """`model(inputs) -> [batch, num_classes]`, every row the class frequencies."""

    def __init__(self, frequencies: np.ndarray):
        super().__init__(name='label_prior')
        frequencies = np.asarray(frequencies, np.float32)
        if frequencies.ndim != 1 or np.any(frequencies < 0) or np.any(frequencies > 1):
            raise ValueError('frequencies must be a vector of values in [0, 1]')
        self.frequencies = tf.Variable(frequencies, trainable=False, name='frequencies')

    def __call__(self, inputs: dict, training: bool = False) -> tf.Tensor:
        del training
        batch = tf.shape(inputs[features.NUM_FRAMES])[0]
        return tf.tile(self.frequencies[tf.newaxis, :], [batch, 1])
