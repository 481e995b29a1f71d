"""io_utils on a filesystem that, like gs://, does not normalize paths."""

import pytest
import tensorflow as tf

from components import io_utils


def _write(path: str, text: str = 'x') -> None:
    with tf.io.gfile.GFile(path, 'w') as f:
        f.write(text)


def test_copy_tree_keeps_object_names_exact():
    # ram:// (TF's in-memory filesystem) keeps 'dst/./saved_model.pb' as a
    # different name from 'dst/saved_model.pb', as GCS does.
    source, destination = 'ram://copy_tree/src', 'ram://copy_tree/dst'
    tf.io.gfile.makedirs(source + '/variables')
    _write(source + '/saved_model.pb', 'graph')
    _write(source + '/variables/variables.index', 'index')
    io_utils.copy_tree(source, destination)
    assert tf.io.gfile.GFile(destination + '/saved_model.pb').read() == 'graph'
    assert tf.io.gfile.GFile(destination + '/variables/variables.index').read() == 'index'
    assert io_utils.tree_bytes(destination) == io_utils.tree_bytes(source)
    with pytest.raises(FileExistsError, match='not overwriting'):
        io_utils.copy_tree(source, destination)
