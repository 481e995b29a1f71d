"""The TFX Trainer entry point shared by every model family.

`Trainer(run_fn='trainer.run_fn.run_fn', custom_config={'family': ...})`: the
family is configuration, never a code path, as in the starter code's
`create_model` convention (see `models.registry`).
"""

from __future__ import annotations

import json
import logging
import os
import time

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs

from models import ema as ema_lib
from models import optim, registry
from trainer import export, input_pipeline
from trainer.config import TrainingConfig

logger = logging.getLogger(__name__)

SUMMARY_FILE = 'training_summary.json'
LOG_EVERY_STEPS = 50


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """GPUs and clusters come through configuration, not code changes."""
    if name == 'mirrored':
        return tf.distribute.MirroredStrategy()
    if name == 'multi_worker':
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name:
        raise ValueError(f'unknown distribution {name!r}; use "", "mirrored" or "multi_worker"')
    return tf.distribute.get_strategy()


def _compile(model, learning_rate, config: TrainingConfig, decay: bool = True) -> None:
    optimizer = optim.make_optimizer(
        learning_rate=learning_rate,
        decay_examples=config.decay_examples,
        decay_rate=config.decay_rate if decay else 1.0, batch_size=config.batch_size)
    model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy(),
                  jit_compile=config.jit_compile)


def _fit(model, train_ds, eval_ds, steps: int, eval_steps: int, callbacks) -> dict:
    """Fits about `steps` steps in epochs of at most LOG_EVERY_STEPS, so progress is logged.

    Keras epochs all have the same length, so the step count is rounded up to
    a whole number of epochs (120 -> 3 x 40; 101 -> 3 x 34 = 102); the history
    records the steps actually run.
    """
    epochs = max(1, -(-steps // LOG_EVERY_STEPS))
    steps_per_epoch = max(1, -(-steps // epochs))
    history = model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=eval_ds, validation_steps=eval_steps,
                        callbacks=callbacks, verbose=2)
    return {**history.history, 'steps': epochs * steps_per_epoch}


def train_model(config: TrainingConfig, train_ds, eval_ds, train_steps: int,
                eval_steps: int):
    """Trains one model; returns (model, weights to export, summary dict)."""
    optim.configure_precision(config.mixed_precision)
    optim.skip_autograph_for_tf_keras()   # first fit: ~60 s of AutoGraph -> ~4 s
    with distribution_strategy(config.distribution).scope():
        model = registry.build_model(config.family, config.preset)
        _compile(model, config.learning_rate, config)
    callbacks = []
    if config.converge_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor='val_loss', patience=config.converge_patience))
    started = time.time()
    history = _fit(model, train_ds, eval_ds, train_steps, eval_steps, callbacks)
    summary = {'family': config.family, 'preset': config.preset,
               'main_steps': history['steps'], 'history': history,
               'num_parameters': int(model.count_params())}
    weights = model.get_weights()
    if config.ema_steps:
        logger.info('EMA phase: %d steps at %.2gx LR, gamma=%g', config.ema_steps,
                    config.ema_learning_rate_factor, config.ema_gamma)
        averager = ema_lib.ExponentialMovingAverage(start_step=0, gamma=config.ema_gamma)
        _compile(model, config.learning_rate * config.ema_learning_rate_factor, config,
                 decay=False)
        summary['ema_history'] = _fit(model, train_ds, eval_ds, config.ema_steps,
                                      eval_steps, [averager])
        weights = averager.averaged_weights()
        summary['ema_steps'] = config.ema_steps
    summary['training_seconds'] = round(time.time() - started, 2)
    return model, weights, summary


def build_export_model(config: TrainingConfig, weights):
    """A fresh float32 model with the chosen weights: no optimizer slots saved."""
    optim.configure_precision(False)
    model = registry.build_model(config.family, config.preset)
    model.set_weights(weights)
    return model


def run_fn(fn_args: FnArgs) -> None:
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    tf.random.set_seed(config.seed)
    logger.info('Training %s/%s for %d steps', config.family, config.preset, fn_args.train_steps)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train_ds = input_pipeline.make_dataset(
        fn_args.train_files, fn_args.data_accessor, tf_transform_output,
        config.batch_size, training=True, seed=config.seed,
        shuffle_buffer=config.shuffle_buffer)
    eval_ds = input_pipeline.make_dataset(
        fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
        config.batch_size, training=False)
    _, weights, summary = train_model(config, train_ds, eval_ds, fn_args.train_steps,
                                      max(1, fn_args.eval_steps))
    export_model = build_export_model(config, weights)
    export.export_serving_model(export_model, tf_transform_output.transform_features_layer(),
                                fn_args.serving_model_dir)
    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, SUMMARY_FILE), 'w') as f:
        json.dump(summary, f, indent=1, default=float)
    logger.info('Exported %s to %s (%.1f s of training)', config.family,
                fn_args.serving_model_dir, summary['training_seconds'])
