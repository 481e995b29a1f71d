"""What a synthetic data set is: its knobs, the class prototypes drawn from
the seed, the packaged real label sets, and the Video record.

Why a module of its own: the generator, the encoder and the oracle all need
these definitions, and the oracle must rebuild exactly what the generator
used (from the params file, see `oracle.load_oracle`) without generating.
"""
import dataclasses
import functools
import os
from typing import NamedTuple, Optional, Tuple

import numpy as np

from yt8m import features

_DATA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data')
LABEL_TABLE = os.path.join(_DATA_DIR, 'label_sets_2018.npz')
_RANGE = features.QUANTIZE_MAX - features.QUANTIZE_MIN
_DIM = features.RGB_SIZE + features.AUDIO_SIZE


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Knobs of the generative story (see the `yt8m.synthetic` docstring)."""
    background_std: float = 0.45
    scene_std: float = 0.2
    noise_std: float = 0.25
    scene_mean: float = 8.0
    coverage: Tuple[float, float] = (0.1, 0.3)
    max_label_fraction: float = 0.8
    distractor_fraction: float = 0.1
    rgb_support: int = 24
    audio_support: int = 8
    rgb_strength: float = 0.8
    audio_strength: float = 0.8
    strength_range: Tuple[float, float] = (0.5, 1.5)
    missing_evidence: float = 0.1
    distractor_scale: float = 0.5
    window: int = 5


@dataclasses.dataclass(frozen=True)
class Params:
    """Generative parameters: what the oracle knows."""
    seed: int
    knobs: Knobs
    top_classes: int          # 0: all classes
    rgb_idx: np.ndarray       # int16 [NUM_CLASSES, rgb_support]
    rgb_sign: np.ndarray      # int8  [NUM_CLASSES, rgb_support]
    audio_idx: np.ndarray     # int16 [NUM_CLASSES, audio_support]
    audio_sign: np.ndarray    # int8  [NUM_CLASSES, audio_support]
    active: np.ndarray        # bool  [NUM_CLASSES]: classes that can occur


class Video(NamedTuple):
    id: bytes
    labels: np.ndarray        # int64 class ids
    rgb: np.ndarray           # uint8 [frames, RGB_SIZE]
    audio: np.ndarray         # uint8 [frames, AUDIO_SIZE]


@functools.lru_cache(maxsize=8)
def label_table(top_classes: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Packaged real label sets as (flat int64 labels, offsets).

    top_classes > 0 keeps only the most frequent classes (by their count over
    all 980k source videos) and drops the sets that become empty.
    """
    with np.load(LABEL_TABLE) as table:
        labels = table['labels'].astype(np.int64)
        lengths = table['lengths'].astype(np.int64)
        counts = table['class_counts']
    if top_classes:
        keep = np.zeros(features.NUM_CLASSES, bool)
        keep[np.argsort(-counts, kind='stable')[:top_classes]] = True
        set_of = np.repeat(np.arange(len(lengths)), lengths)
        mask = keep[labels]
        labels = labels[mask]
        lengths = np.bincount(set_of[mask], minlength=len(lengths))
        lengths = lengths[lengths > 0]
    return labels, np.concatenate([[0], np.cumsum(lengths)])


def make_params(seed: int, top_classes: int = 0,
                knobs: Optional[Knobs] = None) -> Params:
    """Class prototypes drawn from the seed (independent of the videos)."""
    knobs = knobs or Knobs()
    rng = np.random.default_rng((seed, 0))

    def support(dims: int, k: int) -> Tuple[np.ndarray, np.ndarray]:
        idx = rng.random((features.NUM_CLASSES, dims)).argsort(axis=1)[:, :k]
        sign = np.where(rng.random(idx.shape) < 0.5, -1, 1)
        return np.sort(idx, axis=1).astype(np.int16), sign.astype(np.int8)

    rgb_idx, rgb_sign = support(features.RGB_SIZE, knobs.rgb_support)
    audio_idx, audio_sign = support(features.AUDIO_SIZE, knobs.audio_support)
    active = np.zeros(features.NUM_CLASSES, bool)
    active[label_table(top_classes)[0]] = True
    return Params(seed, knobs, top_classes, rgb_idx, rgb_sign, audio_idx,
                  audio_sign, active)
