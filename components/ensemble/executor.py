"""Builds one size-checked SavedModel from several member SavedModels.

Every member keeps the serving contract (`serving_default`: `examples` ->
`probabilities`, ...); it is loaded with `tf.saved_model.load` and attached to
one `tf.Module`, so all members' variables and graphs are saved in the one
output SavedModel. All members read the same `examples` tensor; the output
`probabilities` is their weighted average (weights >= 0, summing to 1), plus
the top-20 `top_classes` / `top_scores`. `transform_features` is the first
member's (TFMA reads labels from it).

Weights: 'equal', 'given' (JSON list, normalised to sum 1) or 'fitted':
coordinate search over the simplex (moves of weight mass between two members,
step sizes shrinking) on cached member predictions of the eval split,
maximising GAP@20; it starts from equal weights and only accepts strict
improvements, so the fitted GAP is never below the equal-weight GAP on the
fitting data.

Size: the output SavedModel's bytes on disk must stay under
`size_budget_bytes` (the 2018 challenge's 1 GB). Members' sizes are checked
before building (their sum estimates the ensemble) and the written SavedModel
is measured again. Over budget: a ValueError naming every member's size, the
total and the budget; with `choose_subset`, the best subset that fits is
built instead (best eval GAP if `examples` are given, else smallest members
first, i.e. the most members). The SavedModel is written to a staging folder
and moved to `Format-Serving` only after it passed the check, so a failed run
leaves no valid-looking model behind.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import io_utils
from trainer.export import EXAMPLES_SPEC, prediction_outputs
from yt8m import eval_util, features

logger = logging.getLogger(__name__)

MAX_MEMBERS = 8
MODEL_KEY_PREFIX = 'model_'
EXAMPLES_KEY = 'examples'
OUTPUT_KEY = 'model'
REPORT_FILE = 'ensemble_report.json'
DEFAULT_BUDGET = 1_000_000_000
WEIGHTINGS = ('equal', 'given', 'fitted')
STAGING_DIR = '.staging-ensemble'
FIT_STEPS = (0.5, 0.25, 0.1, 0.05, 0.02)
MAX_BUILD_ATTEMPTS = 3


def model_key(slot: int) -> str:
    return f'{MODEL_KEY_PREFIX}{slot}'


class EnsembleModule(tf.Module):
    """Members' SavedModels behind one input; weighted average of probabilities."""

    def __init__(self, members: Sequence[Any], weights: Sequence[float]):
        super().__init__()
        if len(members) != len(weights) or not members:
            raise ValueError('need one weight per member and at least one member')
        self.members = list(members)
        self.weights = [float(w) for w in weights]

    @tf.function(input_signature=[EXAMPLES_SPEC])
    def serve(self, examples):
        # Members run one after another (control dependencies), not side by
        # side: each quantized member materialises its dequantized float32
        # weights while it runs (1.3 GB for a seed NetVLAD). For six seed
        # members at batch 32 on 2 cores this peaked at 6.0-7.0 GB against
        # 7.4-8.3 GB side by side, at the same speed within noise (4.1-4.8
        # against 4.1-4.2 videos/s; benchmarks/bench_final_artifact.py).
        total, previous = None, []
        for weight, member in zip(self.weights, self.members):
            with tf.control_dependencies(previous):
                probabilities = tf.cast(member.signatures['serving_default'](
                    examples=examples)[features.PROBABILITIES], tf.float32)
            previous = [probabilities]
            term = weight * probabilities
            total = term if total is None else total + term
        return prediction_outputs(total)

    @tf.function(input_signature=[EXAMPLES_SPEC])
    def transform_features(self, examples):
        return self.members[0].signatures['transform_features'](examples=examples)


def save_ensemble(members: Sequence[Any], weights: Sequence[float], export_dir: str) -> None:
    module = EnsembleModule(members, weights)
    tf.saved_model.save(module, export_dir, signatures={
        'serving_default': module.serve,
        'transform_features': module.transform_features,
    })


