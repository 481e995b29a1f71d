"""Model sizes per family ('seed', 'small', 'tiny') and their parameter counts.

'seed' holds the sizes of the 2018 winning solution (Skalic & Austin; see
docs/TRAINING.md and their `runme.md`) and of NeXtVLAD (Lin et al., 2018).
'small' trains on two CPU cores; 'tiny' is for unit tests.

`closed_form_param_count` derives the parameter count from the architecture
on paper, without TensorFlow, so the table of `python -m models.presets` is
instant even for the 320M-parameter NetVLAD, and a test holds the Keras code
to the same arithmetic (`model.count_params()`, which counts trainable and
non-trainable weights, i.e. 4 per batch-norm unit).

This module imports no TensorFlow on purpose.
"""
from __future__ import annotations

import dataclasses
from typing import Union

from yt8m import features

FAMILIES = ('logistic', 'dbof', 'lstm', 'gru', 'netvlad', 'netfv', 'nextvlad')
PRESET_NAMES = ('seed', 'small', 'tiny')


def _check_choice(field: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f'{field}={value!r}; valid: {", ".join(valid)}')


def rgb_size_for(feature_size: int) -> int:
    """Number of rgb dimensions (first in the frame) of a `feature_size` frame.

    1024 of 1152 on the real data. Smaller frames (tests) keep the same 8:1
    rgb:audio ratio, so the two-stream families still see two streams.
    """
    rgb = feature_size * features.RGB_SIZE // features.FRAME_SIZE
    if not 0 < rgb < feature_size:
        raise ValueError(f'feature_size={feature_size} cannot hold both an rgb '
                         'and an audio part (need at least 2 dimensions).')
    return rgb


@dataclasses.dataclass(frozen=True)
class LogisticConfig:
    """Mean-pooled frames -> one logistic layer: nothing to size."""


@dataclasses.dataclass(frozen=True)
class DBoFConfig:
    """Deep Bag of Frames: per-frame FC to K -> pool -> FC to H -> MoE.

    `assignment='softmax'` is the soft DBoF (frames softly assigned to the K
    clusters instead of relu6 activations); `context_gating` after the FC to
    H is the gated DBoF.
    """
    cluster_size: int
    hidden_size: int
    pooling: str = 'max'
    assignment: str = 'relu6'
    context_gating: bool = True
    num_mixtures: int = 2
    input_batch_norm: bool = True
    # Frames the per-frame FC reads (the seed's `iterations`): drawn at
    # random in training, evenly spaced at prediction (layers.FrameSampler);
    # 0 reads every slot.
    sample_frames: int = 0
    # Dropout on the video vector before the classifier (0: none).
    dropout: float = 0.0

    def __post_init__(self):
        _check_choice('pooling', self.pooling, ('max', 'avg'))
        if self.sample_frames < 0:
            raise ValueError(f'sample_frames={self.sample_frames}; must be >= 0')
        _check_choice('assignment', self.assignment, ('relu6', 'softmax'))


@dataclasses.dataclass(frozen=True)
class RNNConfig:
    """Bidirectional layer (units per direction) then one recurrent layer.

    The seed: bi-LSTM 512+512, then LSTM 1024 (`--lstm_cells=1024`, each
    direction taking half); the GRU family uses the same sizes.
    """
    bidirectional_units: int
    units: int


@dataclasses.dataclass(frozen=True)
class NetVLADConfig:
    """NetVLAD and NetFV: K clusters for rgb, K/2 for audio, FC to H, MoE.

    `hidden_relu=False` is the winners' `--netvlad_relu=False` (FC with bias,
    no BN, no relu6); True gives FC -> BN -> relu6 (LOUPE's default).
    """
    cluster_size: int
    hidden_size: int
    hidden_relu: bool = False
    context_gating: bool = True
    gate_probabilities: bool = False
    num_mixtures: int = 2
    input_batch_norm: bool = True
    # Dropout on the hidden vector before the classifier (0: none).
    dropout: float = 0.0
    # Dropout on the pooled (VLAD/FV) vector before the FC to H (0: none).
    pooled_dropout: float = 0.0
    # Per-frame linear reduction of each stream to at most this many
    # dimensions before pooling (NeXtVLAD's idea in reverse: the pooled
    # width is D x K, so a smaller D buys more clusters; 0: none).
    reduction: int = 0
    # Frames read, as DBoF's `sample_frames` (layers.FrameSampler); 0: all slots.
    sample_frames: int = 0
    # The FC to H starts at N(0, 1/sqrt(K)) as in LOUPE's and the seed's
    # code ('seed'), or Keras' Glorot uniform ('glorot').
    hidden_init: str = 'glorot'

    def __post_init__(self):
        _check_choice('hidden_init', self.hidden_init, ('glorot', 'seed'))
        if self.reduction < 0 or self.sample_frames < 0:
            raise ValueError('reduction and sample_frames must be >= 0')


def reduced_size(config: 'NetVLADConfig', dim: int) -> int:
    """A stream's per-frame width after `config.reduction` (unchanged if not smaller)."""
    return config.reduction if 0 < config.reduction < dim else dim


