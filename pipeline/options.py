"""One typed configuration of a run, shared by both runners.

`local_runner.py` and `kubeflow_runner.py` take the same flags for everything
that shapes the pipeline (models, budget, quantization, ensemble, blessing,
bad-record policy, distribution), parse them into one `RunOptions`, and hand
it to `create_pipeline(paths, options)` with the `PipelinePaths` of where they
run. A setting given to one runner
therefore means the same in the other. Only where things live (paths,
image, metadata store) and the data-size default differ between runners.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from typing import Any, Mapping, Optional, Sequence, Tuple

from models import presets
from pipeline import configs
from trainer.config import DISTRIBUTIONS, TrainingConfig
from yt8m import splits

logger = logging.getLogger(__name__)

QUANTIZATION_CHOICES = ('uniform', 'per_channel', 'kmeans', 'float16', 'none')
BAD_RECORD_POLICIES = ('fail', 'skip')
DUPLICATE_POLICIES = ('fail', 'keep-first')


def _names(text: str) -> Tuple[str, ...]:
    return tuple(name.strip() for name in text.split(',') if name.strip())


@dataclasses.dataclass(frozen=True)
class PipelinePaths:
    """Where a run reads and writes; the runners differ only here (and in the image)."""
    pipeline_root: str
    data_root: str
    serving_model_dir: str
    report_dir: str
    # False: the data root has train files only; select and test are held out
    # of them by a hash of the video id.
    has_validate_files: bool = True
    schema_file: str = configs.SCHEMA_FILE
    # The input files' fingerprint at compile time, for backends whose cache
    # key sees only parameters (open-source KFP); None where a driver
    # fingerprints them at run time (LocalDagRunner, Vertex AI).
    data_fingerprint: Optional[str] = None


def _parse_training_option(text: str) -> Tuple[str, Any]:
    """`key=value` of --training-option; the value as JSON if it parses, else a string."""
    key, sep, value = text.partition('=')
    if not sep or not key.strip():
        raise ValueError(f'--training-option {text!r}: expected KEY=VALUE')
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What the pipeline does, independent of where it runs.

    One name per setting from flag to executor: `--batch-size` is
    `RunOptions.batch_size` is `TrainingConfig.batch_size`. Everything is
    checked when the options are made, before any component runs.
    """
    families: Tuple[str, ...] = configs.DEFAULT_FAMILIES
    preset: str = configs.DEFAULT_PRESET
    # Budget in examples; 0 until a runner resolves it (`with_budget`), from
    # `epochs` over the train split or the default.
    train_examples: int = 0
    epochs: Optional[float] = None
    batch_size: int = configs.BATCH_SIZE
    patience: int = 3
    learning_rate: Optional[float] = None
    ema_steps: int = 0
    distribution: str = ''
    # Any other TrainingConfig field, e.g. {'eval_examples': 4096}.
    training_overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    quantization: str = configs.QUANTIZATION
    size_budget_bytes: int = configs.SIZE_BUDGET_BYTES
    choose_subset: bool = False
    ensemble_weighting: str = configs.ENSEMBLE_WEIGHTING
    distill: Tuple[str, ...] = configs.DISTILL_FAMILIES
    distill_levels: int = configs.DISTILL_LEVELS
    # Fold copies per member for out-of-fold soft labels; 0: the teacher
    # scores the videos it trained on.
    teacher_folds: int = configs.TEACHER_FOLDS
    distill_lambda: float = configs.DISTILL_LAMBDA
    student_start: str = configs.STUDENT_START
    gap_floor: float = configs.GAP_FLOOR
    max_gap_regression: float = configs.MAX_GAP_REGRESSION
    min_gain_over_prior: float = configs.MIN_GAIN_OVER_PRIOR
    bad_records: str = configs.BAD_RECORDS
    max_bad_fraction: float = configs.MAX_BAD_FRACTION
    duplicates: str = configs.DUPLICATES
    # The validate* videos (else the held-out train* videos) that go to select;
    # the rest go to test. holdout_fraction applies to train*-only data roots.
    select_fraction: float = configs.SELECT_FRACTION
    holdout_fraction: float = configs.HOLDOUT_FRACTION

    def __post_init__(self):
        object.__setattr__(self, 'families', tuple(dict.fromkeys(self.families)))
        object.__setattr__(self, 'distill', tuple(self.distill))
        if not self.families:
            raise ValueError('no model families given; choose from '
                             f'{", ".join(presets.FAMILIES)}')
        if self.quantization not in QUANTIZATION_CHOICES:
            raise ValueError(f'quantization must be one of {QUANTIZATION_CHOICES}')
        if self.bad_records not in BAD_RECORD_POLICIES:
            raise ValueError(f'bad_records must be one of {BAD_RECORD_POLICIES}')
        if not 0 <= self.max_bad_fraction <= 1:
            raise ValueError(f'max_bad_fraction must be in [0, 1], got {self.max_bad_fraction}')
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f'duplicates must be one of {DUPLICATE_POLICIES}')
        self.split_rule   # select_fraction and holdout_fraction in (0, 1)
        if self.train_examples < 0:
            raise ValueError(f'train_examples must be >= 0, got {self.train_examples}')
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError(f'epochs must be > 0, got {self.epochs}')
        if not 1 <= self.distill_levels <= configs.MAX_DISTILL_LEVELS:
            raise ValueError(f'distill_levels must be in 1..{configs.MAX_DISTILL_LEVELS}, '
                             f'got {self.distill_levels}')
        if not 0.0 <= self.distill_lambda <= 1.0:
            raise ValueError(f'distill_lambda must be in [0, 1], got {self.distill_lambda}')
        if self.student_start not in configs.STUDENT_STARTS:
            raise ValueError(f'student_start must be one of {configs.STUDENT_STARTS}, '
                             f'got {self.student_start!r}')
        if self.teacher_folds < 0 or self.teacher_folds == 1:
            raise ValueError(f'teacher_folds must be 0 (off) or >= 2, got {self.teacher_folds}')
        students = len(self.distill) * self.distill_levels
        if students > configs.MAX_STUDENTS:
            raise ValueError(f'at most {configs.MAX_STUDENTS} students (--distill families x '
                             f'--distill-levels), got {students}')
        if len(self.families) + students > configs.MAX_ENSEMBLE_MEMBERS:
            raise ValueError(f'the final ensemble can hold {configs.MAX_ENSEMBLE_MEMBERS} '
                             f'models; {len(self.families)} families and {students} '
                             'students are too many')
        fixed = sorted({'family', 'train_examples'} & set(self.training_overrides))
        if fixed:
            raise ValueError(f'training options {fixed} are set by --families/--distill and '
                             'the budget flags, not --training-option')
        # Every Trainer's and Distiller's configuration, built now: an unknown
        # family, preset or training option fails here, naming it.
        for family in (*self.families, *self.distill):
            self.training_config(family)

    def students(self) -> Tuple[Tuple[Tuple[str, str], ...], ...]:
        """Per distillation level, its students as (name, family): student_1, student_2, ..."""
        count = len(self.distill)
        return tuple(tuple((f'student_{level * count + index + 1}', family)
                           for index, family in enumerate(self.distill))
                     for level in range(self.distill_levels if count else 0))

    def ensembles(self) -> Tuple[str, ...]:
        """The ensembles a run builds, first (the teacher) to final (the artifact)."""
        if not self.distill:
            return ('ensemble',)
        levels = range(1, self.distill_levels)
        return ('ensemble', *(f'ensemble_{level}' for level in levels), configs.FINAL_ENSEMBLE)

    def model_names(self) -> Tuple[str, ...]:
        """Every model a run trains or builds, each judged and pushed under its name."""
        students = tuple(name for level in self.students() for name, _ in level)
        return (*self.families, *students, *self.ensembles())

    def training_config(self, family: str, student: bool = False,
                        seed: int = 0) -> TrainingConfig:
        """The one TrainingConfig of `family`'s Trainer (or, `student`, Distiller).

        A member trains fold copies for the teacher when there are students;
        a student trains none (a later level's teacher scores in-sample). A
        student that starts from its member trains at
        `configs.WARM_STUDENT_LR_FACTORS` x its family's LR, unless
        `--learning-rate` sets one for all. `seed`: the random seed of the
        shuffle, the frame draws and dropout; members train with 0, and
        student n with n (the pipeline), never its member's: with the
        member's seed a warm student replays the batches, in order, that its
        member started from (docs/TRAINING.md section 11.2).
        """
        learning_rate = self.learning_rate
        if learning_rate is None and student and self.starts_from_member(family):
            learning_rate = (TrainingConfig(family=family).base_learning_rate
                             * configs.WARM_STUDENT_LR_FACTORS.get(family, 1.0))
        base = TrainingConfig(
            family=family, preset=self.preset, batch_size=self.batch_size,
            learning_rate=learning_rate, patience=self.patience,
            ema_steps=self.ema_steps, distribution=self.distribution,
            teacher_folds=0 if student or not self.distill else self.teacher_folds,
            seed=seed,
            # With epochs, a stand-in until the Trainer counts the split.
            train_examples=self.train_examples or configs.DEFAULT_TRAIN_EXAMPLES,
            epochs=0.0 if self.train_examples else float(self.epochs or 0.0))
        return TrainingConfig.with_options(base, self.training_overrides)

    def starts_from_member(self, student_family: str) -> bool:
        """Whether a student of this family starts from its member's weights."""
        return self.student_start == 'member' and student_family in self.families

    @property
    def split_rule(self) -> splits.SplitRule:
        return splits.SplitRule(select_fraction=self.select_fraction,
                                holdout_fraction=self.holdout_fraction)

    @property
    def quantization_mode(self) -> Optional[str]:
        """The Quantizer's mode, or None when members stay float32."""
        return None if self.quantization == 'none' else self.quantization

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        add = parser.add_argument
        add('--families', default=','.join(configs.DEFAULT_FAMILIES),
            help=f'comma-separated model families ({", ".join(presets.FAMILIES)})')
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
            help="the Trainers' base learning rate (default: the family's)")
        add('--ema-steps', type=int, default=0,
            help='EMA weight-averaging steps after the main training (0: off)')
        add('--distribution', default='', choices=DISTRIBUTIONS,
            help="tf.distribute strategy of the Trainers: '', mirrored (GPUs of one "
                 'machine) or multi_worker (TF_CONFIG)')
        add('--training-option', action='append', default=[], metavar='KEY=VALUE',
            help='any other field of trainer/config.py TrainingConfig, e.g. '
                 'eval_examples=4096 (repeatable; checked before the run starts)')
        add('--quantization', default=configs.QUANTIZATION, choices=QUANTIZATION_CHOICES,
            help='how ensemble members are quantized (none: float32)')
        add('--size-budget-bytes', type=int, default=configs.SIZE_BUDGET_BYTES,
            help='the ensemble graph must be smaller than this on disk')
        add('--choose-subset', action='store_true',
            help='over budget: keep the best subset of members that fits')
        add('--distill', default=','.join(configs.DISTILL_FAMILIES),
            help="the students' families, e.g. 'dbof,netvlad': the first ensemble "
                 "teaches one student of each, and the final ensemble is chosen from "
                 "the members and the students; 'none' to skip")
        add('--distill-levels', type=int, default=configs.DISTILL_LEVELS,
            help='rounds of distillation: round 2 is taught by the ensemble of the '
                 'members and the round-1 students')
        add('--teacher-folds', type=int, default=configs.TEACHER_FOLDS,
            help='out-of-fold soft labels: every member trains this many fold copies and '
                 'each train video is scored by the copies that did not train on it '
                 '(0: the teacher scores its own training videos)')
        add('--distill-lambda', type=float, default=configs.DISTILL_LAMBDA,
            help="the soft labels' weight in a student's target: lambda * teacher + "
                 '(1 - lambda) * labels')
        add('--student-start', default=configs.STUDENT_START, choices=configs.STUDENT_STARTS,
            help="where a student starts: 'member', the weights of its family's member "
                 "of this run (scored on select first, so it never ends below them), "
                 "or 'prior', the label prior as a Trainer starts")
        add('--gap-floor', type=float, default=configs.GAP_FLOOR)
        add('--max-gap-regression', type=float, default=configs.MAX_GAP_REGRESSION,
            help='blessing allows at most this GAP@20 loss against the last pushed model')
        add('--min-gain-over-prior', type=float, default=configs.MIN_GAIN_OVER_PRIOR,
            help="blessing needs GAP@20 >= the label prior's + this")
        add('--bad-records', default=configs.BAD_RECORDS, choices=BAD_RECORD_POLICIES,
            help='flawed input records: fail (stop before training, list them) or skip '
                 '(leave them out, quarantine them)')
        add('--max-bad-fraction', type=float, default=configs.MAX_BAD_FRACTION,
            help='stop anyway when the records left out (flawed, repeated) exceed this '
                 'fraction of all records')
        add('--duplicates', default=configs.DUPLICATES, choices=DUPLICATE_POLICIES,
            help='a video id read twice (in two splits, or twice in one): fail (stop, '
                 'naming both places) or keep-first (quarantine the later copies)')
        add('--select-fraction', type=float, default=configs.SELECT_FRACTION,
            help='share of the validate* videos (by a hash of the video id) in the '
                 'select split, which early stopping and the ensemble fit read; the rest '
                 'are the test split, which every reported figure reads')
        add('--holdout-fraction', type=float, default=configs.HOLDOUT_FRACTION,
            help='with train* files only: the share held out (by the same hash) for '
                 'select and test')

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> 'RunOptions':
        return cls(
            families=_names(args.families), preset=args.preset,
            train_examples=args.train_examples, epochs=args.epochs,
            batch_size=args.batch_size, patience=args.patience,
            learning_rate=args.learning_rate, ema_steps=args.ema_steps,
            distribution=args.distribution,
            training_overrides=dict(_parse_training_option(text)
                                    for text in args.training_option),
            quantization=args.quantization,
            size_budget_bytes=args.size_budget_bytes, choose_subset=args.choose_subset,
            distill=() if args.distill == 'none' else _names(args.distill),
            distill_levels=args.distill_levels, teacher_folds=args.teacher_folds,
            distill_lambda=args.distill_lambda, student_start=args.student_start,
            gap_floor=args.gap_floor, max_gap_regression=args.max_gap_regression,
            min_gain_over_prior=args.min_gain_over_prior,
            bad_records=args.bad_records, max_bad_fraction=args.max_bad_fraction,
            duplicates=args.duplicates, select_fraction=args.select_fraction,
            holdout_fraction=args.holdout_fraction)

    def with_budget(self, default_epochs: Optional[float] = None) -> 'RunOptions':
        """These options with the budget settled (the one place it is set).

        --train-examples wins; else epochs (given, else `default_epochs`),
        which the Trainers and Distillers turn into examples when they start,
        from the train split's records as the ExampleGen counted them (no
        count before the run: the release has 3.9M records); else
        configs.DEFAULT_TRAIN_EXAMPLES.
        """
        if self.train_examples:
            return self
        epochs = self.epochs if self.epochs is not None else default_epochs
        if epochs is None:
            return dataclasses.replace(self, train_examples=configs.DEFAULT_TRAIN_EXAMPLES)
        logger.info('Budget: %g epochs over the train split (counted by the ExampleGen)', epochs)
        return dataclasses.replace(self, epochs=epochs)

    @property
    def has_budget(self) -> bool:
        return bool(self.train_examples or self.epochs)


def split_beam_args(argv: Sequence[str]) -> Tuple[list, list]:
    """(own arguments, Beam arguments after `--`)."""
    argv = list(argv)
    if '--' in argv:
        split = argv.index('--')
        return argv[:split], argv[split + 1:]
    return argv, []
