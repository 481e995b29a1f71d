"""The TFX Trainer entry point shared by every model family.

`Trainer(run_fn='trainer.run_fn.run_fn', custom_config=TrainingConfig(...).to_custom_config())`:
the family is configuration, never a code path, as in the starter code's
`create_model` convention (see `models.registry`). The loop itself lives in
`trainer.training`, which the Distiller calls too.
"""

from __future__ import annotations

import logging
import os

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components import artifact_files
from trainer import fold_models, input_pipeline, training
from trainer.config import TrainingConfig

logger = logging.getLogger(__name__)


def train_split_name(fn_args: FnArgs) -> str:
    """The train split's name, from its files' folder (`Split-<name>`)."""
    folder = os.path.basename(os.path.dirname(fn_args.train_files[0].rstrip('/')))
    return folder[len('Split-'):] if folder.startswith('Split-') else folder


def run_fn(fn_args: FnArgs) -> None:
    config = TrainingConfig.from_custom_config(fn_args.custom_config)
    if config.epochs:   # the ExampleGen counted the split: <examples>/Split-train/*
        examples_uri = os.path.dirname(os.path.dirname(fn_args.train_files[0].rstrip('/')))
        records = artifact_files.split_records(examples_uri, train_split_name(fn_args))
        config = config.resolve_epochs(records)
        logger.info('Budget: %g epochs x %d train records = %d examples', config.epochs,
                    records, config.train_examples)
    if fn_args.train_steps and fn_args.train_steps != config.budget_steps:
        raise ValueError(f'TrainArgs.num_steps={fn_args.train_steps} disagrees with the '
                         f'budget of {config.budget_steps} steps in custom_config; build '
                         'both from one TrainingConfig (pipeline.pipeline)')
    strategy = training.distribution_strategy(config.distribution)   # before any other op
    chief = training.is_chief(strategy)
    tf.random.set_seed(config.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)

    # Read (and cached, when it fits) once for the model and its fold copies.
    train_records = input_pipeline.split_records(
        fn_args.train_files, shuffle=True, seed=config.seed,
        cache_bytes=config.input_cache_bytes)

    def train_dataset(exclude_fold=None):
        return input_pipeline.make_dataset(
            fn_args.train_files, tf_transform_output, config.batch_size, training=True,
            seed=config.seed, shuffle_buffer=config.shuffle_buffer,
            draw_frames=training.frames_to_draw(config), exclude_fold=exclude_fold,
            records=train_records)

    def train_labels(exclude_fold=None):
        return input_pipeline.label_batches(fn_args.train_files, config.batch_size,
                                            exclude_fold=exclude_fold)

    train_ds = train_dataset()
    # Transformed once, scored by the model and its fold copies alike.
    eval_ds = training.cache_eval(config, input_pipeline.make_dataset(
        fn_args.eval_files, tf_transform_output, config.batch_size, training=False))
    _, weights, summary = training.train_model(
        config, train_ds, eval_ds, log_dir=fn_args.model_run_dir if chief else None,
        strategy=strategy, frames_drawn_in_input=True, prior_targets=train_labels())
    # The teacher's out-of-fold copies (yt8m/folds.py), beside Format-Serving.
    summary['teacher_folds'] = fold_models.train_fold_copies(
        config, summary, lambda fold: train_dataset((fold, config.teacher_folds)), eval_ds,
        tf_transform_output.transform_features_layer(),
        os.path.dirname(fn_args.serving_model_dir.rstrip('/')), fn_args.model_run_dir,
        strategy=strategy, chief=chief,
        make_prior_targets=lambda fold: train_labels((fold, config.teacher_folds)))
    if not chief:
        resolver = strategy.cluster_resolver
        logger.info('Worker %s/%s trained %d steps; the chief exports', resolver.task_type,
                    resolver.task_id, summary['steps_run'])
        return
    training.export_trained(config, weights, tf_transform_output.transform_features_layer(),
                            fn_args.serving_model_dir, fn_args.model_run_dir, summary)
