"""Reads ExampleValidator's per-split SchemaDiff.pb and fails on any anomaly."""

from __future__ import annotations

import os
from typing import Any, Dict, List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils


class DataValidationError(RuntimeError):
    """The examples do not match the curated YouTube-8M schema."""


def describe_anomalies(anomalies_uri: str, splits: List[str]) -> List[str]:
    problems = []
    for split in splits:
        path = os.path.join(anomalies_uri, f'Split-{split}', 'SchemaDiff.pb')
        proto = anomalies_pb2.Anomalies()
        proto.ParseFromString(io_utils.read_bytes_file(path))
        for feature, info in sorted(proto.anomaly_info.items()):
            reasons = '; '.join(r.description or r.short_description for r in info.reason)
            problems.append(f'split {split}, feature {feature!r}: {reasons}')
        if proto.HasField('dataset_anomaly_info'):
            reasons = '; '.join(r.description for r in proto.dataset_anomaly_info.reason)
            problems.append(f'split {split}, dataset: {reasons}')
    return problems


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        artifact = artifact_utils.get_single_instance(input_dict['anomalies'])
        splits = artifact_utils.decode_split_names(artifact.split_names)
        problems = describe_anomalies(artifact.uri, splits)
        if problems:
            raise DataValidationError(
                'Examples failed validation against the YouTube-8M schema '
                f'({artifact.uri}):\n  ' + '\n  '.join(problems))
