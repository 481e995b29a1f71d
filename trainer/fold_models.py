"""The out-of-fold copies of a member, for teachers that did not see the video.

After the main model, `train_fold_copies` trains one copy per teacher fold
(yt8m/folds.py) on the other folds and exports each with the serving
contract inside the model artifact. A copy gets the main model's budget at
its best step, scaled to its share of the data, so it trains the same
number of epochs; it stops early on select like the main model (select
chooses, so this is still honest). Cost: about (k - 1) / k of the main
model's training per fold, (k - 1) x in all, i.e. doubles the Trainer at
k = 2 (docs/TRAINING.md).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Callable, List, Optional

from trainer import training
from trainer.config import TrainingConfig
from yt8m import folds as folds_lib

logger = logging.getLogger(__name__)


def fold_config(config: TrainingConfig, summary: dict) -> TrainingConfig:
    """A fold copy's config: the main model's best budget x (k - 1) / k, same eval interval."""
    k = config.teacher_folds
    best_examples = max(summary['best_step'], 1) * config.batch_size
    interval = training.evaluation_interval(config, config.budget_steps) * config.batch_size
    return dataclasses.replace(
        config, teacher_folds=0, ema_steps=0,
        train_examples=max(config.batch_size, best_examples * (k - 1) // k),
        eval_every_examples=max(config.batch_size, interval * (k - 1) // k))


def train_fold_copies(config: TrainingConfig, summary: dict,
                      make_train_ds: Callable[[int], object], eval_ds,
                      transform_features_layer, model_uri: str, model_run_dir: str,
                      strategy=None, chief: bool = True,
                      make_prior_targets: Optional[Callable[[int], object]] = None) -> List[dict]:
    """Trains and exports the `config.teacher_folds` copies; returns their summaries.

    `make_train_ds(fold)` gives the training batches without that fold,
    frames drawn as `training.frames_to_draw(config)` says;
    `make_prior_targets(fold)` the label batches of the same videos for the
    copy's label prior (default: the targets of `make_train_ds(fold)`).
    """
    k = config.teacher_folds
    if k < 2:
        return []
    copy_config = fold_config(config, summary)
    summaries = []
    for fold in range(k):
        run_dir = os.path.join(model_run_dir, folds_lib.FOLDS_DIR, f'fold-{fold}-of-{k}')
        logger.info('Teacher fold %d of %d: %s/%s on the other folds, %d examples',
                    fold + 1, k, config.family, config.preset, copy_config.train_examples)
        _, weights, fold_summary = training.train_model(
            copy_config, make_train_ds(fold), eval_ds, log_dir=run_dir if chief else None,
            strategy=strategy, frames_drawn_in_input=True,
            prior_targets=make_prior_targets(fold) if make_prior_targets else None)
        fold_summary.update(teacher_fold=fold, teacher_folds=k)
        if chief:
            training.export_trained(copy_config, weights, transform_features_layer,
                                    folds_lib.fold_model_dir(model_uri, fold, k), run_dir,
                                    fold_summary)
        summaries.append({key: fold_summary[key] for key in (
            'teacher_fold', 'best_step', 'best_eval_gap', 'training_seconds', 'budget_examples')})
    return summaries
