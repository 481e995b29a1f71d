"""Distiller executor: TeacherScores + Examples + transform graph -> student Model.

1. The teacher's top-K scores of every train video come from the
   `teacher_scores` artifact, written once per teacher by the TeacherScorer
   (components/teacher_scorer/), which every student of that teacher reads;
   its costs and `soft_labels` ('out-of-fold' or 'in-sample') go into the
   student's training summary.
2. The student (`student_family`/`student_preset`) starts from its
   member's weights when `init_model` is given (`training.warm_start`), else
   at the label prior, and trains with the Trainer's own `train_model` on
   targets `lambda * teacher + (1 - lambda) * labels`
   (= lambda * BCE(s, teacher) + (1 - lambda) * BCE(s, labels)); eval uses
   labels only, through `trainer.input_pipeline.make_dataset`.
3. The student is exported exactly as the Trainer exports (same serving
   contract), with `training_summary.json` in the `model_run` output, so the
   Quantizer, EnsembleBuilder, Evaluator, Pusher and a next Distiller accept it.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List

import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.distiller import teacher_scores as scores_lib
from components import artifact_files
from trainer import input_pipeline, training
from trainer.config import TrainingConfig
from yt8m import splits

logger = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        scores = artifact_utils.get_single_instance(input_dict['teacher_scores'])
        examples = artifact_utils.get_single_instance(input_dict['examples'])
        transform_graph = artifact_utils.get_single_instance(input_dict['transform_graph'])
        model = artifact_utils.get_single_instance(output_dict['model'])
        model_run = artifact_utils.get_single_instance(output_dict['model_run'])

        config = TrainingConfig.from_custom_config(json.loads(exec_properties['training_config']))
        strategy = training.distribution_strategy(config.distribution)   # before any other op
        lam = float(exec_properties.get('distillation_lambda', 0.5))
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f'distillation_lambda must be in [0, 1], got {lam}')
        temperature = float(exec_properties.get('temperature') or 1.0)
        train_split = exec_properties.get('train_split') or splits.TRAIN
        selection_split = exec_properties.get('selection_split') or splits.SELECT
        if config.epochs:
            config = config.resolve_epochs(artifact_files.split_records(examples.uri, train_split))
            logger.info('Budget: %g epochs = %d examples', config.epochs, config.train_examples)
        costs = artifact_files.read_json(scores.uri, artifact_files.TEACHER_SCORES_COSTS) or {}
        store = scores_lib.load(scores.uri)
        teacher_uri = scores.get_string_custom_property('teacher_uri')
        logger.info('Teacher scores of %d videos (top %d, %s) from %s', len(store),
                    store.top_k, costs.get('soft_labels', 'in-sample'), scores.uri)

        tf.random.set_seed(config.seed)
        tf_transform_output = tft.TFTransformOutput(transform_graph.uri)
        lookup = scores_lib.TeacherLookup(store, temperature)
        train_ds = scores_lib.make_distill_dataset(
            [os.path.join(artifact_utils.get_split_uri([examples], train_split), '*')],
            tf_transform_output, lookup, lam, config.batch_size,
            seed=config.seed, shuffle_buffer=config.shuffle_buffer,
            cache_bytes=config.input_cache_bytes,
            draw_frames=training.frames_to_draw(config))
        eval_ds = input_pipeline.make_dataset(
            [os.path.join(artifact_utils.get_split_uri([examples], selection_split), '*')],
            tf_transform_output, config.batch_size, training=False)
        init = (artifact_utils.get_single_instance(input_dict['init_model'])
                if input_dict.get('init_model') else None)
        init_dir = path_utils.serving_model_path(init.uri) if init else None
        logger.info('Distilling into %s/%s: lambda=%g T=%g, starting from %s', config.family,
                    config.preset, lam, temperature, init_dir or 'the label prior')
        tf.io.gfile.makedirs(model_run.uri)
        _, weights, summary = training.train_model(config, train_ds, eval_ds,
                                                   log_dir=model_run.uri, strategy=strategy,
                                                   frames_drawn_in_input=True,
                                                   init_from=init_dir)
        summary.update({
            'distilled': True, 'teacher_uri': teacher_uri,
            'distillation_lambda': lam, 'temperature': temperature, 'top_k': store.top_k,
            'teacher_scores_uri': scores.uri, 'distillation_costs': costs,
            'started_from': init.uri if init else 'label prior'})
        training.export_trained(config, weights, tf_transform_output.transform_features_layer(),
                                path_utils.serving_model_dir(model.uri), model_run.uri, summary)
        model.set_string_custom_property('teacher_uri', teacher_uri)
        model.set_string_custom_property('started_from', init.uri if init else 'label prior')
        logger.info('Exported distilled %s/%s (%.1f s training)', config.family,
                    config.preset, summary['training_seconds'])
