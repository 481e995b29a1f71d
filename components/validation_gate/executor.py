"""Reads ExampleValidator's per-split SchemaDiff.pb and fails on any anomaly.

TFDV names features by path (`##SEQUENCE##.rgb`) and says what is wrong in
schema terms. The error here says it in the data's terms (a frame feature
list, a context feature) and, when the Examples are given, names up to three
videos of the split that show the problem, so a user can find the records.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from yt8m import integrity

SEQUENCE_PREFIX = '##SEQUENCE##.'
MAX_EXAMPLE_IDS = 3
MAX_SCANNED = 100_000
# Anomaly types about a feature being absent from too many records.
_ABSENCE = {anomalies_pb2.AnomalyInfo.FEATURE_TYPE_LOW_FRACTION_PRESENT,
            anomalies_pb2.AnomalyInfo.FEATURE_TYPE_LOW_NUMBER_PRESENT}


class DataValidationError(RuntimeError):
    """The examples do not match the curated YouTube-8M schema."""


def plain_feature_name(path: str) -> str:
    if path.startswith(SEQUENCE_PREFIX):
        return f'frame feature list {path[len(SEQUENCE_PREFIX):]!r}'
    return f'context feature {path!r}'


def _has_feature(example: tf.train.SequenceExample, path: str) -> bool:
    if path.startswith(SEQUENCE_PREFIX):
        name = path[len(SEQUENCE_PREFIX):]
        lists = example.feature_lists.feature_list
        return name in lists and len(lists[name].feature) > 0
    feature = example.context.feature.get(path)
    if feature is None:
        return False
    kind = feature.WhichOneof('kind')
    return kind is not None and len(getattr(feature, kind).value) > 0


def example_video_ids(split_uri: str, path: str, absent: bool) -> List[str]:
    """Up to MAX_EXAMPLE_IDS videos of the split that lack (or hold) the feature."""
    files = sorted(tf.io.gfile.glob(os.path.join(split_uri, '*')))
    found = []
    dataset = tf.data.TFRecordDataset(files, compression_type='GZIP').take(MAX_SCANNED)
    for record in dataset:
        example = tf.train.SequenceExample.FromString(record.numpy())
        if _has_feature(example, path) != absent:
            found.append(integrity.video_id_of(example) or '(no id)')
            if len(found) == MAX_EXAMPLE_IDS:
                break
    return found


def describe_anomalies(anomalies_uri: str, splits: List[str],
                       examples: Optional[types.Artifact] = None) -> List[str]:
    problems = []
    for split in splits:
        path = os.path.join(anomalies_uri, f'Split-{split}', 'SchemaDiff.pb')
        proto = anomalies_pb2.Anomalies()
        proto.ParseFromString(io_utils.read_bytes_file(path))
        for feature, info in sorted(proto.anomaly_info.items()):
            reasons = '; '.join(r.description or r.short_description for r in info.reason)
            line = f'split {split}, {plain_feature_name(feature)} ({feature!r}): {reasons}'
            if examples is not None:
                absent = any(r.type in _ABSENCE for r in info.reason)
                ids = example_video_ids(artifact_utils.get_split_uri([examples], split),
                                        feature, absent)
                if ids:
                    line += f'; for example video ids {ids}'
            problems.append(line)
        if proto.HasField('dataset_anomaly_info'):
            reasons = '; '.join(r.description for r in proto.dataset_anomaly_info.reason)
            problems.append(f'split {split}, dataset: {reasons}')
    return problems


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        artifact = artifact_utils.get_single_instance(input_dict['anomalies'])
        examples = (input_dict.get('examples') or [None])[0]
        splits = artifact_utils.decode_split_names(artifact.split_names)
        problems = describe_anomalies(artifact.uri, splits, examples)
        if problems:
            raise DataValidationError(
                'Examples failed validation against the YouTube-8M schema '
                f'({artifact.uri}):\n  ' + '\n  '.join(problems))
