"""The training loop that the Trainer's run_fn and the Distiller share.

Model code stays free of orchestration (models/), the TFX entry point stays a
thin adapter (trainer/run_fn.py): this module builds, trains, early-stops,
optionally EMA-averages and exports one model from a `TrainingConfig` and
tf.data datasets, whoever calls it.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from components import artifact_files
from models import ema as ema_lib
from models import layers, optim, presets, registry
from trainer import export
from trainer import monitor as monitor_lib
from trainer.config import TrainingConfig
from yt8m import splits

logger = logging.getLogger(__name__)


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """GPUs and clusters come through configuration, not code changes.

    Create it before any other TensorFlow op (datasets included):
    MultiWorkerMirroredStrategy configures collective ops, which TensorFlow
    allows only at program start-up.
    """
    if name == 'mirrored':
        return tf.distribute.MirroredStrategy()
    if name == 'multi_worker':
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name:
        raise ValueError(f'unknown distribution {name!r}; use "", "mirrored" or "multi_worker"')
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the model: the chief, else worker 0, else alone.

    Every worker of a MultiWorkerMirroredStrategy trains (gradients are
    all-reduced); only one exports and writes the summary and TensorBoard
    files, so that workers never race on the same output.
    """
    resolver = getattr(strategy, 'cluster_resolver', None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, 'chief'):
        return True
    has_chief = 'chief' in resolver.cluster_spec().as_dict()
    return task_type == 'worker' and task_id == 0 and not has_chief


def _compile(model, learning_rate, config: TrainingConfig, decay: bool = True) -> None:
    optimizer = optim.make_optimizer(
        learning_rate=learning_rate,
        decay_examples=config.decay_examples,
        decay_rate=config.decay_rate if decay else 1.0, batch_size=config.batch_size,
        warmup_steps=config.warmup_steps if decay else 0)
    model.compile(optimizer=optimizer, loss=optim.summed_binary_crossentropy,
                  jit_compile=config.jit_compile)


