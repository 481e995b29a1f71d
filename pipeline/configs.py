"""Names and defaults of the pipeline, as plain constants (TFX template style).

Loads no TensorFlow (tested): the runners, the KFP launcher and the container
entrypoint read it before, or without, any model code.
"""

from __future__ import annotations

import hashlib
import os
import pathlib

from components.report.members import FINAL_ENSEMBLE, MAX_STUDENTS
from trainer.config import TrainingConfig
from yt8m import splits

PIPELINE_NAME = 'yt8m'
# The code that runs inside components, which the fingerprint covers. Not
# pipeline/ (the DAG's own definition reaches the cache key through the
# component specs), not tools/ (lineage, batch prediction, the KFP launcher),
# not tests (`*_test.py`, tests/) and not the synthetic data generator.
CODE_PACKAGES = ('yt8m', 'trainer', 'models', 'components')
CODE_EXCLUDED = ('yt8m/synthetic', 'yt8m/data')
PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent

# Families trained by default; every name of models.registry.FAMILIES works.
DEFAULT_FAMILIES = ('dbof', 'netvlad')
DEFAULT_PRESET = TrainingConfig.preset
# Budget: passes over the training split (the runners turn it into examples);
# each Trainer stops earlier when select GAP@20 stalls and keeps its best weights.
EPOCHS = 10.0
BATCH_SIZE = TrainingConfig.batch_size
# The budget when neither --train-examples nor --epochs gives one (Kubeflow; 10
# epochs of the default data's 1600 training videos): TrainingConfig's default.
DEFAULT_TRAIN_EXAMPLES = TrainingConfig.train_examples

# Blessing: beat the label prior (training label frequencies for every video,
# scored on the same test split) by this much GAP@20, stay above an absolute
# floor, and do not regress beyond MAX_GAP_REGRESSION against the last
# pushed model of the same name.
MIN_GAIN_OVER_PRIOR = 0.05
GAP_FLOOR = 0.10
MAX_GAP_REGRESSION = 0.01

# The final artifact: one graph holding every member, under a size budget
# (the 2018 challenge's 1 GB), member weights fitted on the select split.
SIZE_BUDGET_BYTES = 1_000_000_000
# Flawed input records: 'fail' stops before training and lists them; 'skip'
# quarantines them and goes on unless they exceed MAX_BAD_FRACTION of all.
BAD_RECORDS = 'fail'
MAX_BAD_FRACTION = 0.01
# A video id read twice (in two splits, or twice in one): 'fail' stops and
# names both places; 'keep-first' quarantines the later copies.
DUPLICATES = 'fail'
# Members enter the ensemble quantized the seed's way (uint8 + 256 levels per
# variable of >= 17,000 elements); None keeps them float32.
QUANTIZATION = 'uniform'
ENSEMBLE_WEIGHTING = 'fitted'

# Distillation (the seed's recipe): the first ensemble teaches one student
# of each family here; the final ensemble is chosen on select from the
# members and the students. Students of more than one family: cross-family
# distillation did not improve the single model in the seed, but the final
# ensemble. DISTILL_LEVELS > 1 repeats the round with the ensemble of the
# members and the students so far as the teacher.
DISTILL_FAMILIES = ('dbof', 'netvlad')
DISTILL_LEVELS = 1
# The weight of the teacher's soft labels in the student's target
# (lambda * teacher + (1 - lambda) * labels; the seed used 0.5). 0.2 scored
# best on select, for the student and for the pair (member, student), among
# 0, 0.2 and 0.5 with out-of-fold soft labels on the default data
# (benchmarks/bench_distill_lambda.py, results/distill_lambda.json).
DISTILL_LAMBDA = 0.2
# Classes of the teacher's scores kept per train video (TeacherScorer): about
# 96 bytes a video with its id, against 15,448 for all 3862
# (components/distiller/teacher_scores.py).
TEACHER_TOP_K = 20
# Where a student starts: 'member' (the weights of its family's member of
# this run, when there is one) or 'prior' (the label prior, as a Trainer).
# From its member, both students beat their families on test on the default
# data; from the prior, the NetVLAD student did not
# (results/distill_start_dbof.json, distill_start_netvlad.json).
STUDENT_STARTS = ('member', 'prior')
STUDENT_START = 'member'
# A student started from its member trains at this multiple of its family's
# learning rate (1 when not named), chosen on select among 1, 0.3 and 0.1:
# at NetVLAD's full LR (0.1) the first steps knock the member's weights
# down and early stopping kept the start in one default run; DBoF gains
# most at its full LR (results/distill_lr_netvlad.json, distill_lr_dbof.json).
WARM_STUDENT_LR_FACTORS = {'netvlad': 0.3}


