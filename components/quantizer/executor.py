"""Quantizer executor: a Model artifact in, a weight-quantized Model artifact out.

The Keras model is rebuilt from its family/preset (from the ModelRun's
`training_summary.json`, or the `family`/`preset` exec properties) and its
weights are read from the source SavedModel's variables by object path
(`model/...`), so no restored-object quirks matter. The source SavedModel's
own `transform_features` function (and its transform layer, if tracked) is
carried over, so the serving input contract is unchanged.

Writes `<quantized_model>/Format-Serving` and
`<quantized_model>/quantization_report.json`, and quantizes the model's
out-of-fold teacher copies (`Folds/`, yt8m/folds.py) alike.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, List, Optional

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import artifact_files, io_utils
from components.ensemble.eval_cache import member_predictions
from components.quantizer import quantize
from models import optim, registry
from yt8m import eval_util, folds, reader, splits

logger = logging.getLogger(__name__)



def _summary(model_run: Optional[types.Artifact]) -> dict:
    if model_run is None:
        return {}
    return artifact_files.read_json(model_run.uri, artifact_files.TRAINING_SUMMARY) or {}


def rebuild_model(source_dir: str, family: str, preset: str):
    """A float32 Keras model of family/preset holding the SavedModel's weights."""
    optim.configure_precision(False)
    optim.skip_autograph_for_tf_keras()   # tracing tf_keras unconverted: seconds, not minutes
    model = registry.build_model(family, preset)
    status = tf.train.Checkpoint(model=model).read(
        os.path.join(source_dir, 'variables', 'variables'))
    status.assert_existing_objects_matched().expect_partial()
    return model


def eval_records(examples: Optional[types.Artifact], limit: int,
                 split: str = splits.SELECT) -> List[bytes]:
    """Up to `limit` serialized records of the Examples artifact's select split."""
    if examples is None:
        return []
    return io_utils.split_records(examples.uri, split, limit)


def compare_predictions(source_dir: str, quantized_dir: str, records: List[bytes]) -> dict:
    """Float vs quantized predictions (and GAP@20 when labels parse) on `records`."""
    source = tf.saved_model.load(source_dir)
    target = tf.saved_model.load(quantized_dir)
    before = member_predictions(source, records)
    after = member_predictions(target, records)
    result = {'num_examples': len(records),
              'max_abs_prediction_diff': float(np.max(np.abs(before - after))),
              'top1_agreement': float(np.mean(before.argmax(1) == after.argmax(1)))}
    try:
        # The records' class ids: a third pass through the transform graph
        # (every frame dequantized again) only to read them cost ~2 s a check.
        labels = reader.parse_labels_multi_hot(tf.constant(records)).numpy()
        result['gap_before'] = eval_util.gap_at_k(before, labels)
        result['gap_after'] = eval_util.gap_at_k(after, labels)
    except (KeyError, ValueError) as error:   # no labels in these records
        logger.warning('GAP not computed: %s', error)
    return result


def quantize_saved_model(source_dir: str, export_dir: str, family: str, preset: str,
                         mode: str = 'uniform',
                         min_elements: int = quantize.DEFAULT_MIN_ELEMENTS) -> dict:
    """Writes the quantized SavedModel; returns the report (without eval numbers)."""
    model = rebuild_model(source_dir, family, preset)
    loaded = tf.saved_model.load(source_dir)
    module = quantize.QuantizedServingModule(
        model, loaded.transform_features,
        source_transform_layer=getattr(loaded, 'transform_layer', None),
        mode=mode, min_elements=min_elements)
    quantize.save(module, export_dir)
    variables = [dataclasses.asdict(r) for r in module.reports]
    quantized = [r for r in module.reports if r.quantized]
    before = sum(r.bytes_before for r in module.reports)
    after = sum(r.bytes_after for r in module.reports)
    saved_before = io_utils.tree_bytes(source_dir)
    saved_after = io_utils.tree_bytes(export_dir)
    return {
        'family': family, 'preset': preset, 'mode': mode, 'min_elements': min_elements,
        'num_variables': len(module.reports), 'num_quantized': len(quantized),
        'variable_bytes_before': before, 'variable_bytes_after': after,
        'variable_size_ratio': after / before if before else 1.0,
        'saved_model_bytes_before': saved_before, 'saved_model_bytes_after': saved_after,
        'saved_model_size_ratio': saved_after / saved_before if saved_before else 1.0,
        'max_abs_weight_error': max((r.max_abs_error for r in quantized), default=0.0),
        'variables': variables,
    }


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict['model'])
        model_run = (input_dict.get('model_run') or [None])[0]
        examples = (input_dict.get('examples') or [None])[0]
        output = artifact_utils.get_single_instance(output_dict['quantized_model'])

        summary = _summary(model_run)
        family = exec_properties.get('family') or summary.get('family')
        preset = exec_properties.get('preset') or summary.get('preset')
        if not family or not preset:
            raise ValueError('family/preset unknown: pass model_run (training_summary.json) '
                             'or the family and preset exec properties')
        mode = exec_properties.get('quantization') or 'uniform'
        min_elements = int(exec_properties.get('min_elements') or quantize.DEFAULT_MIN_ELEMENTS)
        eval_limit = exec_properties.get('max_eval_examples')
        eval_limit = 1000 if eval_limit is None else int(eval_limit)

        source_dir = path_utils.serving_model_path(model.uri)
        export_dir = path_utils.serving_model_dir(output.uri)
        logger.info('Quantizing %s/%s (%s, >= %d elements): %s -> %s', family, preset, mode,
                    min_elements, source_dir, export_dir)
        report = quantize_saved_model(source_dir, export_dir, family, preset, mode, min_elements)
        selection_split = exec_properties.get('selection_split') or splits.SELECT
        records = eval_records(examples, eval_limit, selection_split)
        if records:
            # Keyed 'select' whatever the split's name, so readers find the check.
            report[splits.SELECT] = dict(
                compare_predictions(source_dir, export_dir, records), split=selection_split)
        # The teacher's out-of-fold copies (yt8m/folds.py), quantized alike.
        fold_dirs = folds.fold_model_dirs(model.uri) or []
        for fold, fold_dir in enumerate(fold_dirs):
            quantize_saved_model(fold_dir, folds.fold_model_dir(output.uri, fold, len(fold_dirs)),
                                 family, preset, mode, min_elements)
        report['teacher_folds'] = len(fold_dirs)
        artifact_files.write_json(output.uri, artifact_files.QUANTIZATION_REPORT, report)
        output.set_string_custom_property('quantization_mode', mode)
        output.set_float_custom_property('saved_model_size_ratio',
                                         report['saved_model_size_ratio'])
        logger.info('Quantized %d of %d variables; SavedModel %d -> %d bytes',
                    report['num_quantized'], report['num_variables'],
                    report['saved_model_bytes_before'], report['saved_model_bytes_after'])
