"""Training configuration: one frozen dataclass, from the flags to the executors.

The pipeline builds one `TrainingConfig` per Trainer and Distiller at compile
time (`pipeline.options.RunOptions.training_config`), so an unknown option, a
family or preset that does not exist, or an empty budget fails before any
component runs, naming the option. It travels as a plain dict (TFX exec
properties must be JSON: `to_custom_config`) and is rebuilt, with the same
checks, by `from_custom_config` in the pod. One name per setting, flag to
executor. TensorFlow-free.

The budget is stated in examples (`train_examples`, i.e. epochs x the
training split's size; the runners convert `--epochs`), never in a bare step
count: the same budget then means the same amount of data at every batch
size. Training stops earlier when the select split's GAP@20 has not improved
for `patience` evaluations, and the best weights are kept.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional

from models import presets

DISTRIBUTIONS = ('', 'mirrored', 'multi_worker')
# Keys of custom_config that are not training options: lineage and cache key.
IDENTITY_KEYS = ('code_fingerprint', 'project_version')

# Learning rates that learned fastest per family on the default data and on
# 2000 videos over all 3862 classes (batch 64, summed loss; see
# docs/TRAINING.md and benchmarks/bench_learning.py).
FAMILY_LEARNING_RATES = {
    'logistic': 1e-2, 'dbof': 3e-3, 'lstm': 1e-3, 'gru': 1e-3,
    # NetVLAD and NetFV small with dropout were still improving at the end of
    # 10 epochs at 1e-3; 1e-2 learned fastest of 1e-3, 3e-3, 6e-3 and 1e-2,
    # and NetVLAD best of 1e-2 ... 1e-1 on select (docs/TRAINING.md 10;
    # benchmarks/results/families_default_data.json, families_learning_rates.json).
    'netvlad': 1e-1, 'netfv': 1e-2, 'nextvlad': 1e-3,
}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    family: str = 'dbof'
    preset: str = 'small'
    batch_size: int = 32
    # None: the family's rate from FAMILY_LEARNING_RATES.
    learning_rate: Optional[float] = None
    # Staircase exponential decay (the seed: x0.8 every 4M examples).
    decay_examples: int = 4_000_000
    decay_rate: float = 0.8
    # Budget: examples to train on (the runners turn --epochs into examples);
    # `budget_steps` is the one place it becomes optimizer steps.
    train_examples: int = 16_000
    # Or the budget in passes over the train split (> 0): the Trainer and the
    # Distiller set `train_examples` from it when they start (`resolve_epochs`),
    # from the train split's records as the ExampleGen's Beam job counted
    # them, so no machine counts the release's 3.9M records before the run.
    epochs: float = 0.0
    # Evaluate GAP@20 on the select split every this many examples (0: every
    # 10% of the budget), over at most `eval_examples` videos.
    eval_every_examples: int = 0
    eval_examples: int = 2048
    # ... and at most this many bytes of cached select batches (1 GiB: about
    # 750 full-length videos as float32 frames), so a Trainer's memory does
    # not grow with the select split.
    eval_cache_bytes: int = 1 << 30
    # Stop once eval GAP@20 has not improved for `patience` evaluations
    # (0: train the whole budget); the best weights are exported either way.
    patience: int = 3
    # EMA weight averaging, as the seed did it: after the main phase, train
    # `ema_steps` more steps at `ema_learning_rate_factor` x the LR while
    # keeping W_ema = (1 - g) W_ema + g W; the averaged weights are exported
    # when their eval GAP@20 is at least the best raw weights'.
    ema_steps: int = 0
    # The learning rate rises linearly from ~0 to its value over the first
    # `warmup_steps` steps (0: no ramp). For a model started from trained
    # weights (a warm student): Adam's first updates move every weight by
    # about the full LR whatever its gradient, which knocks trained weights
    # off their optimum before the second-moment estimates settle.
    warmup_steps: int = 0
    ema_gamma: float = 5e-4
    ema_learning_rate_factor: float = 0.1
    # Output biases start at the class frequencies of this many training
    # videos (models.layers.start_at_label_prior); 0: the generic 3/3862.
    prior_examples: int = 1024
    mixed_precision: bool = False
    jit_compile: bool = False
    # A distribution strategy by name: '' (default), 'mirrored', 'multi_worker'.
    distribution: str = ''
    shuffle_buffer: int = 1024
    # The train split is inflated once and held in memory when its files,
    # inflated, take at most this many bytes (trainer/input_pipeline.py);
    # a larger split streams from storage every epoch. 0: always stream.
    input_cache_bytes: int = 2 * 2 ** 30
    # Out-of-fold teacher copies (yt8m/folds.py): after the main model, train
    # one copy per fold on the other folds, for the Distiller's soft labels.
    # 0 or 1: none (a teacher then scores its own training videos).
    teacher_folds: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.family not in presets.FAMILIES:
            raise ValueError(f'unknown model family {self.family!r}; choose from '
                             f'{", ".join(presets.FAMILIES)}')
        if self.preset not in presets.PRESET_NAMES:
            raise ValueError(f'unknown preset {self.preset!r}; choose from '
                             f'{", ".join(presets.PRESET_NAMES)}')
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f'unknown distribution {self.distribution!r}; use one of '
                             f'{DISTRIBUTIONS}')
        for name in ('train_examples', 'batch_size', 'eval_examples'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.epochs < 0:
            raise ValueError(f'epochs must be >= 0, got {self.epochs}')
        if min(self.patience, self.ema_steps, self.teacher_folds, self.warmup_steps) < 0:
            raise ValueError('patience, ema_steps, teacher_folds and warmup_steps must be >= 0')
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError(f'learning_rate must be > 0, got {self.learning_rate}')

    def resolve_epochs(self, train_records: int) -> 'TrainingConfig':
        """This config with `train_examples` = epochs x `train_records` (unchanged
        without `epochs`)."""
        if not self.epochs:
            return self
        if train_records < 1:
            raise ValueError('the train split holds no records: nothing to train on')
        return dataclasses.replace(self, train_examples=max(1, round(self.epochs * train_records)))

    @property
    def budget_steps(self) -> int:
        """Optimizer steps of the budget: ceil(train_examples / batch_size)."""
        return -(-self.train_examples // self.batch_size)

    @property
    def base_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return FAMILY_LEARNING_RATES.get(self.family, 1e-3)

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Mapping[str, Any]]) -> 'TrainingConfig':
        given = {k: v for k, v in dict(custom_config or {}).items() if k not in IDENTITY_KEYS}
        return cls.with_options(cls(), given)

    @classmethod
    def with_options(cls, base: 'TrainingConfig', options: Mapping[str, Any]) -> 'TrainingConfig':
        """`base` with `options` replaced; an unknown option is named in the error."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f'unknown training options {unknown}; known: {sorted(known)}')
        return dataclasses.replace(base, **options)

    def to_custom_config(self) -> Dict[str, Any]:
        """The JSON-safe dict that Trainer custom_config and Distiller carry."""
        return dataclasses.asdict(self)
