"""Small filesystem helpers shared by the custom components (gfile: local or GCS)."""

from __future__ import annotations

import os

import tensorflow as tf


def copy_tree(source: str, destination: str) -> None:
    """Copies a directory tree; refuses to write into a non-empty destination."""
    if tf.io.gfile.exists(destination) and tf.io.gfile.listdir(destination):
        raise FileExistsError(f'{destination}: destination is not empty; not overwriting')
    for directory, _, files in tf.io.gfile.walk(source):
        target = os.path.join(destination, os.path.relpath(directory, source))
        tf.io.gfile.makedirs(target)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target, name))


def tree_bytes(path: str) -> int:
    """Total bytes of the files under `path`: a model's size on disk."""
    return sum(tf.io.gfile.stat(os.path.join(directory, name)).length
               for directory, _, files in tf.io.gfile.walk(path) for name in files)