def evaluation_interval(config: TrainingConfig, steps: int) -> int:
    """Steps between two eval GAP@20 measurements (10 per budget by default)."""
    if config.eval_every_examples:
        return max(1, min(steps, config.eval_every_examples // config.batch_size))
    return max(1, -(-steps // 10))


def label_frequencies(targets_ds, examples: int) -> np.ndarray:
    """Per-class frequency of the targets in the first `examples` training videos.

    `targets_ds`: batches of targets [batch, classes]
    (`input_pipeline.label_batches`, or a training dataset's second element).

    Smoothed towards the average class (3 labels in 3862) by one pseudo-video,
    so a class unseen in the sample starts near, not at, zero.
    """
    counts, seen = 0.0, 0
    for targets in targets_ds:
        counts = counts + np.asarray(targets, np.float64).sum(axis=0)
        seen += len(targets)
        if seen >= examples:
            break
    generic = layers.AVERAGE_LABELS_PER_VIDEO / np.size(counts)
    return (counts + generic) / (seen + 1)


def frames_to_draw(config: TrainingConfig) -> int:
    """`draw_frames` for the training input of `config`'s model (input_pipeline.make_dataset)."""
    return presets.frames_drawn(config.family, config.preset)


def cache_eval(config: TrainingConfig, eval_ds) -> list:
    """The select batches early stopping scores, in memory (bounded by `eval_cache_bytes`)."""
    return monitor_lib.cache_batches(eval_ds, config.eval_examples, config.eval_cache_bytes)


def warm_start(model, serving_model_dir: str) -> None:
    """Loads the weights of an exported model of the same family and preset into `model`.

    Reads the SavedModel's variables as a checkpoint of its `model`
    attribute (trainer/export.py `ServingModule`), so the transform graph's
    objects are left aside; fails, naming the folder, when a weight of
    `model` has no match there (another family or preset).
    """
    path = os.path.join(serving_model_dir, 'variables', 'variables')
    served = tf.Module()      # the exported root: its `model` is what we load
    served.model = model
    status = tf.train.Checkpoint(root=served).read(path).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as err:
        raise ValueError(f'{serving_model_dir}: its weights do not fit a {model.name} '
                         f'model (another family or preset?): {err}') from err


def train_model(config: TrainingConfig, train_ds, eval_ds, log_dir: Optional[str] = None,
                strategy: Optional[tf.distribute.Strategy] = None,
                frames_drawn_in_input: bool = False, init_from: Optional[str] = None,
                prior_targets=None):
    """Trains one model; returns (model, weights to export, summary dict).

    `eval_ds` must be finite (one pass over the select split), or the
    batches `cache_eval` made of it (a member and its fold copies share
    them); at most `config.eval_examples` of its videos are scored every
    evaluation interval. The exported weights are the best evaluated ones (early
    stopping), or their EMA average when that scores at least as well.
    `frames_drawn_in_input`: `train_ds` was made with
    `draw_frames=frames_to_draw(config)`, so the model reads its training
    frames as drawn (`layers.read_drawn_frames`).
    `init_from`: a serving model folder of the same family and preset whose
    weights the model starts from (`warm_start`), instead of the label
    prior; its select GAP@20 is then scored before the first step, so early
    stopping never keeps weights below the start.
    `prior_targets`: batches of the training targets for the label prior the
    model starts from (`input_pipeline.label_batches`, which parses labels
    only); by default the targets of `train_ds`.
    """
    optim.configure_precision(config.mixed_precision)
    optim.skip_autograph_for_tf_keras()   # first fit: ~60 s of AutoGraph -> ~4 s
    strategy = strategy or distribution_strategy(config.distribution)
    with strategy.scope():
        model = registry.build_model(config.family, config.preset)
        if frames_drawn_in_input:
            layers.read_drawn_frames(model)
        if init_from:      # before compiling: the optimizer is not the member's
            warm_start(model, init_from)
        _compile(model, config.base_learning_rate, config)
        if not init_from and config.prior_examples:
            if prior_targets is None:
                prior_targets = train_ds.map(lambda _, targets: targets)
            layers.start_at_label_prior(model, label_frequencies(prior_targets,
                                                                 config.prior_examples))
    steps = config.budget_steps
    interval = evaluation_interval(config, steps)
    eval_batches = eval_ds if isinstance(eval_ds, list) else cache_eval(config, eval_ds)
    monitor = monitor_lib.GapMonitor(eval_batches, config.batch_size, config.patience,
                                     log_dir=log_dir, score_start=bool(init_from))
    logger.info('Training %s/%s: budget %d steps x %d = %d examples, LR %g, select GAP@20 '
                'every %d steps on %d videos, patience %d', config.family, config.preset,
                steps, config.batch_size, steps * config.batch_size,
                config.base_learning_rate, interval,
                sum(len(labels) for _, labels in eval_batches), config.patience)
    started = time.time()
    model.fit(train_ds, epochs=-(-steps // interval), steps_per_epoch=interval,
              callbacks=[monitor], verbose=0)
    model.set_weights(monitor.best_weights)
    weights = monitor.best_weights
    summary = {'family': config.family, 'preset': config.preset,
               'batch_size': config.batch_size, 'learning_rate': config.base_learning_rate,
               'budget_steps': steps, 'budget_examples': steps * config.batch_size,
               'steps_run': monitor.curve[-1]['step'], 'stopped_early': monitor.stopped_early,
               'best_step': monitor.best_step, 'best_eval_gap': monitor.best_gap,
               'eval_videos': sum(len(labels) for _, labels in eval_batches),
               # Both callers (run_fn, the Distiller) pass the select split.
               'selection_split': splits.SELECT,
               'curve': monitor.curve, 'exported': 'best',
               'num_parameters': int(model.count_params())}
    if config.ema_steps:
        weights = _ema_phase(model, config, train_ds, eval_batches, monitor, log_dir, summary)
    summary['training_seconds'] = round(time.time() - started, 2)
    return model, weights, summary


def _ema_phase(model, config, train_ds, eval_batches, main_monitor, log_dir, summary):
    """The seed's EMA: more steps at a lower LR from the best weights, averaged.

    The average is exported only if its eval GAP@20 is at least the best raw
    weights'; the summary records both.
    """
    logger.info('EMA phase: %d steps at %.2gx LR, gamma=%g', config.ema_steps,
                config.ema_learning_rate_factor, config.ema_gamma)
    averager = ema_lib.ExponentialMovingAverage(start_step=0, gamma=config.ema_gamma)
    _compile(model, config.base_learning_rate * config.ema_learning_rate_factor, config,
             decay=False)
    monitor = monitor_lib.GapMonitor(eval_batches, config.batch_size, 0, log_dir=log_dir,
                                     phase='ema', step_offset=main_monitor.best_step)
    model.fit(train_ds, epochs=1, steps_per_epoch=config.ema_steps,
              callbacks=[averager, monitor], verbose=0)
    averaged = averager.averaged_weights()
    model.set_weights(averaged)
    ema_gap, _ = monitor.evaluate()
    summary.update(ema_steps=config.ema_steps, ema_eval_gap=ema_gap, curve=[
        *summary['curve'], *monitor.curve])
    if ema_gap >= main_monitor.best_gap:
        summary['exported'] = 'ema'
        return averaged
    logger.info('EMA weights score %.4f < best %.4f: exporting the best weights',
                ema_gap, main_monitor.best_gap)
    model.set_weights(main_monitor.best_weights)
    return main_monitor.best_weights


def build_export_model(config: TrainingConfig, weights):
    """A fresh float32 model with the chosen weights: no optimizer slots saved."""
    optim.configure_precision(False)
    model = registry.build_model(config.family, config.preset)
    model.set_weights(weights)
    return model


def export_trained(config: TrainingConfig, weights, transform_features_layer,
                   serving_model_dir: str, model_run_dir: str, summary: dict) -> None:
    """Exports the chosen weights with the serving contract and writes the summary.

    The same tail for a Trainer and a Distiller, so the Quantizer, the
    EnsembleBuilder, the Evaluator and the Report read both alike.
    """
    started = time.time()
    export.export_serving_model(build_export_model(config, weights), transform_features_layer,
                                serving_model_dir)
    summary['export_seconds'] = round(time.time() - started, 2)
    artifact_files.write_json(model_run_dir, artifact_files.TRAINING_SUMMARY, summary)
    logger.info('Exported %s/%s to %s (%.1f s of training)', config.family, config.preset,
                serving_model_dir, summary['training_seconds'])
