"""TFMA metrics for YouTube-8M: exact GAP@20, Hit@1 and PERR.

Each metric is a `tfma.metrics.Metric` whose computation is a Beam CombineFn,
referenced from the EvalConfig as `MetricConfig(class_name=..., module=
'components.tfma_metrics')`. The module is part of the installed package, so the
Evaluator imports it the same way locally and in the Kubeflow image.

The numbers come from `yt8m.eval_util`, the project's one definition of the
metrics; the combiners only carry bounded numpy state between workers.
"""

from __future__ import annotations

from typing import Dict, Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from yt8m import eval_util, features

GAP_NAME = 'gap_at_20'
HIT_AT_ONE_NAME = 'hit_at_1'
PERR_NAME = 'perr'


def multi_hot(label, num_classes: int) -> np.ndarray:
    """[1, num_classes] float32 from a video's class ids (none: all zero) or its multi-hot row."""
    label = np.zeros([0]) if label is None else np.asarray(label).ravel()
    if label.size == num_classes and label.dtype.kind == 'f':
        return label.astype(np.float32).reshape(1, -1)
    row = np.zeros([1, num_classes], np.float32)
    row[0, label.astype(np.int64)] = 1.0
    return row


class _VideoMetricCombiner(beam.CombineFn):
    """Feeds (labels, predictions) rows of every video into an accumulator."""

    def __init__(self, key: metric_types.MetricKey, eval_config):
        self._key = key
        self._eval_config = eval_config

    def _rows(self, element):
        """(multi-hot labels [1, classes], predictions [1, classes]) of each video.

        The label is the raw `labels` feature, the video's class ids (the
        EvalConfig's `label_key`): read from the record, so the Evaluator
        runs no transform graph for it. A multi-hot label passes as it is.
        """
        for label, prediction, _ in metric_util.to_label_prediction_example_weight(
                element, eval_config=self._eval_config,
                model_name=self._key.model_name, output_name=self._key.output_name,
                flatten=False, squeeze=False, allow_none=True):
            prediction = np.asarray(prediction, np.float32).reshape(1, -1)
            yield multi_hot(label, prediction.shape[1]), prediction


class _GapCombiner(_VideoMetricCombiner):

    def __init__(self, key, eval_config, top_k: int):
        super().__init__(key, eval_config)
        self._top_k = top_k

    def create_accumulator(self):
        return eval_util.GapAccumulator(self._top_k)

    def add_input(self, accumulator, element):
        for labels, predictions in self._rows(element):
            accumulator.add(predictions, labels)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable):
        accumulators = iter(accumulators)
        result = next(accumulators)
        for other in accumulators:
            result.merge(other)
        result.compact()
        return result

    def extract_output(self, accumulator) -> Dict[metric_types.MetricKey, float]:
        return {self._key: accumulator.result()}


class _MeanOverVideosCombiner(_VideoMetricCombiner):
    """Mean of a per-video score; state is (sum, count)."""

    def __init__(self, key, eval_config, per_video_fn, skip_unlabelled: bool):
        super().__init__(key, eval_config)
        self._per_video_fn = per_video_fn
        self._skip_unlabelled = skip_unlabelled

    def create_accumulator(self):
        return [0.0, 0]

    def add_input(self, accumulator, element):
        for labels, predictions in self._rows(element):
            if self._skip_unlabelled and labels.sum() == 0:
                continue
            accumulator[0] += self._per_video_fn(predictions, labels)
            accumulator[1] += 1
        return accumulator

    def merge_accumulators(self, accumulators):
        total, count = 0.0, 0
        for part_total, part_count in accumulators:
            total, count = total + part_total, count + part_count
        return [total, count]

    def extract_output(self, accumulator):
        total, count = accumulator
        return {self._key: total / count if count else float('nan')}


def _computations(make_combiner):
    def computations(name: str, eval_config=None, model_names=None, output_names=None,
                     example_weighted: bool = False, **kwargs) -> metric_types.MetricComputations:
        result = []
        for model_name in model_names or ['']:
            for output_name in output_names or ['']:
                key = metric_types.MetricKey(name=name, model_name=model_name,
                                             output_name=output_name,
                                             example_weighted=example_weighted)
                result.append(metric_types.MetricComputation(
                    keys=[key], preprocessors=None,
                    combiner=make_combiner(key, eval_config, **kwargs)))
        return result
    return computations


class GlobalAveragePrecision(metric_types.Metric):
    """GAP@k (k=20), exact: every video's top-k pairs are pooled and ranked."""

    def __init__(self, name: str = GAP_NAME, top_k: int = features.TOP_K):
        super().__init__(_computations(
            lambda key, eval_config, top_k: _GapCombiner(key, eval_config, top_k)),
            name=name, top_k=top_k)


class HitAtOne(metric_types.Metric):
    """Fraction of videos whose top class is a true label."""

    def __init__(self, name: str = HIT_AT_ONE_NAME):
        super().__init__(_computations(lambda key, eval_config: _MeanOverVideosCombiner(
            key, eval_config, eval_util.hit_at_one, skip_unlabelled=False)), name=name)


class PrecisionAtEqualRecallRate(metric_types.Metric):
    """PERR, averaged over videos that have labels."""

    def __init__(self, name: str = PERR_NAME):
        super().__init__(_computations(lambda key, eval_config: _MeanOverVideosCombiner(
            key, eval_config, eval_util.precision_at_equal_recall_rate,
            skip_unlabelled=True)), name=name)


def candidate_metrics(evaluation_uri: str) -> Dict[str, float]:
    """Overall-slice metrics of the candidate model from an Evaluator's output folder."""
    import tensorflow_model_analysis as tfma
    result = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for entry in slice_metrics.metric_keys_and_values:
            if entry.key.model_name in ('', 'candidate') and not entry.key.is_diff:
                if entry.value.HasField('double_value'):
                    result[entry.key.name] = entry.value.double_value.value
    return result


for _metric in (GlobalAveragePrecision, HitAtOne, PrecisionAtEqualRecallRate):
    metric_types.register_metric(_metric)