@dataclasses.dataclass(frozen=True)
class NeXtVLADConfig:
    """NeXtVLAD (Lin et al., 2018): defaults are the paper's single model.

    Audio uses K/2 clusters and G/2 groups, as in Lin et al.'s code.
    """
    cluster_size: int
    hidden_size: int
    expansion: int = 2
    groups: int = 8
    gating_reduction: int = 8
    dropout: float = 0.5
    num_mixtures: int = 2


FamilyConfig = Union[LogisticConfig, DBoFConfig, RNNConfig, NetVLADConfig,
                     NeXtVLADConfig]

# 'small' drops the input batch norm: on CPU one pass over a [32, 300, 1152]
# batch costs as much as the rest of a small model, and Transform already
# standardises every input dimension (trainer/preprocessing.py). 'tiny' switches the optional paths
# on (input BN, probability gating, hidden relu) so the tests cover them.
_RNN = {'seed': RNNConfig(512, 1024), 'small': RNNConfig(32, 64),
        'tiny': RNNConfig(4, 8)}
PRESETS: dict[str, dict[str, FamilyConfig]] = {
    'logistic': {name: LogisticConfig() for name in PRESET_NAMES},
    # Gated DBoF K/H = 4096/1024 (docs/TRAINING.md), max pooling (starter code).
    # The seed's training command read 40 sampled frames per video
    # (`iterations`); so do 'seed' and 'small' (see models/dbof.py). 'small'
    # adds dropout 0.5 before the MoE: on 2340 videos it overfits without
    # (GAP 0.58 -> 0.61 at 900 steps, docs/TRAINING.md).
    'dbof': {'seed': DBoFConfig(4096, 1024, sample_frames=40),
             'small': DBoFConfig(256, 256, input_batch_norm=False, sample_frames=40,
                                 dropout=0.5),
             'tiny': DBoFConfig(8, 8, sample_frames=4)},
    'lstm': _RNN,
    'gru': _RNN,
    # runme.md: --netvlad_cluster_size=256 --netvlad_hidden_size=1024
    # --netvlad_relu=False --gating=True --moe_prob_gating=True.
    # 'small' reads 60 sampled frames (as the seed's DBoF read 40), starts its
    # FC to H as the seed did and drops out half the pooled and the hidden
    # vector: test GAP@20 0.25 -> 0.39 on the default data, at 1.4x the speed
    # (docs/TRAINING.md section 10, results/families_default_data.json).
    'netvlad': {'seed': NetVLADConfig(256, 1024, gate_probabilities=True),
                'small': NetVLADConfig(16, 128, input_batch_norm=False, hidden_init='seed',
                                       dropout=0.5, pooled_dropout=0.5, sample_frames=60),
                'tiny': NetVLADConfig(4, 8, gate_probabilities=True)},
    # K=96, H=1540 (docs/TRAINING.md); NetFV doubles the VLAD width, so 'small'
    # halves K to keep the FC to H the size of NetVLAD's, and takes NetVLAD
    # small's sampling, start and dropout (test GAP@20 0.29 -> 0.48).
    'netfv': {'seed': NetVLADConfig(96, 1540),
              'small': NetVLADConfig(8, 128, input_batch_norm=False, hidden_init='seed',
                                     dropout=0.5, pooled_dropout=0.5, sample_frames=60),
              'tiny': NetVLADConfig(2, 8, hidden_relu=True)},
    # Lin et al. 2018: K=64, expansion 2, 8 groups, H=2048, SE reduction 8,
    # dropout 0.5 on the VLAD vector (~79M parameters with 2 mixtures).
    # 'small' skips the expansion (lambda=1): the per-frame D x lambda*D FC
    # is the bulk of NeXtVLAD's compute.
    'nextvlad': {'seed': NeXtVLADConfig(64, 2048),
                 'small': NeXtVLADConfig(16, 128, expansion=1),
                 'tiny': NeXtVLADConfig(4, 8, groups=2, gating_reduction=2)},
}


def get_preset(family: str, preset: str) -> FamilyConfig:
    """The config of `family` at `preset`; ValueError names the valid ones."""
    _check_choice('family', family, FAMILIES)
    _check_choice('preset', preset, tuple(PRESETS[family]))
    return PRESETS[family][preset]


def frames_drawn(family: str, preset: Union[str, 'FamilyConfig']) -> int:
    """Frames a model draws per video in training (its `sample_frames`), 0 if it reads all slots.

    For such a model the input pipeline makes that draw itself, before the
    transform graph (`trainer.sampling.draw_raw_frames`), instead of
    resampling all 300 slots that the model reads k of.
    """
    return int(getattr(resolve_config(family, preset), 'sample_frames', 0))


