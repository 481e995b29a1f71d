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
from tf_keras.src.saving.legacy.saved_model import utils as keras_saved_model_utils

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
    """Saves `ServingModule(model, transform_layer)` with its two signatures.

    Without Keras' layer traces: by default tf_keras traces every layer's
    call functions into the SavedModel for `keras.models.load_model`, which
    nothing here uses (the serving signatures are traced from `serve`, and
    the Quantizer and warm starts read the weights by object path). Skipping
    them took an export of DBoF small from 2.3 to 0.8 s and NetVLAD small
    from 3.5 to 1.1 s, serving the same probabilities (benchmarks/
    bench_export.py, results/export.json); a Trainer exports three models
    (the main one and two teacher fold copies).
    """
    module = ServingModule(model, transform_layer)
    with keras_saved_model_utils.keras_option_scope(save_traces=False,
                                                    in_tf_saved_model_scope=False):
        tf.saved_model.save(module, export_dir, signatures={
            'serving_default': module.serve,
            'transform_features': module.transform_features,
        })
