"""Members' predictions on the select split, computed once per run.

The 'fitted' weighting and the GAP-based subset choice score many weight
vectors and subsets. Running every member once over the eval records and
combining the cached probabilities in numpy keeps each score a weighted sum
instead of a pass through the models.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, List, Mapping, Sequence

import numpy as np
import tensorflow as tf

from components import io_utils
from yt8m import features, splits

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class EvalCache:
    """Multi-hot labels and each member's probabilities, row-aligned."""

    labels: np.ndarray
    predictions: Mapping[str, np.ndarray]
    # What the weight fit derives once from these predictions (member logits,
    # its GAP evaluators), shared by every subset it fits: weight_search.shared_fit.
    memo: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def of(self, names: Sequence[str]) -> List[np.ndarray]:
        return [self.predictions[name] for name in names]


def collect(loaded: Mapping[str, Any], names: Sequence[str], examples_uri: str,
            limit: int, split: str = splits.SELECT) -> EvalCache:
    """Labels come from the first member's `transform_features`: every member
    shares the serving contract, so any one decodes them the same way."""
    started = time.perf_counter()
    records = eval_records(examples_uri, limit, split)
    cache = EvalCache(labels=record_labels(loaded[names[0]], records),
                      predictions={name: member_predictions(loaded[name], records)
                                   for name in names})
    logger.info('Cached predictions of %d members on %d select videos in %.1fs',
                len(names), len(records), time.perf_counter() - started)
    return cache


def eval_records(examples_uri: str, limit: int, split: str = splits.SELECT) -> List[bytes]:
    records = io_utils.split_records(examples_uri, split, limit)
    if not records:
        raise ValueError(f'{examples_uri}: no {split} records (Split-{split}/*.gz) to fit '
                         'weights on')
    return records


def member_predictions(member, records: Sequence[bytes], batch_size: int = 64) -> np.ndarray:
    serve = member.signatures['serving_default']
    parts = [serve(examples=tf.constant(records[start:start + batch_size]))
             [features.PROBABILITIES].numpy().astype(np.float32)
             for start in range(0, len(records), batch_size)]
    return np.concatenate(parts)


def record_labels(member, records: Sequence[bytes], batch_size: int = 64) -> np.ndarray:
    transform = member.signatures['transform_features']
    parts = [transform(examples=tf.constant(records[start:start + batch_size]))
             [features.LABELS_MULTI_HOT].numpy()
             for start in range(0, len(records), batch_size)]
    return np.concatenate(parts)
