"""One typed configuration of a run, shared by both runners.

`local_runner.py` and `kubeflow_runner.py` take the same flags for everything
that shapes the pipeline (models, budget, quantization, ensemble, blessing,
bad-record policy, distribution), parse them into one `RunOptions`, and hand
`create_pipeline` the same keyword arguments. A setting given to one runner
therefore means the same in the other. Only where things live (paths,
image, metadata store) and the data-size default differ between runners.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Any, Dict, Optional, Sequence, Tuple

from pipeline import configs

logger = logging.getLogger(__name__)

QUANTIZATION_CHOICES = ('uniform', 'per_channel', 'kmeans', 'float16', 'none')
DISTRIBUTIONS = ('', 'mirrored', 'multi_worker')
BAD_RECORD_POLICIES = ('fail', 'skip')


def _names(text: str) -> Tuple[str, ...]:
    return tuple(name.strip() for name in text.split(',') if name.strip())


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What the pipeline does, independent of where it runs."""
    families: Tuple[str, ...] = configs.DEFAULT_FAMILIES
    preset: str = configs.DEFAULT_PRESET
    # Budget: train_examples wins; else epochs over the train split.
    train_examples: int = 0
    epochs: Optional[float] = None
    batch_size: int = configs.BATCH_SIZE
    patience: int = 3
    learning_rate: Optional[float] = None
    ema_steps: int = 0
    distribution: str = ''
    quantization: str = configs.QUANTIZATION_MODE
    size_budget_bytes: int = configs.SIZE_BUDGET_BYTES
    choose_subset: bool = False
    distill: Tuple[str, ...] = configs.DISTILL_FAMILIES
    gap_floor: float = configs.GAP_FLOOR
    min_gain_over_prior: float = configs.MIN_GAIN_OVER_PRIOR
    bad_records: str = configs.BAD_RECORDS
    max_bad_fraction: float = configs.MAX_BAD_FRACTION

    def __post_init__(self):
        if self.quantization not in QUANTIZATION_CHOICES:
            raise ValueError(f'quantization must be one of {QUANTIZATION_CHOICES}')
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f'distribution must be one of {DISTRIBUTIONS}')
        if self.bad_records not in BAD_RECORD_POLICIES:
            raise ValueError(f'bad_records must be one of {BAD_RECORD_POLICIES}')
        if not 0 <= self.max_bad_fraction <= 1:
            raise ValueError(f'max_bad_fraction must be in [0, 1], got {self.max_bad_fraction}')
        if self.batch_size < 1 or self.train_examples < 0:
            raise ValueError('batch_size must be >= 1 and train_examples >= 0')

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add('--families', default=','.join(configs.DEFAULT_FAMILIES),
            help='comma-separated model families')
        add('--preset', default=configs.DEFAULT_PRESET,
            help='model size preset: tiny, small (2 CPU cores) or seed (the 2018 sizes)')
        add('--train-examples', type=int, default=0,
            help='training budget in examples (overrides --epochs)')
        add('--epochs', type=float, default=None,
            help=f'training budget in passes over the train split, counted from the train '
                 f'files (default {configs.EPOCHS:g}); for the full release prefer '
                 '--train-examples')
        add('--batch-size', type=int, default=configs.BATCH_SIZE)
        add('--patience', type=int, default=3,
            help='stop after this many evaluations without a GAP@20 gain (0: off)')
        add('--learning-rate', type=float, default=None,
            help="the Trainers' base learning rate (default: the preset's)")
        add('--ema-steps', type=int, default=0,
            help='EMA weight-averaging steps after the main training (0: off)')
        add('--distribution', default='', choices=DISTRIBUTIONS,
            help="tf.distribute strategy of the Trainers: '', mirrored (GPUs of one "
                 'machine) or multi_worker (TF_CONFIG)')
        add('--quantization', default=configs.QUANTIZATION_MODE, choices=QUANTIZATION_CHOICES,
            help='how ensemble members are quantized (none: float32)')
        add('--size-budget-bytes', type=int, default=configs.SIZE_BUDGET_BYTES,
            help='the ensemble graph must be smaller than this on disk')
        add('--choose-subset', action='store_true',
            help='over budget: keep the best subset of members that fits')
        add('--distill', default=','.join(configs.DISTILL_FAMILIES),
            help="student family per distillation level, e.g. 'dbof,netvlad' "
                 "(the ensemble teaches level 1); 'none' to skip")
        add('--gap-floor', type=float, default=configs.GAP_FLOOR)
        add('--min-gain-over-prior', type=float, default=configs.MIN_GAIN_OVER_PRIOR,
            help="blessing needs GAP@20 >= the label prior's + this")
        add('--bad-records', default=configs.BAD_RECORDS, choices=BAD_RECORD_POLICIES,
            help='flawed input records: fail (stop before training, list them) or skip '
                 '(leave them out, quarantine them)')
        add('--max-bad-fraction', type=float, default=configs.MAX_BAD_FRACTION,
            help='with --bad-records skip, stop anyway above this fraction of records')

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> 'RunOptions':
        return cls(
            families=_names(args.families), preset=args.preset,
            train_examples=args.train_examples, epochs=args.epochs,
            batch_size=args.batch_size, patience=args.patience,
            learning_rate=args.learning_rate, ema_steps=args.ema_steps,
            distribution=args.distribution, quantization=args.quantization,
            size_budget_bytes=args.size_budget_bytes, choose_subset=args.choose_subset,
            distill=() if args.distill == 'none' else _names(args.distill),
            gap_floor=args.gap_floor, min_gain_over_prior=args.min_gain_over_prior,
            bad_records=args.bad_records, max_bad_fraction=args.max_bad_fraction)

    def resolve_train_examples(self, data_root: str, has_validate_files: bool,
                               default_epochs: Optional[float] = None,
                               default_examples: int = 0) -> int:
        """The budget in examples: --train-examples, else epochs x the train split's records.

        Counting reads the train files' records without parsing them (seconds
        for the default data, hours for the full release: give
        --train-examples there).
        """
        if self.train_examples:
            return self.train_examples
        epochs = self.epochs if self.epochs is not None else default_epochs
        if epochs is None:
            return default_examples
        import tensorflow as tf
        from yt8m import reader
        files = reader.list_split_files(data_root, 'train')
        videos = int(tf.data.TFRecordDataset(files).reduce(0, lambda count, _: count + 1))
        if not has_validate_files:   # the hash split keeps 9 of 10 buckets for training
            videos = videos * (configs.HASH_SPLIT_TOTAL_BUCKETS
                               - configs.HASH_SPLIT_EVAL_BUCKETS) // configs.HASH_SPLIT_TOTAL_BUCKETS
        logger.info('Budget: %g epochs x %d training videos', epochs, videos)
        return max(1, int(round(epochs * videos)))

    def pipeline_kwargs(self, train_examples: int) -> Dict[str, Any]:
        """`create_pipeline` keyword arguments (the budget resolved by the runner)."""
        training: Dict[str, Any] = {'preset': self.preset, 'ema_steps': self.ema_steps,
                                    'patience': self.patience}
        if self.distribution:
            training['distribution'] = self.distribution
        if self.learning_rate is not None:
            training['learning_rate'] = self.learning_rate
        return dict(
            families=list(self.families), train_examples=train_examples,
            batch_size=self.batch_size, training_options=training,
            quantization_mode=None if self.quantization == 'none' else self.quantization,
            size_budget_bytes=self.size_budget_bytes, choose_subset=self.choose_subset,
            distill_families=list(self.distill), gap_floor=self.gap_floor,
            min_gain_over_prior=self.min_gain_over_prior, bad_records=self.bad_records,
            max_bad_fraction=self.max_bad_fraction)


def split_beam_args(argv: Sequence[str]) -> Tuple[list, list]:
    """(own arguments, Beam arguments after `--`)."""
    argv = list(argv)
    if '--' in argv:
        split = argv.index('--')
        return argv[:split], argv[split + 1:]
    return argv, []
