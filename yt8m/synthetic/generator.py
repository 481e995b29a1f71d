"""Sampling videos from the generative story and writing the data set.

Why: every video depends only on (seed, index), never on sharding or on the
other videos, so any split, shard or single video can be regenerated alone
(`sample_video`) and a data set is byte-for-byte reproducible (`generate`).
"""
import functools
import logging
import os
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from yt8m import features
from yt8m.synthetic.encoding import serialize
from yt8m.synthetic.oracle import default_params_path, save_oracle
from yt8m.synthetic.params import (_DIM, _RANGE, Knobs, Params, Video,
                                   label_table, make_params)

logger = logging.getLogger(__name__)

SPLITS = ('train', 'validate', 'test')
LOG_EVERY = 2000
# Length distribution: (probability, lowest, highest) frame counts.
_LENGTHS = ((0.35, 300, 300), (0.25, 200, 299), (0.33, 60, 199), (0.07, 1, 59))
NOISE_BANK = 4096   # rows per half of the frame-noise bank


@functools.lru_cache(maxsize=1)
def _normal_table() -> np.ndarray:
    """65536 quantiles of N(0, 1): 16 random bits -> one Gaussian value.

    Why: a table lookup is several times cheaper than drawing normals, and
    the values are still N(0, 1) to 16-bit resolution (tails cut at 4.2).
    """
    from statistics import NormalDist
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf((i + 0.5) / 65536) for i in range(65536)],
                    np.float32)


