"""EnsembleBuilder executor: several member SavedModels -> one size-checked SavedModel.

The parts live beside it: `serving.py` (the one-graph module that is saved),
`weight_search.py` (weights, subsets, the size estimate) and `eval_cache.py`
(members' predictions on the select split, for 'fitted' and subset choice).

Size: the output SavedModel's bytes on disk must stay under
`size_budget_bytes` (the 2018 challenge's 1 GB). Members' sizes are checked
before any model is loaded (their sum estimates the ensemble) and the written
SavedModel is measured again. Over budget: a ValueError naming every
member's size, the total and the budget; with `choose_subset`, the best
subset that fits is built instead. The SavedModel is written to a staging
folder and moved to `Format-Serving` only after it passed the check, so a
failed run leaves no valid-looking model behind.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import artifact_files, io_utils
from components.ensemble import eval_cache, weight_search
from components.ensemble.serving import model_key, save_ensemble
from components.ensemble.weight_search import Candidate
from yt8m import folds, splits

logger = logging.getLogger(__name__)

MAX_MEMBERS = 8
EXAMPLES_KEY = 'examples'
OUTPUT_KEY = 'model'
DEFAULT_BUDGET = 1_000_000_000
WEIGHTINGS = ('equal', 'given', 'fitted')
STAGING_DIR = '.staging-ensemble'


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        output = artifact_utils.get_single_instance(output_dict[OUTPUT_KEY])
        names, paths = self._members(input_dict, exec_properties)
        weighting = exec_properties.get('weighting') or 'equal'
        if weighting not in WEIGHTINGS:
            raise ValueError(f'weighting must be one of {WEIGHTINGS}, got {weighting!r}')
        given = self._given_weights(exec_properties, weighting, names)
        budget = int(exec_properties.get('size_budget_bytes') or DEFAULT_BUDGET)
        choose_subset = bool(exec_properties.get('choose_subset'))
        max_fit = int(exec_properties.get('max_fit_examples') or 10000)
        selection_split = exec_properties.get('selection_split') or splits.SELECT
        examples = (input_dict.get(EXAMPLES_KEY) or [None])[0]
        if weighting == 'fitted' and examples is None:
            raise ValueError("weighting='fitted' needs the `examples` input (select split)")

        # Sizes first: an impossible budget fails before any model is loaded.
        sizes = {name: io_utils.tree_bytes(path) for name, path in zip(names, paths)}
        total = sum(sizes.values())
        logger.info('Ensemble members: %s; total %d B; budget %d B',
                    weight_search.size_table(names, sizes), total, budget)
        if total >= budget and not choose_subset:
            raise ValueError(weight_search.over_budget_message(names, sizes, total, budget))
        if min(sizes.values()) >= budget:
            raise ValueError('No member fits the size budget on its own: '
                             + weight_search.over_budget_message(names, sizes, total, budget))

        loaded = self._load(names, paths)
        cache = None
        if examples is not None and (weighting == 'fitted' or (choose_subset and total >= budget)):
            cache = eval_cache.collect(loaded, names, examples.uri, max_fit, selection_split)
        candidates = weight_search.rank_candidates(names, sizes, budget, weighting, given, cache)
        chosen, actual = self._build_first_fitting(output.uri, candidates, loaded, sizes, budget)
        teacher_folds = self._build_fold_teachers(output.uri, chosen, dict(zip(names, paths)))
        self._record(output, {
            'members': [{'name': n, 'model_dir': p, 'bytes': sizes[n]}
                        for n, p in zip(names, paths)],
            'chosen_subset': list(chosen.names),
            'dropped': [n for n in names if n not in chosen.names],
            'choice_reason': chosen.reason,
            'weighting': weighting,
            'weights': dict(zip(chosen.names, chosen.weights)),
            'combination': chosen.combination,
            'members_total_bytes': total,
            'chosen_members_bytes': chosen.member_bytes,
            'ensemble_bytes': actual,
            'size_budget_bytes': budget,
            'fitted_on_examples': cache is not None,
            'fitted_on_split': selection_split if cache is not None else None,
            'fitted_on_videos': len(cache.labels) if cache is not None else 0,
            'teacher_folds': teacher_folds,
            **chosen.scores(),
        })

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
    def _given_weights(exec_properties, weighting: str, names: Sequence[str]
                       ) -> Optional[Dict[str, float]]:
        """'given' weights by member name, normalised over all members."""
        if weighting != 'given':
            return None
        raw = exec_properties.get('weights')
        if not raw:
            raise ValueError("weighting='given' needs the `weights` JSON list")
        raw_weights = json.loads(raw)
        if len(raw_weights) != len(names):
            raise ValueError(f'{len(raw_weights)} weights for {len(names)} members {names}')
        return dict(zip(names, weight_search.normalise(raw_weights).tolist()))

    @staticmethod
    def _load(names: Sequence[str], paths: Sequence[str]) -> Dict[str, Any]:
        loaded = {name: tf.saved_model.load(path) for name, path in zip(names, paths)}
        for name in names:
            missing = {'serving_default', 'transform_features'} - set(loaded[name].signatures)
            if missing:
                raise ValueError(f'member {name} lacks signatures {sorted(missing)}')
        return loaded

    def _build_first_fitting(self, output_uri: str, candidates: Sequence[Candidate],
                             loaded: Mapping[str, Any], sizes: Mapping[str, int],
                             budget: int) -> Tuple[Candidate, int]:
        """Builds candidates in rank order until one measures under the budget
        (the members' sum is only an estimate); moves it to `Format-Serving`."""
        final_dir = path_utils.serving_model_dir(output_uri)
        staging = os.path.join(output_uri, STAGING_DIR)
        if tf.io.gfile.exists(final_dir) and tf.io.gfile.listdir(final_dir):
            raise FileExistsError(f'{final_dir}: output not empty; not overwriting')
        failures = []
        for candidate in candidates:
            actual = self._build(candidate, loaded, staging)
            if actual < budget:
                tf.io.gfile.rename(staging, final_dir)
                return candidate, actual
            tf.io.gfile.rmtree(staging)
            failures.append(weight_search.over_budget_message(
                candidate.names, sizes, actual, budget, 'measured after saving'))
            logger.warning(failures[-1])
        raise ValueError(' | '.join(failures))

    @staticmethod
    def _build(candidate: Candidate, loaded: Mapping[str, Any], staging: str) -> int:
        """Saves `candidate` to `staging` and returns its bytes on disk; a save
        that fails leaves no partial SavedModel behind."""
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
        try:
            save_ensemble([loaded[n] for n in candidate.names], candidate.weights, staging,
                          candidate.combination)
            return io_utils.tree_bytes(staging)
        except Exception:
            if tf.io.gfile.exists(staging):
                tf.io.gfile.rmtree(staging)
            raise

    @staticmethod
    def _build_fold_teachers(output_uri: str, chosen: Candidate,
                             serving_paths: Mapping[str, str]) -> int:
        """One ensemble per teacher fold, from the members' fold copies, with the
        chosen weights and averaging (yt8m/folds.py); returns the fold count.

        Not size-checked and never pushed: only the Distiller reads them. 0 when
        a member that counts (weight > 0) has no fold copies.
        """
        counting = [(name, weight) for name, weight in zip(chosen.names, chosen.weights)
                    if weight > 0]
        copies = {name: folds.fold_model_dirs(os.path.dirname(serving_paths[name].rstrip('/')))
                  for name, _ in counting}
        lacking = sorted(name for name, dirs in copies.items() if not dirs)
        counts = {len(dirs) for dirs in copies.values() if dirs}
        if lacking or len(counts) != 1:
            logger.info('No out-of-fold teacher: %s', f'no fold copies of {lacking}'
                        if lacking else f'fold counts differ {sorted(counts)}')
            return 0
        k = counts.pop()
        for fold in range(k):
            members = [tf.saved_model.load(copies[name][fold]) for name, _ in counting]
            save_ensemble(members, [weight for _, weight in counting],
                          folds.fold_model_dir(output_uri, fold, k), chosen.combination)
        logger.info('Out-of-fold teachers: %d fold ensembles of %s', k,
                    [name for name, _ in counting])
        return k

    @staticmethod
    def _record(output: types.Artifact, report: Dict[str, Any]) -> None:
        """Writes `ensemble_report.json` and mirrors its key facts as artifact
        properties, so lineage queries need not open the file."""
        artifact_files.write_json(output.uri, artifact_files.ENSEMBLE_REPORT, report)
        output.set_string_custom_property('ensemble_members', json.dumps(report['chosen_subset']))
        output.set_string_custom_property('ensemble_weights', json.dumps(report['weights']))
        output.set_string_custom_property('ensemble_weighting', report['weighting'])
        if report['fitted_on_split']:
            output.set_string_custom_property('selection_split', report['fitted_on_split'])
            output.set_int_custom_property('selection_videos', report['fitted_on_videos'])
        output.set_int_custom_property('ensemble_bytes', report['ensemble_bytes'])
        output.set_int_custom_property('teacher_folds', report['teacher_folds'])
        output.set_int_custom_property('size_budget_bytes', report['size_budget_bytes'])
        if 'eval_gap' in report:
            output.set_float_custom_property('ensemble_eval_gap', float(report['eval_gap']))
        logger.info('Ensemble %s (weights %s): %d B under budget %d B; %s',
                    report['chosen_subset'], report['weights'], report['ensemble_bytes'],
                    report['size_budget_bytes'], report['choice_reason'])
