"""Frame sampling: how a video of 1-300 frames fills the model's 300 slots.

The 2018 winners used sampling as data augmentation (+0.0015 GAP, seed
slides): at training, 300 frame indices are drawn uniformly *with
replacement*; at prediction every real frame is put in at least once and the
remaining slots re-sample.

Where each half runs, and why:

* Prediction-time covering runs in the Transform graph
  (`cover_every_frame`), so the serving signature, the Evaluator and training
  all see the same layout. Slot j holds frame (j mod n): the first n slots
  are the real frames in order (what an RNN with masking reads), and the
  rest repeat them cyclically. It is deterministic on purpose: a served model
  must be a function of its input, so that the GAP the Evaluator records can
  be reproduced from the pushed model's predictions.
* Training-time sampling cannot live in the Transform graph: that graph is
  also the serving graph, which must stay deterministic, and materialized
  Transform output would freeze one draw for good. So the trainer's tf.data
  pipeline applies `sample_with_replacement` after the transform graph,
  drawing from the first n slots (the real frames). tf.data re-runs the map
  on every pass, so the indices change from epoch to epoch.
"""

from __future__ import annotations

import tensorflow as tf

from yt8m import features


def cover_every_frame(frames: tf.RaggedTensor, num_frames: tf.Tensor,
                      slots: int = features.MAX_FRAMES) -> tf.Tensor:
    """Ragged [batch, n, d] -> dense [batch, slots, d], slot j = frame j mod n."""
    dense = frames.to_tensor(shape=[None, slots, frames.shape[-1]])
    n = tf.maximum(tf.cast(num_frames, tf.int32), 1)
    indices = tf.range(slots)[tf.newaxis, :] % n[:, tf.newaxis]
    return tf.gather(dense, indices, batch_dims=1)


def draw_raw_frames(raw: dict, num_samples: int) -> dict:
    """Draws `num_samples` frames per video, uniformly with replacement, from raw features.

    `raw` is `yt8m.reader.parse_serialized`'s layout (rgb and audio ragged
    [batch, frames, 1] bytes). The draw is the one `FrameSampler` makes in
    training, over the frames decoding keeps (the first 300). A video with
    no frames stays empty, so decoding still names the problem; rgb and
    audio of different lengths fail here, with decoding's message.
    """
    rgb = raw[features.RGB]
    with tf.control_dependencies([tf.debugging.assert_equal(
            rgb.row_lengths(), raw[features.AUDIO].row_lengths(),
            message='rgb and audio must have the same number of frames')]):
        lengths = tf.minimum(rgb.row_lengths(), features.MAX_FRAMES)
    indices = tf.cast(uniform_indices(lengths, num_samples), tf.int64)
    draws = tf.where(lengths > 0, tf.cast(num_samples, tf.int64), 0)
    indices = tf.RaggedTensor.from_tensor(indices, lengths=draws)
    drawn = dict(raw)
    for name in (features.RGB, features.AUDIO):
        drawn[name] = tf.gather(raw[name], indices, batch_dims=1)
    return drawn


def sample_with_replacement(frames: tf.Tensor, num_frames: tf.Tensor,
                            slots: int = features.MAX_FRAMES) -> tf.Tensor:
    """Draws `slots` frames per video uniformly with replacement from its real frames.

    `frames` is the covered layout of `cover_every_frame`, so the real frames
    are the first `num_frames` slots.
    """
    return tf.gather(frames, uniform_indices(num_frames, slots), batch_dims=1)


def uniform_indices(num_frames: tf.Tensor, count: int) -> tf.Tensor:
    """int32 [batch, count]: frame indices drawn uniformly with replacement from [0, n).

    A video with n = 0 draws index 0 (its caller decides what that means).
    """
    n = tf.maximum(tf.cast(num_frames, tf.float32), 1.0)[:, tf.newaxis]
    uniform = tf.random.uniform([tf.shape(n)[0], count])
    return tf.minimum(tf.cast(uniform * n, tf.int32), tf.cast(n, tf.int32) - 1)
