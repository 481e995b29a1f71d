"""The three splits and the rule that assigns a video to one of them.

* `train`: what the models fit.
* `select`: every choice made from data — early stopping and the kept
  checkpoint, EMA-or-best, the ensemble's weights, subset and averaging, the
  Distiller's stopping, the Quantizer's check.
* `test`: what is reported — the Evaluators, the blessing (candidate and
  label prior both on test), the report and the console table. Nothing is
  chosen on it, so its figures are not optimistic.

The release has `train*` and `validate*` files (and unlabelled `test*`
files). `validate` is split into select and test by a stable hash of the
video id; with train files only, all three splits come from the hash. A hash
of the id (not of the file or the record's position) keeps a video in the
same split however the files are named, ordered or re-sharded, and a
re-encoded video keeps its split.

The rule: u = the first 8 bytes of sha256(video id), as an integer / 2**64,
uniform in [0, 1).
* A `validate` video: select if u < select_fraction, else test.
* With train files only: train if u < 1 - holdout_fraction; the held-out
  rest, rescaled to [0, 1), is select below select_fraction, else test.

Pure Python: runs in any Beam worker, and tests and tools share it (the
end-to-end test scores batch predictions of the test videos only).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Tuple

TRAIN, SELECT, TEST = 'train', 'select', 'test'
SPLITS = (TRAIN, SELECT, TEST)
# The release's held-out input split, whose videos go to select and test.
VALIDATE = 'validate'

DEFAULT_SELECT_FRACTION = 0.5
DEFAULT_HOLDOUT_FRACTION = 0.2


def unit_hash(video_id: str) -> float:
    """A video id's stable point in [0, 1)."""
    digest = hashlib.sha256(video_id.encode('utf-8')).digest()
    return int.from_bytes(digest[:8], 'big') / 2.0 ** 64


@dataclasses.dataclass(frozen=True)
class SplitRule:
    """How videos are assigned to train, select and test (see the module docstring)."""
    select_fraction: float = DEFAULT_SELECT_FRACTION
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION

    def __post_init__(self):
        for name in ('select_fraction', 'holdout_fraction'):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f'{name} must be in (0, 1), got {value}')

    def output_splits(self, input_splits: Tuple[str, ...]) -> Tuple[str, ...]:
        """The output split names for the input splits (the others pass through)."""
        if VALIDATE in input_splits or input_splits == (TRAIN,):
            return SPLITS
        return tuple(input_splits)

    def assign(self, video_id: str, input_split: str, has_validate: bool) -> str:
        """The split of one video read from `input_split`."""
        if input_split == VALIDATE:
            return SELECT if unit_hash(video_id) < self.select_fraction else TEST
        if input_split != TRAIN or has_validate:
            return input_split
        u = unit_hash(video_id)
        kept = 1.0 - self.holdout_fraction
        if u < kept:
            return TRAIN
        return SELECT if (u - kept) / self.holdout_fraction < self.select_fraction else TEST

    def describe(self, has_validate: bool) -> str:
        """The rule in one sentence, for lineage and the report."""
        hashed = 'u = first 8 bytes of sha256(video id) / 2^64'
        if has_validate:
            return (f'train* files -> train; validate* files -> select if u < '
                    f'{self.select_fraction:g}, else test ({hashed})')
        return (f'train* files only: train if u < {1 - self.holdout_fraction:g}; '
                f'of the held-out {self.holdout_fraction:g}, select for the first '
                f'{self.select_fraction:g}, else test ({hashed})')

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> 'SplitRule':
        return cls(**json.loads(text))

    def train_share(self, has_validate: bool) -> float:
        """The share of the train* files' videos that the train split keeps."""
        return 1.0 if has_validate else 1.0 - self.holdout_fraction
