"""TFX's Evaluator executor, with two cuts to its work: no second pass over
the test split on a first run, and no decoding of the frames.

On a first run nothing is pushed yet, so the BaselineLookup hands the
candidate itself over as its baseline (the spec's `baseline_model` must
hold an artifact on every backend). TFMA would then run the same model twice
over the test split, doubling the Evaluator's inference, to find a change of
exactly zero. When the baseline's SavedModel is byte for byte the
candidate's, this executor leaves the baseline out and runs TFX's own
executor, which then applies TFX's rubber stamp (change thresholds are
skipped when there is no baseline; the value thresholds, the GAP floor,
still decide). Any other baseline, a model pushed before, is evaluated as
TFX does.

It also hands TFMA a schema of the context features only (`id`, `labels`).
Every model takes the serialized records and parses its own frames; TFMA's
decoded features serve only the labels. With the full schema TFMA decoded
the frame lists too and, for each video, split the schema's ragged tensors
one eager TensorFlow op at a time; without them the labels come as numpy
rows. The temporary schema lives in the execution's temp folder (TFX's
launchers set one on every backend); the input artifact is left alone. In
the default run the seven Evaluators took 103 s and then 84 s
(`component_seconds` in benchmarks/results/default_run_at_ec649d6.json and
default_run_at_ec0729a.json).

TFMA calls the serving signatures by keyword through the model
`keyword_call.py` gives it (the component names that module), not
positionally, which made TensorFlow print every batch of records into a
discarded error message.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import tensorflow as tf
from tfx import types
from tfx.components.evaluator import executor as tfx_executor
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import io_utils, path_utils

logger = logging.getLogger(__name__)

def same_saved_model(first: str, second: str) -> bool:
    """Whether two SavedModel folders hold the same files with the same bytes."""
    def files(root):
        return sorted(os.path.relpath(os.path.join(folder, name), root)
                      for folder, _, names in tf.io.gfile.walk(root) for name in names)
    if not (tf.io.gfile.isdir(first) and tf.io.gfile.isdir(second)):
        return False
    listed = files(first)
    return listed == files(second) and all(
        _read(os.path.join(first, f)) == _read(os.path.join(second, f)) for f in listed)


def _read(path: str) -> bytes:
    """A file's bytes, on any filesystem TensorFlow reads (local, gs://, s3://)."""
    with tf.io.gfile.GFile(path, 'rb') as f:
        return f.read()


def context_features_only(schema: schema_pb2.Schema) -> schema_pb2.Schema:
    """The schema less its feature lists (STRUCT features) and tensor representations.

    What is left TFXIO decodes as plain numpy columns: the labels the metrics
    read and the id. The raw records still reach the models whole.
    """
    pruned = schema_pb2.Schema()
    pruned.CopyFrom(schema)
    kept = [f for f in schema.feature if f.type != schema_pb2.STRUCT]
    del pruned.feature[:]
    pruned.feature.extend(kept)
    pruned.ClearField('tensor_representation_group')
    return pruned


class Executor(tfx_executor.Executor):

    def _labels_schema(self, schemas: List[types.Artifact]) -> List[types.Artifact]:
        """A Schema artifact, in this execution's temp folder, with the context features only."""
        schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
            artifact_utils.get_single_uri(schemas)))
        folder = os.path.join(self._get_tmp_dir(), 'labels_schema')
        io_utils.write_pbtxt_file(os.path.join(folder, 'schema.pbtxt'),
                                  context_features_only(schema))
        pruned = standard_artifacts.Schema()
        pruned.uri = folder
        return [pruned]

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        baseline = input_dict.get(standard_component_specs.BASELINE_MODEL_KEY) or []
        model = input_dict.get(standard_component_specs.MODEL_KEY) or []
        if len(baseline) == 1 and len(model) == 1 and same_saved_model(
                path_utils.serving_model_path(baseline[0].uri),
                path_utils.serving_model_path(model[0].uri)):
            logger.info('The baseline is the candidate itself (nothing pushed yet): '
                        'evaluating the candidate once, change thresholds skipped')
            input_dict = {key: value for key, value in input_dict.items()
                          if key != standard_component_specs.BASELINE_MODEL_KEY}
        if input_dict.get(standard_component_specs.SCHEMA_KEY):
            input_dict = {**input_dict, standard_component_specs.SCHEMA_KEY:
                          self._labels_schema(input_dict[standard_component_specs.SCHEMA_KEY])}
        super().Do(input_dict, output_dict, exec_properties)
