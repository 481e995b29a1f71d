"""Export: the serving contract every model this pipeline pushes keeps.

`serving_default` takes one string tensor `examples` of serialized
SequenceExamples exactly as they sit in YouTube-8M files and returns
`probabilities` [batch, 3862] plus the top-20 `top_classes` and `top_scores`.
`transform_features` exposes the transform graph's outputs (multi-hot labels
among them) for the Quantizer's and the EnsembleBuilder's checks on select.
(TFMA reads the labels from the records themselves: components/tfma_metrics.py.)

Only what serving needs is saved: a fresh model holding the chosen weights
(raw or EMA-averaged), never the optimizer's slots.
"""

from __future__ import annotations

import tensorflow as tf

from trainer.input_pipeline import model_inputs
from yt8m import features, reader

EXAMPLES_SPEC = tf.TensorSpec([None], tf.string, name='examples')


def prediction_outputs(probabilities: tf.Tensor) -> dict:
    top = tf.math.top_k(probabilities, k=features.TOP_K)
    return {features.PROBABILITIES: probabilities,
            features.TOP_CLASSES: top.indices,
            features.TOP_SCORES: top.values}


class ServingModule(tf.Module):
    """Serialized SequenceExamples in, class probabilities out."""

    def __init__(self, model, transform_layer):
        super().__init__()
        self.model = model
        self.transform_layer = transform_layer

    @tf.function(input_signature=[EXAMPLES_SPEC])
    def transform_features(self, examples):
        return self.transform_layer(reader.parse_serialized(examples))

    @tf.function(input_signature=[EXAMPLES_SPEC])
    def serve(self, examples):
        transformed = self.transform_layer(reader.parse_serialized(examples))
        probabilities = self.model(model_inputs(transformed), training=False)
        return prediction_outputs(tf.cast(probabilities, tf.float32))


def export_serving_model(model, transform_layer, export_dir: str) -> None:
    module = ServingModule(model, transform_layer)
    tf.saved_model.save(module, export_dir, signatures={
        'serving_default': module.serve,
        'transform_features': module.transform_features,
    })
