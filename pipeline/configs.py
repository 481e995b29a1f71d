"""Names and defaults of the pipeline, as plain constants (TFX template style)."""

from __future__ import annotations

import hashlib
import os
import pathlib

PIPELINE_NAME = 'yt8m'
PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent

# Families trained by default; every name of models.registry.FAMILIES works.
DEFAULT_FAMILIES = ('dbof', 'netvlad')
DEFAULT_PRESET = 'small'
TRAIN_STEPS = 120
EVAL_STEPS = 5
BATCH_SIZE = 32

# Blessing: an absolute GAP@20 floor, and no regression beyond this much
# against the last pushed model of the same name.
GAP_FLOOR = 0.10
MAX_GAP_REGRESSION = 0.01

# The final artifact: one graph holding every member, under a size budget
# (the 2018 challenge's 1 GB), member weights fitted on the eval split.
SIZE_BUDGET_BYTES = 1_000_000_000
# Members enter the ensemble quantized the seed's way (uint8 + 256 levels per
# variable of >= 17,000 elements); None keeps them float32.
QUANTIZATION_MODE = 'uniform'
ENSEMBLE_WEIGHTING = 'fitted'

# Distillation: one student family per level (the ensemble teaches level 1).
DISTILL_FAMILIES = ('dbof',)
MAX_DISTILL_LEVELS = 3

# Embedded default data (synthetic, exact YouTube-8M format).
DEFAULT_VIDEOS = 1000
DEFAULT_SEED = 8
# Real 2018 label sets restricted to the 100 most frequent classes: 800
# training videos cannot teach 3862 classes (most would have no example),
# and a default run should show models learning. Class ids stay the real ones,
# outputs stay [batch, 3862]; --data-root data uses every class.
DEFAULT_TOP_CLASSES = 100

# Split names: TFX's train/eval; the release calls its eval split "validate".
TRAIN_SPLIT, EVAL_SPLIT = 'train', 'eval'
HASH_SPLIT_EVAL_BUCKETS, HASH_SPLIT_TOTAL_BUCKETS = 1, 10

SCHEMA_FILE = os.path.join(PROJECT_DIR, 'yt8m', 'schema.pbtxt')
# Where the image (Dockerfile) puts the project.
CONTAINER_PROJECT_DIR = '/pipeline'

PREPROCESSING_FN = 'trainer.preprocessing.preprocessing_fn'
RUN_FN = 'trainer.run_fn.run_fn'
METRICS_MODULE = 'pipeline.metrics'


def serving_model_name(family: str) -> str:
    return f'{PIPELINE_NAME}_{family}'


def code_fingerprint() -> str:
    """Hash of the code that Transform and Trainer run.

    User code is referenced by dotted path from the installed package, so TFX
    would not notice an edit; this hash goes into their custom_config and so
    into the cache key, and an edit re-runs them.
    """
    digest = hashlib.sha256()
    for package in ('yt8m', 'trainer', 'models'):
        for path in sorted((PROJECT_DIR / package).rglob('*')):
            if path.suffix in ('.py', '.pbtxt'):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
