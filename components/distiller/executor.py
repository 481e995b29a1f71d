"""Distiller executor: teacher Model + Examples + transform graph -> student Model.

1. The teacher (any SavedModel with the serving contract: one model or the
   ensemble) runs its `serving_default` once over the train split, as a Beam
   job (`beam_scoring.py`: the runner spreads the files over workers); its
   top-K scores per video go to the `teacher_scores` artifact (see
   `teacher_scores.py` for why sparse top-K and what it approximates).
   When the teacher holds out-of-fold copies (`Folds/`, yt8m/folds.py),
   each video is scored by the copy of its fold, which never trained on it;
   `soft_labels` on the artifact says which ('out-of-fold' or 'in-sample').
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
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import apache_beam as beam

import tensorflow as tf
import tensorflow_transform as tft
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.distiller import beam_scoring
from components.distiller import teacher_scores as scores_lib
from components import artifact_files
from trainer import input_pipeline, training
from trainer.config import TrainingConfig
from yt8m import folds, splits

logger = logging.getLogger(__name__)

SCORING_BATCH_SIZE = 64


def split_files(examples: types.Artifact, split: str) -> List[str]:
    return sorted(tf.io.gfile.glob(os.path.join(
        artifact_utils.get_split_uri([examples], split), '*')))


def score_teacher(teacher_dir: str, files: List[str], top_k: int, output_uri: str,
                  batch_size: int = SCORING_BATCH_SIZE,
                  make_pipeline: Optional[Callable[[], beam.Pipeline]] = None,
                  fold_dirs: Sequence[str] = ()) -> dict:
    """Teacher top-K over `files` (a Beam job) -> shards under `output_uri`; returns costs.

    With `fold_dirs` every video is scored by its fold's copy of the teacher.
    """
    started = time.perf_counter()
    with (make_pipeline() if make_pipeline else beam.Pipeline()) as pipeline:
        beam_scoring.score_with_beam(pipeline, files, teacher_dir, top_k, output_uri,
                                     batch_size, fold_dirs)
    seconds = time.perf_counter() - started
    counts = beam_scoring.counters(pipeline.result)
    store = scores_lib.load(output_uri)
    videos = max(1, len(store))
    inference_seconds = counts.get('inference_ms', 0) / 1000
    costs = {'num_videos': len(store), 'teacher_seconds': round(seconds, 3),
             'teacher_inference_seconds': inference_seconds,
             'teacher_seconds_per_video': inference_seconds / videos,
             'raw_record_bytes_per_video': counts.get('record_bytes', 0) / videos,
             'top_k': top_k, 'teacher_dir': teacher_dir,
             'teacher_folds': len(fold_dirs),
             'soft_labels': 'out-of-fold' if fold_dirs else 'in-sample'}
    stored = scores_lib.store_bytes(output_uri)
    costs.update(store_bytes=stored, store_bytes_per_video=stored / videos,
                 dense_bytes_per_video=scores_lib.features.NUM_CLASSES * 4)
    costs['dense_vs_store_ratio'] = costs['dense_bytes_per_video'] / costs['store_bytes_per_video']
    logger.info('Teacher scored %d videos in %.1f s (%.2f ms/video inference)', len(store),
                seconds, 1000 * costs['teacher_seconds_per_video'])
    artifact_files.write_json(output_uri, artifact_files.TEACHER_SCORES_COSTS, costs)
    return costs


class Executor(base_beam_executor.BaseBeamExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        teacher = artifact_utils.get_single_instance(input_dict['teacher_model'])
        examples = artifact_utils.get_single_instance(input_dict['examples'])
        transform_graph = artifact_utils.get_single_instance(input_dict['transform_graph'])
        model = artifact_utils.get_single_instance(output_dict['model'])
        model_run = artifact_utils.get_single_instance(output_dict['model_run'])
        scores = artifact_utils.get_single_instance(output_dict['teacher_scores'])

        config = TrainingConfig.from_custom_config(json.loads(exec_properties['training_config']))
        strategy = training.distribution_strategy(config.distribution)   # before any other op
        lam = float(exec_properties.get('distillation_lambda', 0.5))
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f'distillation_lambda must be in [0, 1], got {lam}')
        temperature = float(exec_properties.get('temperature') or 1.0)
        top_k = int(exec_properties.get('top_k') or 20)

        teacher_dir = path_utils.serving_model_path(teacher.uri)
        train_split = exec_properties.get('train_split') or splits.TRAIN
        selection_split = exec_properties.get('selection_split') or splits.SELECT
        train_files = split_files(examples, train_split)
        if config.epochs:
            config = config.resolve_epochs(artifact_files.split_records(examples.uri, train_split))
            logger.info('Budget: %g epochs = %d examples', config.epochs, config.train_examples)
        fold_dirs = folds.fold_model_dirs(teacher.uri) or []
        logger.info('Scoring %d train files with teacher %s (top %d, %s)', len(train_files),
                    teacher_dir, top_k, f'out of fold: {len(fold_dirs)} fold teachers'
                    if fold_dirs else 'in-sample: the teacher trained on these videos')
        costs = score_teacher(teacher_dir, train_files, top_k, scores.uri,
                              make_pipeline=self._make_beam_pipeline, fold_dirs=fold_dirs)
        scores.set_int_custom_property('num_videos', costs['num_videos'])
        scores.set_int_custom_property('top_k', top_k)
        scores.set_string_custom_property('teacher_uri', teacher.uri)
        scores.set_string_custom_property('soft_labels', costs['soft_labels'])
        scores.set_int_custom_property('teacher_folds', len(fold_dirs))

        tf.random.set_seed(config.seed)
        tf_transform_output = tft.TFTransformOutput(transform_graph.uri)
        lookup = scores_lib.TeacherLookup(scores_lib.load(scores.uri), temperature)
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
            'distilled': True, 'teacher_uri': teacher.uri,
            'distillation_lambda': lam, 'temperature': temperature, 'top_k': top_k,
            'teacher_scores_uri': scores.uri, 'distillation_costs': costs,
            'started_from': init.uri if init else 'label prior'})
        training.export_trained(config, weights, tf_transform_output.transform_features_layer(),
                                path_utils.serving_model_dir(model.uri), model_run.uri, summary)
        model.set_string_custom_property('teacher_uri', teacher.uri)
        model.set_string_custom_property('started_from', init.uri if init else 'label prior')
        logger.info('Exported distilled %s/%s (%.1f s training, %.1f s teacher scoring)',
                    config.family, config.preset, summary['training_seconds'],
                    costs['teacher_seconds'])
