"""Synthetic YouTube-8M frame-level data with a known generative model.

Why: the real release is 1.5 TB and cannot be fetched here. The pipeline, its
tests and its benchmarks need data in the EXACT release format (see
`yt8m.features`), of any size, offline and byte-for-byte deterministic, on
which temporal aggregation matters as it does on the real data, and with a
known ceiling: the generative parameters are written beside the data (never
inside it) so `oracle_scores` can tell what GAP is attainable at all.

Generative story of one video (all its randomness comes from
`np.random.default_rng((seed, 1, index))`, so a video does not depend on
sharding or on the other videos):

1. Labels: a REAL 2018 label set drawn from the packaged table
   (`yt8m/data/label_sets_2018.npz`): class frequencies and co-occurrences
   are the real ones. `top_classes=K` keeps only the K most frequent classes
   (sets left empty are dropped) for small experiments.
2. Length: 1..300 frames; 35% exactly 300, 25% in [200, 300), 33% in
   [60, 200), 7% in [1, 60).
3. Scenes: the frames are cut into scenes of geometric length (mean
   `scene_mean`). Each scene has one owner: a label l (label l owns a
   fraction U(`coverage`) of the scenes, together at most
   `max_label_fraction`), a distractor (`distractor_fraction` of the scenes;
   a class NOT in the video's labels, taken from another real label set, so
   confusers have the real class frequencies) or nobody (background only).
4. Frames, as floats per dimension, for a frame t in scene s:
       x_t = b + o_s + strength_s * prototype[owner_s] + n_t
   b ~ N(0, background_std^2) is one vector per video: it dominates the mean
   over frames. o_s ~ N(0, scene_std^2) per scene, n_t ~ N(0, noise_std^2)
   per frame. A class prototype (from the seed) is +-1 on `rgb_support` of
   the 1024 rgb dims and `audio_support` of the 128 audio dims. A label's
   strength is `rgb_strength` (`audio_strength`, drawn independently) times
   U(`strength_range`); with probability `missing_evidence` a label has no
   evidence at all (label noise, as in the real release). A distractor has
   `distractor_scale` times that strength.
5. Quantization: the inverse of the starter code's dequantization
   (`dequantize`), clipped to [0, 255]. With the defaults about 92% of the
   dequantized values lie in [-1, 1] (std ~0.56), <0.1% are clipped.

Why mean pooling loses: a label's evidence covers ~10-30% of the frames, so
its share of the video mean (~0.15 * 0.8 per support dim) is small next to
the per-video background (std 0.45 per dim); a pooling that keeps frame-level
extremes (max pool, clusters, attention, RNNs) sees the full strength
against the frame noise only. Distractors and missing evidence keep even the
oracle below GAP 1.

Oracle (`oracle_scores`), a near-ceiling reference, not the Bayes-optimal
score: (1) `evidence`: per class, remove the per-dimension median over the
video's frames (the background), project every frame on the class's
prototype (weighted by the expected rgb / audio strengths), average over a
`window`-frame sliding window and take the maximum over time, in units of
the frame noise; (2) map it to a log likelihood ratio (hand-set, see
_LLR_*) and (3) return the posterior P(class in labels) over the packaged
label sets, i.e. with the exact label prior and co-occurrences the
generator used. Step 3 matters: a learned model exploits the prior and
co-occurrence (e.g. "Video game" implies "Game"), and without it the oracle
falls below simple learned models. It knows the prototypes and the label
prior, not the latent scenes and strengths.

Output: `<out>/train0000.tfrecord`.., `validate0000..`, `test0000..` (videos
0.. in that order; ids b'syn%08d' % index; the test split's `labels` is an
empty int64 list) and the params file `<out>/../<basename(out)>_oracle.npz`
(`load_oracle`). ~250 KB per video; >400 videos/s on one core
(benchmarks/bench_synthetic.py). Frame noise comes from a seeded bank of
noise rows (see `_noise_bank`) for speed.

Measured with the defaults (tests/test_synthetic.py, 10 classes, 450
training videos, GAP@20 on 150): label prior 0.27, mean-pool logistic
regression 0.38, max-pool 0.75, max/min-pool minus mean 0.91, oracle 0.91.
All 3862 classes (benchmark, 200 validate videos): oracle 0.87.

CLI:
    python -m yt8m.synthetic --out DIR --videos N --seed S [--shards K]
        [--validate-fraction F] [--test-fraction F] [--params-out PATH]
        [--top-classes K] [--overwrite]
"""
import argparse
import dataclasses
import functools
import io
import logging
import os
import time
import zipfile
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from yt8m import features

logger = logging.getLogger(__name__)

