"""TeacherScorer executor: teacher Model + Examples -> TeacherScores (top-K per train video).

The teacher (any SavedModel with the serving contract: one model or an
ensemble) runs its `serving_default` once over the train split, as a Beam
job (`beam_scoring.py`: the runner spreads the files over workers); its
top-K scores per video go to the `teacher_scores` artifact
(`components/distiller/teacher_scores.py` says why sparse top-K and what it
approximates). When the teacher holds out-of-fold copies (`Folds/`,
yt8m/folds.py), each video is scored by the copy of its fold, which never
trained on it; `soft_labels` on the artifact says which ('out-of-fold' or
'in-sample').

One scoring serves every student of the teacher: each Distiller reads the
artifact, so a run with two students pays one pass of the teacher over the
train split, not two, and a rerun that changes only a student's options
finds the scores in TFX's cache.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import artifact_files
from components.distiller import teacher_scores as scores_lib
from components.teacher_scorer import beam_scoring
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
    The costs are also written beside the shards (TEACHER_SCORES_COSTS), where
    each Distiller reads them into its training summary.
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
        scores = artifact_utils.get_single_instance(output_dict['teacher_scores'])
        top_k = int(exec_properties['top_k'])   # required: the component sets it
        train_split = exec_properties.get('train_split') or splits.TRAIN

        teacher_dir = path_utils.serving_model_path(teacher.uri)
        if not tf.io.gfile.exists(os.path.join(teacher_dir, 'saved_model.pb')):
            raise FileNotFoundError(f'teacher model {teacher.uri}: no saved_model.pb under '
                                    f'{teacher_dir}')
        train_files = split_files(examples, train_split)
        if not train_files:
            raise ValueError(f'examples {examples.uri}: split {train_split!r} has no files to '
                             f'score (splits: {examples.split_names})')
        fold_dirs = folds.fold_model_dirs(teacher.uri) or []
        logger.info('Scoring %d %s files with teacher %s (top %d, %s)', len(train_files),
                    train_split, teacher_dir, top_k,
                    f'out of fold: {len(fold_dirs)} fold teachers' if fold_dirs
                    else 'in-sample: the teacher trained on these videos')
        costs = score_teacher(teacher_dir, train_files, top_k, scores.uri,
                              make_pipeline=self._make_beam_pipeline, fold_dirs=fold_dirs)
        scores.set_int_custom_property('num_videos', costs['num_videos'])
        scores.set_int_custom_property('top_k', top_k)
        scores.set_string_custom_property('teacher_uri', teacher.uri)
        scores.set_string_custom_property('soft_labels', costs['soft_labels'])
        scores.set_int_custom_property('teacher_folds', len(fold_dirs))
