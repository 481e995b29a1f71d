"""One calling convention for every family (like the starter code's
`create_model`), so the trainer never special-cases a family.

    model = build_model('netvlad', 'small')
    probabilities = model({'frames': frames, 'num_frames': num_frames})

Inputs: `frames` float32 [batch, max_frames, feature_size] (each frame L2-
normalised, rgb dimensions first, then audio) and `num_frames` int64 [batch].
Aggregating families (logistic, dbof, netvlad, netfv, nextvlad) read all
slots order-free (sampled input: every slot a real frame); the RNN families
read the first `num_frames` slots in order under a mask.
Output: probabilities float32 [batch, num_classes] in [0, 1].
"""
from __future__ import annotations

from typing import Union

import tf_keras as keras

from models import dbof, logistic, netvlad, nextvlad, rnn
from models.presets import FAMILIES, PRESETS, FamilyConfig, resolve_config
from yt8m import features

__all__ = ['FAMILIES', 'PRESETS', 'build_model']

_BUILDERS = {
    'logistic': logistic.build_logistic,
    'dbof': dbof.build_dbof,
    'lstm': lambda *args: rnn.build_rnn('lstm', *args),
    'gru': lambda *args: rnn.build_rnn('gru', *args),
    'netvlad': netvlad.build_netvlad,
    'netfv': lambda *args: netvlad.build_netvlad(*args, fisher=True),
    'nextvlad': nextvlad.build_nextvlad,
}


def build_model(family: str,
                preset: Union[str, FamilyConfig] = 'small',
                num_classes: int = features.NUM_CLASSES,
                max_frames: int = features.MAX_FRAMES,
                feature_size: int = features.FRAME_SIZE) -> keras.Model:
    """Builds an uncompiled model of `family` at `preset`.

    `preset` is a name ('seed', 'small', 'tiny') or a config instance of the
    family's config class (e.g. `DBoFConfig(..., assignment='softmax')`) for
    variants. Unknown family or preset: ValueError listing the valid names.
    """
    config = resolve_config(family, preset)
    return _BUILDERS[family](config, num_classes, max_frames, feature_size)