SPLITS = ('train', 'validate', 'test')
LOG_EVERY = 2000
_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
LABEL_TABLE = os.path.join(_DATA_DIR, 'label_sets_2018.npz')
# Length distribution: (probability, lowest, highest) frame counts.
_LENGTHS = ((0.35, 300, 300), (0.25, 200, 299), (0.33, 60, 199), (0.07, 1, 59))
_RANGE = features.QUANTIZE_MAX - features.QUANTIZE_MIN
_DIM = features.RGB_SIZE + features.AUDIO_SIZE
NOISE_BANK = 4096   # rows per half of the frame-noise bank


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Knobs of the generative story (see the module docstring)."""
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


def quantize(x: np.ndarray) -> np.ndarray:
    """Floats -> uint8, the inverse of `dequantize` (rounded, clipped)."""
    q = (np.asarray(x, np.float32) - features.QUANTIZE_MIN - _RANGE / 512) * (
        255 / _RANGE)
    return np.clip(np.rint(q), 0, 255).astype(np.uint8)


def dequantize(q: np.ndarray) -> np.ndarray:
    """uint8 -> float32 as the official starter code does."""
    return (np.asarray(q, np.float32) * (_RANGE / 255) + _RANGE / 512
            + features.QUANTIZE_MIN)


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


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload


def _feature_list(frames: np.ndarray) -> bytes:
    """FeatureList of one bytes Feature per frame, built in one numpy copy.

    Every frame has the same size, so each element's protobuf header
    (FeatureList.feature -> Feature.bytes_list -> BytesList.value) is one
    constant prefix.
    """
    size = frames.shape[1]
    bytes_list = 1 + len(_varint(size)) + size
    feature = 1 + len(_varint(bytes_list)) + bytes_list
    prefix = (b'\x0a' + _varint(feature) + b'\x0a' + _varint(bytes_list)
              + b'\x0a' + _varint(size))
    rows = np.empty((len(frames), len(prefix) + size), np.uint8)
    rows[:, :len(prefix)] = np.frombuffer(prefix, np.uint8)
    rows[:, len(prefix):] = frames
    return rows.tobytes()


def serialize(video: Video, with_labels: bool = True) -> bytes:
    """One SequenceExample in the release format.

    Byte-identical to tf.train.SequenceExample.SerializeToString(
    deterministic=True) (map keys sorted; tests check it) but ~5x faster,
    which the 200 videos/s target needs. Without labels (test split) the
    `labels` feature is an empty int64 list, as in the release.
    """
    labels = (b''.join(_varint(int(c)) for c in video.labels)
              if with_labels else b'')
    context = {
        features.ID: _field(1, _field(1, video.id)),           # bytes_list
        features.LABELS: _field(3, _field(1, labels) if labels else b''),
    }
    lists = {features.RGB: video.rgb, features.AUDIO: video.audio}
    return (
        _field(1, b''.join(
            _field(1, _field(1, key.encode()) + _field(2, value))
            for key, value in sorted(context.items())))
        + _field(2, b''.join(
            _field(1, _field(1, key.encode())
                   + _field(2, _feature_list(lists[key])))
            for key in sorted(lists))))


def serialize_with_protobuf(video: Video, with_labels: bool = True) -> bytes:
    """The reference `serialize` must equal (slow; for tests)."""
    ex = tf.train.SequenceExample()
    ex.context.feature[features.ID].bytes_list.value.append(video.id)
    ex.context.feature[features.LABELS].int64_list.value.extend(
        video.labels.tolist() if with_labels else [])
    for key, frames in ((features.RGB, video.rgb),
                        (features.AUDIO, video.audio)):
        feature_list = ex.feature_lists.feature_list[key].feature
        for row in frames:
            feature_list.add().bytes_list.value.append(row.tobytes())
    return ex.SerializeToString(deterministic=True)


def default_params_path(out_dir: str) -> str:
    """`<out_dir>/../<basename(out_dir)>_oracle.npz`: beside the data."""
    out_dir = out_dir.rstrip('/')
    return os.path.join(os.path.dirname(out_dir) or '.',
                        os.path.basename(out_dir) + '_oracle.npz')


def save_oracle(params: Params, path: str, **extra: np.ndarray) -> None:
    """Params (plus `extra` arrays) as one npz; any tf.io.gfile path."""
    arrays = {f.name: getattr(params, f.name)
              for f in dataclasses.fields(params) if f.name != 'knobs'}
    arrays.update({'knob_' + name: np.asarray(value) for name, value in
                   dataclasses.asdict(params.knobs).items()}, **extra)
    buffer = io.BytesIO()
    # Like np.savez_compressed, but with fixed zip timestamps: same bytes
    # for the same seed and arguments.
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, value in sorted(arrays.items()):
            info = zipfile.ZipInfo(name + '.npy', (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, 'w') as member:
                np.lib.format.write_array(member, np.asarray(value),
                                          allow_pickle=False)
    with tf.io.gfile.GFile(path, 'wb') as f:
        f.write(buffer.getvalue())


def load_oracle(path: str) -> Params:
    """The Params that `generate` wrote to its params (oracle) file."""
    with tf.io.gfile.GFile(path, 'rb') as f:
        data = dict(np.load(io.BytesIO(f.read())))
    knobs = {}
    for field in dataclasses.fields(Knobs):
        value = data['knob_' + field.name]
        knobs[field.name] = (tuple(value.tolist()) if value.ndim
                             else value.item())
    return Params(
        seed=int(data['seed']), knobs=Knobs(**knobs),
        top_classes=int(data['top_classes']), rgb_idx=data['rgb_idx'],
        rgb_sign=data['rgb_sign'], audio_idx=data['audio_idx'],
        audio_sign=data['audio_sign'], active=data['active'])


def _oracle_weights(params: Params) -> Tuple[np.ndarray, np.ndarray]:
    """(active class ids, [FRAME_SIZE, classes] unit matched filters)."""
    k = params.knobs
    classes = np.flatnonzero(params.active)
    w = np.zeros((_DIM, len(classes)), np.float32)
    cols = np.arange(len(classes))[:, None]
    w[params.rgb_idx[classes], cols] = (params.rgb_sign[classes]
                                        * k.rgb_strength)
    w[features.RGB_SIZE + params.audio_idx[classes], cols] = (
        params.audio_sign[classes] * k.audio_strength)
    w /= np.linalg.norm(w, axis=0) * np.hypot(k.scene_std, k.noise_std)
    return classes, w


# Evidence statistic z -> log likelihood ratio of "class in the labels":
# linear above Z0 (strong evidence), FLOOR below it (a label may show no
# evidence: missing_evidence, short videos), capped at CAP. Set by hand
# from the default knobs; see the module docstring.
_LLR_SLOPE, _LLR_Z0, _LLR_FLOOR, _LLR_CAP = 1.0, 5.5, -2.0, 12.0


def evidence(params: Params, frames_rgb: np.ndarray,
             frames_audio: np.ndarray,
             weights: Optional[Tuple[np.ndarray, np.ndarray]] = None
             ) -> np.ndarray:
    """[NUM_CLASSES] per-class evidence z of one video (0 for inactive).

    Median-centred frames projected on each class's matched filter, averaged
    over a `window`-frame sliding window, maximum over time, in units of the
    frame noise. `weights` (from `_oracle_weights`) saves rebuilding them.
    """
    classes, w = weights or _oracle_weights(params)
    x = np.concatenate([_as_float(frames_rgb), _as_float(frames_audio)], 1)
    x -= np.median(x, axis=0)
    proj = np.cumsum(x @ w, axis=0)
    window = min(params.knobs.window, len(x))
    proj[window:] -= proj[:-window].copy()
    z = np.zeros(features.NUM_CLASSES, np.float32)
    z[classes] = proj[window - 1:].max(axis=0) / window
    return z


def oracle_scores(params: Params,
                  frames_rgb: Union[np.ndarray, Sequence[np.ndarray]],
                  frames_audio: Union[np.ndarray, Sequence[np.ndarray]]
                  ) -> np.ndarray:
    """[NUM_CLASSES] P(class in labels | frames), [N, NUM_CLASSES] for lists.

    The posterior over the packaged label sets (the generator's exact label
    prior, with its co-occurrences) given per-class likelihood ratios of the
    `evidence` statistic. Frames are uint8 (as stored) or dequantized floats.
    """
    if not isinstance(frames_rgb, (list, tuple)):
        return oracle_scores(params, [frames_rgb], [frames_audio])[0]
    labels, offsets = label_table(params.top_classes)
    starts, lengths = offsets[:-1], np.diff(offsets)
    weights = _oracle_weights(params)
    scores = np.zeros((len(frames_rgb), features.NUM_CLASSES))
    for i, (rgb, audio) in enumerate(zip(frames_rgb, frames_audio)):
        z = evidence(params, rgb, audio, weights).astype(np.float64)
        llr = np.minimum(np.logaddexp(_LLR_FLOOR, _LLR_SLOPE * (z - _LLR_Z0)),
                         _LLR_CAP)
        log_w = np.add.reduceat(llr[labels], starts)      # per label set
        post = np.exp(log_w - log_w.max())
        scores[i] = np.bincount(labels, np.repeat(post, lengths),
                                features.NUM_CLASSES) / post.sum()
    return scores


def _as_float(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    return (dequantize(frames) if frames.dtype == np.uint8
            else frames.astype(np.float32))


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


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Write synthetic YouTube-8M frame-level TFRecords.')
    parser.add_argument('--out', required=True, help='data folder')
    parser.add_argument('--videos', type=int, required=True)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--shards', type=int, default=1)
    parser.add_argument('--validate-fraction', type=float, default=0.1)
    parser.add_argument('--test-fraction', type=float, default=0.1)
    parser.add_argument('--params-out', default=None,
                        help='oracle file (default: <out>/../'
                        '<basename(out)>_oracle.npz)')
    parser.add_argument('--top-classes', type=int, default=0,
                        help='keep only the K most frequent classes (0: all)')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(levelname)s %(message)s')
    try:
        files = generate(args.out, args.videos, args.seed, args.shards,
                         args.validate_fraction, args.test_fraction,
                         args.params_out, args.overwrite, args.top_classes)
    except (FileExistsError, ValueError) as e:
        parser.error(str(e))
    for split, paths in files.items():
        print(f'{split}: {len(paths)} files')


if __name__ == '__main__':
    main()