def student_seed(name: str) -> int:
    """Student n (`student_<n>`) trains with random seed n; members with 0.

    A warm student with its member's seed replays, in order, the batches and
    frame draws its member started from: in four default runs the DBoF
    student never beat its start that way; with seeds 1 and 2 it did
    (results/distill_seed_dbof.json, docs/TRAINING.md section 11.2).
    """
    return int(name.rsplit('_', 1)[1])
# Out-of-fold soft labels (yt8m/folds.py): each member also trains this many
# fold copies, and a train video is scored by the copies that did not see it.
TEACHER_FOLDS = 2
MAX_DISTILL_LEVELS = 2
# Students the Report has slots for (MAX_STUDENTS); an ensemble holds at
# most 8 models.
MAX_ENSEMBLE_MEMBERS = 8

# Embedded default data (synthetic, exact YouTube-8M format): 2400 videos,
# 1600 train* and 800 validate*, which the hash rule cuts into 390 select and
# 410 test videos: at least 400 test videos keep the reported GAP@20 stable
# to about +-0.01, and 390 select videos are enough to stop early and fit the
# ensemble's weights. No unlabelled test* files (nothing reads them).
DEFAULT_VIDEOS = 2400
DEFAULT_VALIDATE_FRACTION = 1 / 3
DEFAULT_SEED = 8
# Real 2018 label sets restricted to the 100 most frequent classes: 1600
# training videos cannot teach 3862 classes (most would have no example),
# and a default run should show models learning. Class ids stay the real ones,
# outputs stay [batch, 3862]; --data-root data uses every class.
DEFAULT_TOP_CLASSES = 100

# Three splits (yt8m/splits.py): train fits, select chooses (early stopping,
# ensemble weights, subset, averaging, distillation stopping, the Quantizer's
# check), test reports (Evaluators, blessing, report). The release's
# validate* files are cut into select and test by a hash of the video id,
# half and half by default; with train* files only, HOLDOUT_FRACTION of them
# is held out first, by the same hash.
TRAIN_SPLIT, SELECT_SPLIT, TEST_SPLIT = splits.TRAIN, splits.SELECT, splits.TEST
SELECT_FRACTION = splits.DEFAULT_SELECT_FRACTION
HOLDOUT_FRACTION = splits.DEFAULT_HOLDOUT_FRACTION

SCHEMA_FILE = os.path.join(PROJECT_DIR, 'yt8m', 'schema.pbtxt')
# Where the image (Dockerfile) puts the project.
CONTAINER_PROJECT_DIR = '/pipeline'

PREPROCESSING_FN = 'trainer.preprocessing.preprocessing_fn'
RUN_FN = 'trainer.run_fn.run_fn'
METRICS_MODULE = 'components.tfma_metrics'


def serving_model_name(family: str) -> str:
    return f'{PIPELINE_NAME}_{family}'


def fingerprinted_files(project_dir: pathlib.Path = PROJECT_DIR):
    """The files whose bytes make the code fingerprint, in a stable order."""
    for package in CODE_PACKAGES:
        for path in sorted((project_dir / package).rglob('*')):
            relative = path.relative_to(project_dir).as_posix()
            if (path.suffix in ('.py', '.pbtxt') and not path.name.endswith('_test.py')
                    and not relative.startswith(CODE_EXCLUDED)):
                yield path


def code_fingerprint(project_dir: pathlib.Path = PROJECT_DIR) -> str:
    """Hash of the code that runs inside components (see CODE_PACKAGES).

    User code is referenced by dotted path from the installed package, so TFX
    would not notice an edit; this hash goes into the custom_config of
    Transform, the Trainers and the Distillers (so into their cache keys: an
    edit re-runs them) and into ML Metadata, where `tools.lineage` shows it.
    """
    digest = hashlib.sha256()
    for path in fingerprinted_files(project_dir):
        digest.update(path.relative_to(project_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def project_version() -> str:
    from importlib import metadata
    try:
        return metadata.version('yt8m-tfx')
    except metadata.PackageNotFoundError:
        return 'unknown'


def code_identity() -> dict:
    """What a run records about its code: the project version and the code hash."""
    return {'code_fingerprint': code_fingerprint(), 'project_version': project_version()}