def _normals(rng: np.random.Generator, n: int) -> np.ndarray:
    """n N(0, 1) float32 values from the table (little-endian bits)."""
    raw = rng.bit_generator.random_raw((n + 3) // 4).astype('<u8', copy=False)
    return np.take(_normal_table(), raw.view('<u2')[:n])


@functools.lru_cache(maxsize=2)
def _noise_bank(seed: int, noise_std: float) -> np.ndarray:
    """[2, NOISE_BANK, FRAME_SIZE] int16 frame noise in quantization steps.

    Why: a frame's noise is one random row of each half added up (each half
    N(0, noise_std^2 / 2), so the sum is N(0, noise_std^2)): gathering two
    rows is ~4x cheaper than drawing 1152 normals per frame, and the 16M
    row pairs keep frames from repeating.
    """
    rng = np.random.default_rng((seed, 2))
    z = rng.standard_normal((2, NOISE_BANK, _DIM), dtype=np.float32)
    return np.rint(z * (noise_std / np.sqrt(2) * 255 / _RANGE)).astype(
        np.int16)


def _num_frames(rng: np.random.Generator) -> int:
    u, acc = rng.random(), 0.0
    for prob, low, high in _LENGTHS:
        acc += prob
        if u < acc:
            break
    return int(rng.integers(low, high + 1))


def _draw_labels(rng: np.random.Generator, top_classes: int) -> np.ndarray:
    labels, offsets = label_table(top_classes)
    i = int(rng.integers(len(offsets) - 1))
    return labels[offsets[i]:offsets[i + 1]]


def sample_video(params: Params, index: int) -> Video:
    """Video number `index` of the data set `params` describes."""
    k = params.knobs
    rng = np.random.default_rng((params.seed, 1, index))
    labels = _draw_labels(rng, params.top_classes)
    frames = _num_frames(rng)
    lengths = rng.geometric(1 / k.scene_mean, size=frames)
    num_scenes = int(np.searchsorted(np.cumsum(lengths), frames)) + 1
    lengths = lengths[:num_scenes]
    lengths[-1] -= lengths.sum() - frames

    # Scene owners: label j (< n), distractor (n) or background (n + 1).
    n = len(labels)
    share = rng.uniform(*k.coverage, size=n)
    share *= min(1.0, k.max_label_fraction / share.sum())
    probs = np.concatenate([share, [k.distractor_fraction]])
    owner = np.searchsorted(np.cumsum(probs), rng.random(num_scenes))
    evidence = rng.random(n) >= k.missing_evidence
    strength = rng.uniform(*k.strength_range, size=(n, 2)) * evidence[:, None]

    scene_class = np.full(num_scenes, -1)
    scene_strength = np.zeros((num_scenes, 2))
    mine = owner < n
    scene_class[mine] = labels[owner[mine]]
    scene_strength[mine] = strength[owner[mine]]
    label_set = set(labels.tolist())
    for s in np.flatnonzero(owner == n).tolist():
        other = [c for c in _draw_labels(rng, params.top_classes).tolist()
                 if c not in label_set]
        if other:
            scene_class[s] = other[rng.integers(len(other))]
            scene_strength[s] = rng.uniform(*k.strength_range, size=2) * (
                k.distractor_scale)

    mean = np.empty((num_scenes, _DIM), np.float32)
    mean[:] = _normals(rng, _DIM) * k.background_std
    mean += _normals(rng, mean.size).reshape(mean.shape) * k.scene_std
    rows = np.flatnonzero(scene_class >= 0)[:, None]
    cls = scene_class[rows[:, 0]]
    mean[rows, params.rgb_idx[cls]] += params.rgb_sign[cls] * (
        scene_strength[rows[:, 0], :1] * k.rgb_strength)
    mean[rows, features.RGB_SIZE + params.audio_idx[cls]] += (
        params.audio_sign[cls] * (scene_strength[rows[:, 0], 1:]
                                  * k.audio_strength))

    # In quantization steps (int16): scene means plus frame noise.
    steps = np.rint((mean - features.QUANTIZE_MIN - _RANGE / 512)
                    * (255 / _RANGE)).astype(np.int16)
    bank = _noise_bank(params.seed, k.noise_std)
    q = np.take(bank[0], rng.integers(NOISE_BANK, size=frames), axis=0)
    q += np.take(bank[1], rng.integers(NOISE_BANK, size=frames), axis=0)
    q += np.repeat(steps, lengths, axis=0)
    q8 = np.clip(q, 0, 255, out=q).astype(np.uint8)
    return Video(b'syn%08d' % index, labels,
                 q8[:, :features.RGB_SIZE], q8[:, features.RGB_SIZE:])


def _prepare_out_dir(out_dir: str, params_out: str, overwrite: bool) -> None:
    inside = os.path.abspath(params_out).startswith(
        os.path.abspath(out_dir).rstrip('/') + '/')
    if inside and '://' not in out_dir:
        raise ValueError(f'params file {params_out} must not be inside the '
                         f'data folder {out_dir}')
    if tf.io.gfile.exists(out_dir) and tf.io.gfile.listdir(out_dir):
        if not overwrite:
            raise FileExistsError(f'output folder {out_dir} is not empty; '
                                  'pass --overwrite (overwrite=True) to '
                                  'replace its tfrecords')
        for pattern in features.SPLIT_PATTERNS.values():
            for path in tf.io.gfile.glob(os.path.join(out_dir, pattern)):
                tf.io.gfile.remove(path)
    if tf.io.gfile.exists(params_out) and not overwrite:
        raise FileExistsError(f'params file {params_out} exists; pass '
                              '--overwrite (overwrite=True) to replace it')
    tf.io.gfile.makedirs(out_dir)


def generate(out_dir: str, num_videos: int, seed: int, shards: int = 1,
             validate_fraction: float = 0.1, test_fraction: float = 0.1,
             params_out: Optional[str] = None, overwrite: bool = False,
             top_classes: int = 0, knobs: Optional[Knobs] = None
             ) -> Dict[str, List[str]]:
    """Writes the three splits and the params file; returns split -> files.

    Videos 0.. go to train, then validate, then test (test without labels).
    Each split is cut into min(shards, its videos) contiguous shards.
    """
    if not (0 <= validate_fraction and 0 <= test_fraction
            and validate_fraction + test_fraction <= 1):
        raise ValueError('need 0 <= validate_fraction, test_fraction and '
                         'their sum <= 1')
    params_out = params_out or default_params_path(out_dir)
    _prepare_out_dir(out_dir, params_out, overwrite)
    params = make_params(seed, top_classes, knobs)
    n_val = round(num_videos * validate_fraction)
    n_test = round(num_videos * test_fraction)
    counts = dict(zip(SPLITS, (num_videos - n_val - n_test, n_val, n_test)))

    written: Dict[str, List[str]] = {}
    start, done, t0 = 0, 0, time.perf_counter()
    for split in SPLITS:
        n, written[split] = counts[split], []
        num_shards = min(shards, n)
        for shard in range(num_shards):
            path = os.path.join(out_dir, f'{split}{shard:04d}.tfrecord')
            with tf.io.TFRecordWriter(path) as writer:
                for i in range(start + n * shard // num_shards,
                               start + n * (shard + 1) // num_shards):
                    writer.write(serialize(sample_video(params, i),
                                           with_labels=split != 'test'))
                    done += 1
                    if done % LOG_EVERY == 0:
                        logger.info('%d/%d videos, %.0f videos/s', done,
                                    num_videos,
                                    done / (time.perf_counter() - t0))
            written[split].append(path)
        start += n
    save_oracle(params, params_out, num_videos=np.int64(num_videos),
                split_counts=np.array([counts[s] for s in SPLITS]))
    logger.info('wrote %d videos to %s in %.1f s; params in %s', num_videos,
                out_dir, time.perf_counter() - t0, params_out)
    return written
