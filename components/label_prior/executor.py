"""LabelPrior executor: count the training labels with Beam, export the prior model.

The counting is a Beam job (ReadFromTFRecord -> labels -> one combine), so it
runs on the pipeline's Beam runner and scales with it, like StatisticsGen.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import artifact_files
from models.prior import LabelPriorModel
from trainer import export
from yt8m import features

logger = logging.getLogger(__name__)



def label_ids(record: bytes) -> List[int]:
    """The class ids of one serialized SequenceExample; out-of-range ids fail loudly."""
    example = tf.train.SequenceExample.FromString(record)
    labels = list(example.context.feature[features.LABELS].int64_list.value)
    bad = [label for label in labels if not 0 <= label < features.NUM_CLASSES]
    if bad:
        video = example.context.feature[features.ID].bytes_list.value
        raise ValueError(f'video {video[0] if video else "?"!r}: labels {bad} outside '
                         f'[0, {features.NUM_CLASSES})')
    return labels


class CountLabels(beam.CombineFn):
    """(per-class counts, number of videos) over label lists."""

    def create_accumulator(self):
        return np.zeros(features.NUM_CLASSES, np.int64), 0

    def add_input(self, accumulator, labels):
        counts, videos = accumulator
        np.add.at(counts, np.asarray(labels, np.int64), 1)
        return counts, videos + 1

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        return (sum(counts for counts, _ in accumulators),
                sum(videos for _, videos in accumulators))

    def extract_output(self, accumulator):
        return accumulator


def frequencies_from_counts(counts: np.ndarray, videos: int) -> np.ndarray:
    if videos == 0:
        raise ValueError('the train split holds no videos: no label prior')
    return counts.astype(np.float64) / videos


class Executor(base_beam_executor.BaseBeamExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        examples = artifact_utils.get_single_instance(input_dict['examples'])
        transform_graph = artifact_utils.get_single_instance(input_dict['transform_graph'])
        model = artifact_utils.get_single_instance(output_dict['model'])
        train_split = exec_properties.get('train_split') or 'train'
        pattern = os.path.join(artifact_utils.get_split_uri([examples], train_split), '*')
        counts_path = os.path.join(model.uri, 'label_counts')
        # Output folders exist only if someone makes them: LocalDagRunner does,
        # the KFP launcher does not (on gs:// none are needed).
        tf.io.gfile.makedirs(model.uri)
        with self._make_beam_pipeline() as pipeline:
            _ = (pipeline
                 | 'Read' >> beam.io.ReadFromTFRecord(
                     pattern, compression_type=beam.io.filesystem.CompressionTypes.GZIP)
                 | 'Labels' >> beam.Map(label_ids)
                 | 'Count' >> beam.CombineGlobally(CountLabels())
                 | 'Write' >> beam.Map(_write_counts, counts_path))
        with tf.io.gfile.GFile(counts_path) as f:
            counted = json.load(f)
        counts, videos = np.asarray(counted['counts'], np.int64), counted['videos']
        frequencies = frequencies_from_counts(counts, videos)
        tf_transform_output = tft.TFTransformOutput(transform_graph.uri)
        export.export_serving_model(LabelPriorModel(frequencies),
                                    tf_transform_output.transform_features_layer(),
                                    path_utils.serving_model_dir(model.uri))
        present = np.flatnonzero(counts)
        artifact_files.write_json(model.uri, artifact_files.LABEL_PRIOR, {
            'train_videos': videos, 'classes_present': int(len(present)),
            'frequencies': {int(c): float(frequencies[c]) for c in present}})
        model.set_int_custom_property('train_videos', videos)
        model.set_int_custom_property('classes_present', int(len(present)))
        logger.info('Label prior: %d training videos, %d classes present', videos, len(present))


def _write_counts(accumulator, path: str) -> None:
    counts, videos = accumulator
    with tf.io.gfile.GFile(path, 'w') as f:
        json.dump({'counts': counts.tolist(), 'videos': int(videos)}, f)