# ---------------------------------------------------------------- weights

def normalise(weights: Sequence[float]) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f'weights must be finite and >= 0, got {weights.tolist()}')
    if weights.sum() <= 0:
        raise ValueError(f'weights must not all be 0, got {weights.tolist()}')
    return weights / weights.sum()


def combine(predictions: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    total = np.zeros_like(predictions[0], dtype=np.float32)
    for weight, member in zip(weights, predictions):
        total += np.float32(weight) * member
    return total


def fit_weights(predictions: Sequence[np.ndarray], labels: np.ndarray,
                steps: Sequence[float] = FIT_STEPS, max_rounds: int = 20
                ) -> Tuple[np.ndarray, float, float]:
    """Coordinate search on the simplex maximising GAP@20.

    Returns (weights, fitted GAP, equal-weight GAP). A move transfers
    `min(step, w_j)` of weight from member j to member i; it is accepted only
    if GAP strictly improves, so the result is never worse than equal weights.
    """
    count = len(predictions)
    weights = np.full(count, 1.0 / count)
    equal_gap = best_gap = eval_util.gap_at_k(combine(predictions, weights), labels)
    if count == 1:
        return weights, best_gap, equal_gap
    for step in steps:
        for _ in range(max_rounds):
            improved = False
            for i, j in itertools.permutations(range(count), 2):
                amount = min(step, weights[j])
                if amount <= 0:
                    continue
                candidate = weights.copy()
                candidate[i] += amount
                candidate[j] -= amount
                gap = eval_util.gap_at_k(combine(predictions, candidate), labels)
                if gap > best_gap + 1e-12:
                    weights, best_gap, improved = candidate, gap, True
            if not improved:
                break
    weights = np.clip(weights, 0.0, None)
    return weights / weights.sum(), best_gap, equal_gap


# ---------------------------------------------------------------- eval data

def eval_records(examples_uri: str, limit: int) -> List[bytes]:
    records = io_utils.split_records(examples_uri, 'eval', limit)
    if not records:
        raise ValueError(f'{examples_uri}: no eval records (Split-eval/*.gz) to fit weights on')
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


# ---------------------------------------------------------------- size

def size_table(names: Sequence[str], sizes: Dict[str, int]) -> str:
    return ', '.join(f'{name}={sizes[name]:,} B' for name in names)


def over_budget_message(names: Sequence[str], sizes: Dict[str, int], total: int,
                        budget: int, what: str = 'estimated from members') -> str:
    return (f'Ensemble over the size budget: {total:,} bytes ({what}) > budget '
            f'{budget:,} bytes. Members: {size_table(names, sizes)}. '
            f'Drop members, quantize them, or set choose_subset=True.')


def fitting_subsets(names: Sequence[str], sizes: Dict[str, int], budget: int
                    ) -> List[Tuple[str, ...]]:
    """Every non-empty subset whose members' bytes sum under the budget."""
    subsets = []
    for count in range(len(names), 0, -1):
        for subset in itertools.combinations(names, count):
            if sum(sizes[n] for n in subset) < budget:
                subsets.append(subset)
    return subsets


def greedy_smallest_first(names: Sequence[str], sizes: Dict[str, int], budget: int
                          ) -> Tuple[str, ...]:
    chosen, total = [], 0
    for name in sorted(names, key=lambda n: (sizes[n], names.index(n))):
        if total + sizes[name] < budget:
            chosen.append(name)
            total += sizes[name]
    return tuple(n for n in names if n in chosen)


# ---------------------------------------------------------------- executor

class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        output = artifact_utils.get_single_instance(output_dict[OUTPUT_KEY])
        names, paths = self._members(input_dict, exec_properties)
        weighting = exec_properties.get('weighting') or 'equal'
        if weighting not in WEIGHTINGS:
            raise ValueError(f'weighting must be one of {WEIGHTINGS}, got {weighting!r}')
        given = None
        if weighting == 'given':
            raw = exec_properties.get('weights')
            if not raw:
                raise ValueError("weighting='given' needs the `weights` JSON list")
            raw_weights = json.loads(raw)
            if len(raw_weights) != len(names):
                raise ValueError(f'{len(raw_weights)} weights for {len(names)} members {names}')
            given = dict(zip(names, normalise(raw_weights).tolist()))
        budget = int(exec_properties.get('size_budget_bytes') or DEFAULT_BUDGET)
        choose_subset = bool(exec_properties.get('choose_subset'))
        max_fit = int(exec_properties.get('max_fit_examples') or 10000)
        examples = (input_dict.get(EXAMPLES_KEY) or [None])[0]
        if weighting == 'fitted' and examples is None:
            raise ValueError("weighting='fitted' needs the `examples` input (eval split)")

        sizes = {name: io_utils.tree_bytes(path) for name, path in zip(names, paths)}
        total = sum(sizes.values())
        logger.info('Ensemble members: %s; total %d B; budget %d B',
                    size_table(names, sizes), total, budget)
        if total >= budget and not choose_subset:
            raise ValueError(over_budget_message(names, sizes, total, budget))
        fitting = fitting_subsets(names, sizes, budget)
        if not fitting:
            raise ValueError('No member fits the size budget on its own: '
                             + over_budget_message(names, sizes, total, budget))

        loaded = {name: tf.saved_model.load(path) for name, path in zip(names, paths)}
        for name in names:
            missing = {'serving_default', 'transform_features'} - set(loaded[name].signatures)
            if missing:
                raise ValueError(f'member {name} lacks signatures {sorted(missing)}')

        cache = None
        if examples is not None and (weighting == 'fitted' or (choose_subset and total >= budget)):
            started = time.perf_counter()
            records = eval_records(examples.uri, max_fit)
            cache = {'labels': record_labels(loaded[names[0]], records),
                     **{name: member_predictions(loaded[name], records) for name in names}}
            logger.info('Cached predictions of %d members on %d eval videos in %.1fs',
                        len(names), len(records), time.perf_counter() - started)

        candidates = self._rank_candidates(names, sizes, budget, total, weighting, given,
                                           cache, fitting)
        self._build(output, names, paths, sizes, loaded, candidates, budget, weighting,
                    cache is not None)

    # ------------------------------------------------------------------

    @staticmethod
    def _members(input_dict, exec_properties) -> Tuple[List[str], List[str]]:
        slot_names = json.loads(exec_properties.get('member_names') or '[]')
        names, paths = [], []
        for slot in range(MAX_MEMBERS):
            artifacts = input_dict.get(model_key(slot)) or []
            if not artifacts:
                continue
            name = slot_names[slot] if slot < len(slot_names) else model_key(slot)
            names.append(name)
            paths.append(path_utils.serving_model_path(artifacts[0].uri))
        if not names:
            raise ValueError('EnsembleBuilder got no member models')
        if len(set(names)) != len(names):
            raise ValueError(f'member names must be unique, got {names}')
        return names, paths

    @staticmethod
    def _weights_for(subset, weighting, given, cache) -> Tuple[np.ndarray, Dict[str, Any]]:
        info: Dict[str, Any] = {}
        if weighting == 'given':
            weights = normalise([given[n] for n in subset])
        elif weighting == 'fitted':
            weights, gap, equal_gap = fit_weights([cache[n] for n in subset], cache['labels'])
            info.update(fitted_gap=gap, equal_weights_gap=equal_gap)
        else:
            weights = np.full(len(subset), 1.0 / len(subset))
        if cache is not None and 'fitted_gap' not in info:
            info['eval_gap'] = eval_util.gap_at_k(
                combine([cache[n] for n in subset], weights), cache['labels'])
        elif cache is not None:
            info['eval_gap'] = info['fitted_gap']
        return weights, info

    def _rank_candidates(self, names, sizes, budget, total, weighting, given, cache, fitting):
        """[(subset, weights, info, reason)] best first."""
        if total < budget:
            weights, info = self._weights_for(tuple(names), weighting, given, cache)
            return [(tuple(names), weights, info, 'all members fit the budget')]
        if cache is None:
            subset = greedy_smallest_first(names, sizes, budget)
            ordered = [subset] + [s for s in fitting if s != subset]
            ordered = ordered[:MAX_BUILD_ATTEMPTS]
            ranked = []
            for s in ordered:
                weights, info = self._weights_for(s, weighting, given, None)
                ranked.append((s, weights, info, 'over budget; no eval examples, so the '
                               'smallest members first (most members that fit)'))
            return ranked
        scored = []
        for subset in fitting:
            weights, info = self._weights_for(subset, weighting, given, cache)
            scored.append((info['eval_gap'], len(subset), -sum(sizes[n] for n in subset),
                           subset, weights, info))
            logger.info('Subset %s: eval GAP %.5f', subset, info['eval_gap'])
        scored.sort(key=lambda row: row[:3], reverse=True)
        return [(subset, weights, info,
                 f'over budget; best eval GAP ({info["eval_gap"]:.5f}) among '
                 f'{len(fitting)} subsets that fit')
                for *_, subset, weights, info in scored[:MAX_BUILD_ATTEMPTS]]

    def _build(self, output, names, paths, sizes, loaded, candidates, budget, weighting,
               had_examples) -> None:
        final_dir = path_utils.serving_model_dir(output.uri)
        staging = os.path.join(output.uri, STAGING_DIR)
        if tf.io.gfile.exists(final_dir) and tf.io.gfile.listdir(final_dir):
            raise FileExistsError(f'{final_dir}: output not empty; not overwriting')
        failures = []
        for subset, weights, info, reason in candidates:
            if tf.io.gfile.exists(staging):
                tf.io.gfile.rmtree(staging)
            try:
                save_ensemble([loaded[n] for n in subset], weights.tolist(), staging)
                actual = io_utils.tree_bytes(staging)
            except Exception:
                if tf.io.gfile.exists(staging):
                    tf.io.gfile.rmtree(staging)
                raise
            if actual < budget:
                break
            tf.io.gfile.rmtree(staging)
            failures.append(over_budget_message(subset, sizes, actual, budget,
                                                'measured after saving'))
            logger.warning(failures[-1])
        else:
            raise ValueError(' | '.join(failures))
        tf.io.gfile.rename(staging, final_dir)
        report = {
            'members': [{'name': n, 'model_dir': p, 'bytes': sizes[n]}
                        for n, p in zip(names, paths)],
            'chosen_subset': list(subset),
            'dropped': [n for n in names if n not in subset],
            'choice_reason': reason,
            'weighting': weighting,
            'weights': dict(zip(subset, [float(w) for w in weights])),
            'members_total_bytes': sum(sizes.values()),
            'chosen_members_bytes': sum(sizes[n] for n in subset),
            'ensemble_bytes': actual,
            'size_budget_bytes': budget,
            'fitted_on_examples': had_examples,
            **info,
        }
        with tf.io.gfile.GFile(os.path.join(output.uri, REPORT_FILE), 'w') as f:
            json.dump(report, f, indent=1)
        output.set_string_custom_property('ensemble_members', json.dumps(list(subset)))
        output.set_string_custom_property('ensemble_weights', json.dumps(report['weights']))
        output.set_string_custom_property('ensemble_weighting', weighting)
        output.set_int_custom_property('ensemble_bytes', actual)
        output.set_int_custom_property('size_budget_bytes', budget)
        if 'eval_gap' in info:
            output.set_float_custom_property('ensemble_eval_gap', float(info['eval_gap']))
        logger.info('Ensemble %s (weights %s): %d B under budget %d B; %s',
                    list(subset), report['weights'], actual, budget, reason)
