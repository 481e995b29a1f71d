"""Teacher folds: soft labels from models that did not train on the video.

Why: a teacher that scores its own training videos, after about ten epochs
on them, returns close to the memorised labels, so its "soft" labels carry
little that the labels do not. Out-of-fold scoring (stacking's standard
remedy) cuts the train split into k folds by video id; for each fold a copy
of every member trains on the other k - 1 folds, and a video's soft label
comes from the ensemble of the copies that never saw it.

Where the pieces live:
* the Trainer trains the k fold copies after its main model and writes each
  with the serving contract under its `model` artifact, beside
  `Format-Serving` (`fold_model_dir`), so the Pusher, which copies
  `Format-Serving` only, never ships them;
* the Quantizer quantizes them like the member;
* the EnsembleBuilder builds one fold ensemble per fold, with the weights and
  averaging it fitted on select for the full members;
* the Distiller scores each train video with the fold ensemble of its fold.

The fold of a video is a keyed hash of its id (SipHash through
`tf.strings.to_hash_bucket_strong`): independent of files, shards and order,
and of the split rule's sha256, so folds cut across nothing else.
"""

from __future__ import annotations

import os
import re
from typing import List, Optional

import tensorflow as tf

FOLDS_DIR = 'Folds'
# SipHash key of the fold hash ("yt8m", "fold"): fixed, so folds are stable.
_FOLD_KEY = [0x7974_6d38, 0x666f_6c64]
_FOLD_NAME = re.compile(r'^fold-(\d+)-of-(\d+)$')


def fold_of(video_ids: tf.Tensor, folds: int) -> tf.Tensor:
    """The fold (int64 in [0, folds)) of each video id (a string tensor, any shape)."""
    if folds < 1:
        raise ValueError(f'folds must be >= 1, got {folds}')
    return tf.strings.to_hash_bucket_strong(video_ids, folds, key=_FOLD_KEY)


def record_fold(serialized: tf.Tensor, folds: int, id_key: str = 'id') -> tf.Tensor:
    """The fold of one serialized SequenceExample (reads the id only)."""
    context, _ = tf.io.parse_single_sequence_example(
        serialized, context_features={id_key: tf.io.FixedLenFeature([], tf.string)})
    return fold_of(context[id_key], folds)


def fold_model_dir(model_uri: str, fold: int, folds: int) -> str:
    """Where fold `fold`'s copy of a model lives inside the model artifact."""
    return os.path.join(model_uri, FOLDS_DIR, f'fold-{fold}-of-{folds}')


def fold_model_dirs(model_uri: str) -> Optional[List[str]]:
    """The fold copies of a model artifact in fold order, or None when it has none.

    A set with a fold missing is an error: a video of that fold would have
    no teacher that did not train on it.
    """
    root = os.path.join(model_uri, FOLDS_DIR)
    if not tf.io.gfile.isdir(root):
        return None
    found = {}
    for name in tf.io.gfile.listdir(root):
        match = _FOLD_NAME.match(name.rstrip('/'))
        if match:
            found[(int(match.group(1)), int(match.group(2)))] = os.path.join(root, name.rstrip('/'))
    if not found:
        return None
    counts = {folds for _, folds in found}
    folds = counts.pop()
    if counts or sorted(fold for fold, _ in found) != list(range(folds)):
        raise ValueError(f'{root}: incomplete or mixed fold models {sorted(found)}')
    return [found[(fold, folds)] for fold in range(folds)]
