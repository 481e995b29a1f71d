"""Transform's preprocessing_fn: raw YouTube-8M tensors to model inputs.

Decoding and checks come from `yt8m.reader.decode_videos` (the one parser).
Each frame's 1152-d rgb+audio vector is L2-normalised, as the 2018 winners
did, so that loud or bright frames do not dominate pooled statistics. The
result fills 300 slots with every real frame at least once
(`sampling.cover_every_frame`); see `trainer/sampling.py` for why training's
random sampling happens later, in the input pipeline.
"""

from __future__ import annotations

import tensorflow as tf

from trainer import sampling
from yt8m import features, reader


def preprocessing_fn(inputs, custom_config=None):
    """Returns frames [b, 300, 1152], num_frames, multi-hot labels and the id.

    `custom_config` only carries the code fingerprint into the cache key.
    """
    videos = reader.decode_videos(inputs)
    frames = tf.concat([videos[features.RGB], videos[features.AUDIO]], axis=-1)
    frames = tf.ragged.map_flat_values(tf.math.l2_normalize, frames, axis=-1)
    return {
        features.FRAMES: sampling.cover_every_frame(frames, videos[features.NUM_FRAMES]),
        features.NUM_FRAMES: videos[features.NUM_FRAMES],
        features.LABELS_MULTI_HOT: videos[features.LABELS_MULTI_HOT],
        features.VIDEO_ID: videos[features.VIDEO_ID],
    }
