"""Copies the newest pushed version (or, on a first run, the candidate) as a Model."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import io_utils

logger = logging.getLogger(__name__)

SOURCE_PROPERTY = 'baseline_source'


def latest_pushed_version(serving_model_dir: str) -> Optional[str]:
    """Newest `<serving_model_dir>/<integer version>/` holding a SavedModel."""
    if not tf.io.gfile.isdir(serving_model_dir):
        return None
    versions = []
    for name in tf.io.gfile.listdir(serving_model_dir):
        name = name.rstrip('/')
        path = os.path.join(serving_model_dir, name)
        if name.isdigit() and tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')):
            versions.append((int(name), path))
    return max(versions)[1] if versions else None


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        candidate = artifact_utils.get_single_instance(input_dict['candidate_model'])
        baseline = artifact_utils.get_single_instance(output_dict['baseline_model'])
        source = latest_pushed_version(exec_properties['serving_model_dir'])
        if source is None:
            source = path_utils.serving_model_path(candidate.uri)
            logger.info('No pushed model yet; the candidate is its own baseline')
        logger.info('Baseline model: %s', source)
        io_utils.copy_tree(source, path_utils.serving_model_dir(baseline.uri))
        baseline.set_string_custom_property(SOURCE_PROPERTY, source)
