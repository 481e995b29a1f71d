"""Transform's preprocessing_fn: raw YouTube-8M tensors to model inputs.

Decoding and checks come from `yt8m.reader.decode_videos` (the one parser).
Each frame's 1152-d rgb+audio vector is L2-normalised, as the 2018 winners
did, so that loud or bright frames do not dominate pooled statistics.

Then every dimension is standardised with the mean and standard deviation
of that dimension over all training frames, computed once by Transform's
analyzers and baked into the transform (and so the serving) graph. Why:
after the L2 norm a 1152-d frame has entries of about 1/sqrt(1152) = 0.03,
so a linear layer needs weights ~30x larger than its initialisation to read
it, which Adam reaches only after thousands of steps; the seed put a batch
norm on the input instead, which costs a [batch, 300, 1152] normalisation
per step (docs/TRAINING.md). Standardising in Transform costs one analysis
pass and nothing per step.

The result fills 300 slots with every real frame at least once
(`sampling.cover_every_frame`); see `trainer/sampling.py` for why training's
random sampling happens later, in the input pipeline.

`transform_videos` is the same computation with the statistics passed in
(identity when None): tests and benchmarks use it where no Transform runs.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

from trainer import sampling
from yt8m import features, reader

# Floor of a dimension's standard deviation (constant dimensions stay 0).
_MIN_STD = 1e-6


def l2_normalised_frames(videos: dict) -> tf.RaggedTensor:
    """rgb and audio concatenated per frame, each frame L2-normalised."""
    frames = tf.concat([videos[features.RGB], videos[features.AUDIO]], axis=-1)
    return tf.ragged.map_flat_values(tf.math.l2_normalize, frames, axis=-1)


def transform_videos(inputs: dict, frame_mean: Optional[tf.Tensor] = None,
                     frame_std: Optional[tf.Tensor] = None) -> dict:
    """Frames [b, 300, 1152], num_frames, multi-hot labels and the id.

    `frame_mean` / `frame_std` ([1152]) standardise every dimension; None
    leaves the L2-normalised frames as they are.
    """
    videos = reader.decode_videos(inputs)
    frames = l2_normalised_frames(videos)
    if frame_mean is not None:
        scale = 1.0 / tf.maximum(frame_std, _MIN_STD)
        frames = tf.ragged.map_flat_values(lambda x: (x - frame_mean) * scale, frames)
    return {
        features.FRAMES: sampling.cover_every_frame(frames, videos[features.NUM_FRAMES]),
        features.NUM_FRAMES: videos[features.NUM_FRAMES],
        features.LABELS_MULTI_HOT: videos[features.LABELS_MULTI_HOT],
        features.VIDEO_ID: videos[features.VIDEO_ID],
    }


def transformed_arrays(files, frame_mean=None, frame_std=None, batch_size: int = 64):
    """(frames, num_frames, labels) numpy arrays of whole record files, via `transform_videos`.

    For tests and benchmarks that train without a Transform run; ~1.4 MB a
    video in memory.
    """
    import numpy as np
    frames, lengths, labels = [], [], []
    for batch in tf.data.TFRecordDataset(files).batch(batch_size):
        out = transform_videos(reader.parse_serialized(batch), frame_mean, frame_std)
        frames.append(out[features.FRAMES].numpy())
        lengths.append(out[features.NUM_FRAMES].numpy())
        labels.append(out[features.LABELS_MULTI_HOT].numpy())
    return np.concatenate(frames), np.concatenate(lengths), np.concatenate(labels)


def frame_statistics(frames, num_frames, every: int = 1):
    """Per-dimension mean and std over the real frames of every `every`-th video.

    What Transform's analyzers compute in `preprocessing_fn`, in numpy.
    """
    import numpy as np
    real = np.concatenate([f[:max(1, n)] for f, n in zip(frames[::every], num_frames[::every])])
    return real.mean(axis=0), np.maximum(real.std(axis=0), _MIN_STD)


def preprocessing_fn(inputs, custom_config=None):
    """`transform_videos` with the per-dimension frame statistics of the training data.

    `custom_config` only carries the code fingerprint into the cache key.
    """
    import tensorflow_transform as tft   # only where Transform runs
    flat = l2_normalised_frames(reader.decode_videos(inputs)).flat_values
    frame_mean = tft.mean(flat, reduce_instance_dims=False, name='frame_mean')
    frame_std = tf.sqrt(tft.var(flat, reduce_instance_dims=False, name='frame_var'))
    return transform_videos(inputs, frame_mean, frame_std)