def resolve_config(family: str,
                   preset: Union[str, FamilyConfig]) -> FamilyConfig:
    """A preset name or a config instance -> the config, checked for family.

    Config instances let a caller run variants (e.g. a soft DBoF) without
    adding presets.
    """
    if isinstance(preset, str):
        return get_preset(family, preset)
    _check_choice('family', family, FAMILIES)
    expected = type(PRESETS[family]['tiny'])
    if not isinstance(preset, expected):
        raise ValueError(f'{family} takes a {expected.__name__}, got '
                         f'{type(preset).__name__}')
    return preset


# --- closed-form parameter counts -------------------------------------------

def _bn(units: int) -> int:
    return 4 * units      # gamma, beta, moving mean, moving variance


def _gating(units: int) -> int:
    return units * units + _bn(units)


def _moe(hidden: int, classes: int, mixtures: int) -> int:
    return hidden * classes * (2 * mixtures + 1) + classes * mixtures


def _lstm(inputs: int, units: int) -> int:
    return 4 * (inputs * units + units * units + units)


def _gru(inputs: int, units: int) -> int:
    # Keras GRU (reset_after=True, the cuDNN-compatible form): two biases.
    return 3 * (inputs * units + units * units + 2 * units)


def _dbof(c: DBoFConfig, classes: int, size: int) -> int:
    k, h = c.cluster_size, c.hidden_size
    return ((_bn(size) if c.input_batch_norm else 0)
            + size * k + _bn(k) + k * h + _bn(h)
            + (_gating(h) if c.context_gating else 0)
            + _moe(h, classes, c.num_mixtures))


def _rnn(cell, c: RNNConfig, classes: int, size: int) -> int:
    b, u = c.bidirectional_units, c.units
    return 2 * cell(size, b) + cell(2 * b, u) + u * classes + classes


def _vlad_family(c: NetVLADConfig, classes: int, size: int,
                 fisher: bool) -> int:
    # Per stream: assignment FC (D x K) + BN(K) + centres (D x K) and, for
    # NetFV, covariances (D x K); output D*K (VLAD) or 2*D*K (first + second
    # order Fisher statistics).
    weights_per_cell, width = (3, 2) if fisher else (2, 1)
    total, vlad_dim = 0, 0
    rgb = rgb_size_for(size)
    for dim, k in ((rgb, c.cluster_size), (size - rgb, c.cluster_size // 2)):
        reduced = reduced_size(c, dim)
        if reduced != dim:
            total += dim * reduced                 # per-frame reduction FC
            dim = reduced
        total += weights_per_cell * dim * k + _bn(k)
        vlad_dim += width * dim * k
    h = c.hidden_size
    hidden = vlad_dim * h + (_bn(h) if c.hidden_relu else h)
    return ((_bn(size) if c.input_batch_norm else 0) + total + hidden
            + (_gating(h) if c.context_gating else 0)
            + _moe(h, classes, c.num_mixtures)
            + (_gating(classes) if c.gate_probabilities else 0))


def _nextvlad(c: NeXtVLADConfig, classes: int, size: int) -> int:
    total, vlad_dim = 0, 0
    rgb = rgb_size_for(size)
    for dim, k, g in ((rgb, c.cluster_size, c.groups),
                      (size - rgb, c.cluster_size // 2, c.groups // 2)):
        wide = c.expansion * dim
        group_dim = wide // g
        total += (dim * wide + wide            # expansion FC
                  + wide * g + g               # group attention FC
                  + wide * g * k + _bn(g * k)  # assignment FC + BN
                  + group_dim * k              # centres
                  + _bn(group_dim * k))        # BN on the VLAD vector
        vlad_dim += group_dim * k
    h, r = c.hidden_size, c.hidden_size // c.gating_reduction
    return (total + vlad_dim * h + _bn(h)
            + h * r + _bn(r) + r * h           # SE gating
            + _moe(h, classes, c.num_mixtures))


def closed_form_param_count(family: str,
                            preset_config: Union[str, FamilyConfig],
                            num_classes: int = features.NUM_CLASSES,
                            feature_size: int = features.FRAME_SIZE) -> int:
    """Parameters (trainable + non-trainable) of `family`, from the formulas.

    `preset_config` is a preset name or a config instance. Equals
    `registry.build_model(...).count_params()` (tested), without building.
    """
    c = resolve_config(family, preset_config)
    if family == 'logistic':
        return feature_size * num_classes + num_classes
    if family == 'dbof':
        return _dbof(c, num_classes, feature_size)
    if family in ('lstm', 'gru'):
        cell = _lstm if family == 'lstm' else _gru
        return _rnn(cell, c, num_classes, feature_size)
    if family in ('netvlad', 'netfv'):
        return _vlad_family(c, num_classes, feature_size, family == 'netfv')
    return _nextvlad(c, num_classes, feature_size)


def main() -> None:
    """Prints parameters and float32 size (1 MB = 1e6 bytes) per preset."""
    print(f'{"family":<10}{"preset":<8}{"parameters":>14}{"float32 MB":>12}')
    for family in FAMILIES:
        for preset in PRESET_NAMES:
            n = closed_form_param_count(family, preset)
            print(f'{family:<10}{preset:<8}{n:>14,}{4 * n / 1e6:>12.1f}')


if __name__ == '__main__':
    main()
