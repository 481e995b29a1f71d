"""Small filesystem helpers shared by the custom components (gfile: local or GCS)."""

from __future__ import annotations

import os
from typing import List

import tensorflow as tf


def copy_tree(source: str, destination: str) -> None:
    """Copies a directory tree; refuses to write into a non-empty destination.

    Paths are joined as strings, not normalized: on gs:// an object named
    `model/./saved_model.pb` is not `model/saved_model.pb`.
    """
    if tf.io.gfile.exists(destination) and tf.io.gfile.listdir(destination):
        raise FileExistsError(f'{destination}: destination is not empty; not overwriting')
    source = source.rstrip('/')
    for directory, _, files in tf.io.gfile.walk(source):
        relative = directory[len(source):].strip('/')
        target = os.path.join(destination, relative) if relative else destination
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name))


def tree_bytes(path: str) -> int:
    """Total bytes of the files under `path`: a model's size on disk."""
    return sum(tf.io.gfile.stat(os.path.join(directory, name)).length
               for directory, _, files in tf.io.gfile.walk(path) for name in files)


def split_records(examples_uri: str, split: str, limit: int) -> List[bytes]:
    """Up to `limit` serialized records of one split of an Examples artifact.

    Read through tf.io.gfile, so a gs:// (or any TF filesystem) pipeline root
    works; stdlib glob would see no files there.
    """
    if limit <= 0:
        return []
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f'Split-{split}', '*.gz')))
    if not files:
        return []
    dataset = tf.data.TFRecordDataset(files, compression_type='GZIP').take(limit)
    return [record.numpy() for record in dataset]
