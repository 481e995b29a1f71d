"""BlessingGate executor: TFMA's verdict AND a margin over the label prior."""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import tensorflow as tf
from tfx import types
from tfx.components.evaluator import constants
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.tfma_metrics import GAP_NAME, candidate_metrics

logger = logging.getLogger(__name__)

# ModelBlessing properties the Evaluator sets and downstream tools read.
_COPIED_PROPERTIES = ('current_model', 'baseline_model')


def decide(tfma_blessed: bool, gap: float, prior_gap: float, min_gain: float) -> tuple:
    """(blessed, reason). The prior rule: gap >= prior_gap + min_gain."""
    if gap < prior_gap + min_gain:
        return False, (f'GAP@20 {gap:.4f} does not beat the label prior\'s {prior_gap:.4f} '
                       f'by the required {min_gain:.4f}')
    if not tfma_blessed:
        return False, 'the Evaluator did not bless it (GAP floor or regression vs the last push)'
    return True, f'GAP@20 {gap:.4f} >= label prior {prior_gap:.4f} + {min_gain:.4f}'


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        evaluation = artifact_utils.get_single_instance(input_dict['evaluation'])
        tfma_blessing = artifact_utils.get_single_instance(input_dict['tfma_blessing'])
        prior_evaluation = artifact_utils.get_single_instance(input_dict['prior_evaluation'])
        blessing = artifact_utils.get_single_instance(output_dict['blessing'])
        min_gain = float(exec_properties['min_gain_over_prior'])

        gap = candidate_metrics(evaluation.uri).get(GAP_NAME)
        prior_gap = candidate_metrics(prior_evaluation.uri).get(GAP_NAME)
        if gap is None or prior_gap is None:
            raise ValueError(f'no {GAP_NAME} in {evaluation.uri} or {prior_evaluation.uri}')
        tfma_blessed = bool(tfma_blessing.get_int_custom_property(
            constants.ARTIFACT_PROPERTY_BLESSED_KEY))
        blessed, reason = decide(tfma_blessed, gap, prior_gap, min_gain)

        tf.io.gfile.makedirs(blessing.uri)
        name = constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME
        with tf.io.gfile.GFile(os.path.join(blessing.uri, name), 'w') as f:
            f.write(reason + '\n')
        blessing.set_int_custom_property(
            constants.ARTIFACT_PROPERTY_BLESSED_KEY,
            constants.BLESSED_VALUE if blessed else constants.NOT_BLESSED_VALUE)
        for key in _COPIED_PROPERTIES:
            for suffix in ('_uri', '_id'):
                prop = f'{key}{suffix}'
                if prop in tfma_blessing.mlmd_artifact.custom_properties:
                    value = tfma_blessing.mlmd_artifact.custom_properties[prop]
                    if value.HasField('string_value'):
                        blessing.set_string_custom_property(prop, value.string_value)
                    elif value.HasField('int_value'):
                        blessing.set_int_custom_property(prop, value.int_value)
        blessing.set_float_custom_property('gap_at_20', gap)
        blessing.set_float_custom_property('prior_gap_at_20', prior_gap)
        blessing.set_float_custom_property('min_gain_over_prior', min_gain)
        blessing.set_string_custom_property('reason', reason)
        logger.info('%s: %s', 'BLESSED' if blessed else 'NOT BLESSED', reason)
