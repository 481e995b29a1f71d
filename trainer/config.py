"""Training configuration: one frozen dataclass, built from Trainer custom_config.

The pipeline passes a plain dict (TFX exec properties must be JSON); the run_fn
turns it into this dataclass once, so a typo fails loudly at the start.

The budget is stated in examples (`train_examples`, i.e. epochs x the
training split's size; the runners convert `--epochs`), never in a bare step
count: the same budget then means the same amount of data at every batch
size. Training stops earlier when the eval split's GAP@20 has not improved
for `patience` evaluations, and the best weights are kept.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

# Learning rates that learned fastest per family on the default data and on
# 2000 videos over all 3862 classes (batch 64, summed loss; see
# docs/TRAINING.md and benchmarks/bench_learning.py).
FAMILY_LEARNING_RATES = {
    'logistic': 1e-2, 'dbof': 3e-3, 'lstm': 1e-3, 'gru': 1e-3,
    'netvlad': 1e-3, 'netfv': 1e-3, 'nextvlad': 1e-3,
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
    # Budget: examples to train on (0: the Trainer's train_steps x batch).
    train_examples: int = 0
    # Evaluate GAP@20 on the eval split every this many examples (0: every
    # 10% of the budget), over at most `eval_examples` videos.
    eval_every_examples: int = 0
    eval_examples: int = 2048
    # Stop once eval GAP@20 has not improved for `patience` evaluations
    # (0: train the whole budget); the best weights are exported either way.
    patience: int = 3
    # EMA weight averaging, as the seed did it: after the main phase, train
    # `ema_steps` more steps at `ema_learning_rate_factor` x the LR while
    # keeping W_ema = (1 - g) W_ema + g W; the averaged weights are exported
    # when their eval GAP@20 is at least the best raw weights'.
    ema_steps: int = 0
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
    seed: int = 0

    @property
    def base_learning_rate(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return FAMILY_LEARNING_RATES.get(self.family, 1e-3)

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Mapping[str, Any]]) -> 'TrainingConfig':
        known = {field.name for field in dataclasses.fields(cls)}
        given = dict(custom_config or {})
        for key in ('code_fingerprint', 'project_version'):   # lineage and cache key only
            given.pop(key, None)
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f'unknown training options {unknown}; known: {sorted(known)}')
        return cls(**given)
