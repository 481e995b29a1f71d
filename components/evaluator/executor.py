"""TFX's Evaluator executor, minus the second pass over the test split on a first run.

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
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import tensorflow as tf
from tfx import types
from tfx.components.evaluator import executor as tfx_executor
from tfx.types import standard_component_specs
from tfx.utils import path_utils

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


class Executor(tfx_executor.Executor):

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
        super().Do(input_dict, output_dict, exec_properties)
