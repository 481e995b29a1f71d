"""Training configuration: one frozen dataclass, built from Trainer custom_config.

The pipeline passes a plain dict (TFX exec properties must be JSON); the run_fn
turns it into this dataclass once, so a typo fails loudly at the start.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    family: str = 'dbof'
    preset: str = 'small'
    batch_size: int = 32
    learning_rate: float = 1e-3
    # Staircase exponential decay (the seed: x0.8 every 4M examples).
    decay_examples: int = 4_000_000
    decay_rate: float = 0.8
    # Stop the main phase early once eval loss has not improved for this many
    # evaluations (0: train exactly train_steps).
    converge_patience: int = 0
    # EMA weight averaging, as the seed did it: after the main phase, train
    # `ema_steps` more steps at `ema_learning_rate_factor` x the LR while
    # keeping W_ema = (1 - g) W_ema + g W; export the averaged weights.
    ema_steps: int = 0
    ema_gamma: float = 5e-4
    ema_learning_rate_factor: float = 0.1
    mixed_precision: bool = False
    jit_compile: bool = False
    # A distribution strategy by name: '' (default), 'mirrored', 'multi_worker'.
    distribution: str = ''
    shuffle_buffer: int = 256
    seed: int = 0

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Mapping[str, Any]]) -> 'TrainingConfig':
        known = {field.name for field in dataclasses.fields(cls)}
        given = dict(custom_config or {})
        given.pop('code_fingerprint', None)   # only part of the cache key
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f'unknown training options {unknown}; known: {sorted(known)}')
        return cls(**given)
