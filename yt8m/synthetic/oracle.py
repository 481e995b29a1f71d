"""The params (oracle) file and the oracle: what GAP is attainable at all.

Why: the generative parameters are written beside the data, never inside
it, so a model cannot see them, while a benchmark can compare it to a
near-ceiling reference computed from them.

`oracle_scores` is a near-ceiling reference, not the Bayes-optimal score:
(1) `evidence`: per class, remove the per-dimension median over the video's
frames (the background), project every frame on the class's prototype
(weighted by the expected rgb / audio strengths), average over a
`window`-frame sliding window and take the maximum over time, in units of
the frame noise; (2) map it to a log likelihood ratio (hand-set, see
_LLR_*) and (3) return the posterior P(class in labels) over the packaged
label sets, i.e. with the exact label prior and co-occurrences the
generator used. Step 3 matters: a learned model exploits the prior and
co-occurrence (e.g. "Video game" implies "Game"), and without it the oracle
falls below simple learned models. It knows the prototypes and the label
prior, not the latent scenes and strengths.
"""
import dataclasses
import io
import os
import zipfile
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from yt8m import features
from yt8m.synthetic.encoding import dequantize
from yt8m.synthetic.params import _DIM, Knobs, Params, label_table


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
