"""tf.data input pipeline: raw records -> transform graph -> frame sampling.

Transform runs with `materialize=False` (materialized float frames are ~4x
the raw records), so the trainer reads the raw SequenceExamples through TFXIO
and applies the transform graph itself, then the training-time frame
sampling (see `trainer/sampling.py`).
"""

from __future__ import annotations

from typing import List, Optional

import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from trainer import sampling
from yt8m import features


def model_inputs(transformed: dict) -> dict:
    return {features.FRAMES: transformed[features.FRAMES],
            features.NUM_FRAMES: transformed[features.NUM_FRAMES]}


def raw_dataset(file_pattern: List[str], data_accessor,
                tf_transform_output: tft.TFTransformOutput, batch_size: int,
                shuffle: bool, seed: int = 0, shuffle_buffer: int = 1024,
                num_epochs: Optional[int] = None) -> tf.data.Dataset:
    """Batches of raw (untransformed) features through TFXIO (None: repeats forever)."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size, shuffle=shuffle, shuffle_seed=seed,
            shuffle_buffer_size=shuffle_buffer, num_epochs=num_epochs),
        schema=tf_transform_output.raw_metadata.schema)


def make_dataset(file_pattern: List[str], data_accessor, tf_transform_output: tft.TFTransformOutput,
                 batch_size: int, training: bool, seed: int = 0,
                 shuffle_buffer: int = 1024, resample: bool = True) -> tf.data.Dataset:
    """Batches of ({frames, num_frames}, labels_multi_hot).

    Training: shuffled, frames resampled (unless `resample=False`: the model
    samples its own frames), repeats forever. Eval: one pass, in order.
    """
    dataset = raw_dataset(file_pattern, data_accessor, tf_transform_output, batch_size,
                          shuffle=training, seed=seed, shuffle_buffer=shuffle_buffer,
                          num_epochs=None if training else 1)
    transform_layer = tf_transform_output.transform_features_layer()

    def to_model_inputs(raw):
        transformed = transform_layer(raw)
        inputs = model_inputs(transformed)
        if training and resample:
            inputs[features.FRAMES] = sampling.sample_with_replacement(
                inputs[features.FRAMES], inputs[features.NUM_FRAMES])
        return inputs, transformed[features.LABELS_MULTI_HOT]

    dataset = dataset.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)
    # Several workers (MultiWorkerMirroredStrategy) split the batches, not the
    # files: ExampleGen writes as few as one file per split, and FILE sharding
    # fails with fewer files than workers.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.with_options(options)
