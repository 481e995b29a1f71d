"""The files the components write inside their artifacts: one name each, one reader.

Writers and readers of the same file import its name from here, so a rename
cannot leave a reader looking for the old one (the Report reads what the
ExampleGen, the Trainers, the Quantizers and the Distillers write). Loads no
TensorFlow at import; the helpers use tf.io.gfile, so every path may be local,
gs:// or any other TensorFlow filesystem.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

# In a Trainer's or Distiller's `model_run`: budget, learning curve, best step.
TRAINING_SUMMARY = 'training_summary.json'
# In the Examples: the record check's counts and first problems, and its
# Markdown form; flawed records are copied under QUARANTINE_DIR.
BAD_RECORDS = 'bad_records.json'
BAD_RECORDS_MARKDOWN = 'bad_records.md'
QUARANTINE_DIR = 'Quarantine'
# In a Quantizer's `quantized_model`: bytes and error per variable, GAP before/after.
QUANTIZATION_REPORT = 'quantization_report.json'
# In the EnsembleBuilder's `model`: members, weights, sizes, the budget check.
ENSEMBLE_REPORT = 'ensemble_report.json'
# In a TeacherScorer's `teacher_scores`: what scoring the teacher cost (each
# student's training summary copies it).
TEACHER_SCORES_COSTS = 'teacher_scores_costs.json'
# In the LabelPrior's `model`: what the prior was counted from.
LABEL_PRIOR = 'label_prior.json'


def write_json(folder: str, name: str, payload: Any) -> str:
    """Writes `payload` as `<folder>/<name>` (creating the folder); returns the path."""
    import tensorflow as tf
    tf.io.gfile.makedirs(folder)
    path = os.path.join(folder, name)
    with tf.io.gfile.GFile(path, 'w') as f:
        json.dump(payload, f, indent=1, default=float)
    return path


def split_records(examples_uri: str, split: str) -> int:
    """Records of one split of a YT8MExampleGen's Examples, as its Beam job counted them."""
    summary = read_json(examples_uri, BAD_RECORDS) or {}
    counts = summary.get('good_records') or {}
    if split not in counts:
        raise ValueError(f'{examples_uri}: no record count of split {split!r} in '
                         f'{BAD_RECORDS} (Examples not written by YT8MExampleGen?)')
    return int(counts[split])


def read_json(folder: str, name: str) -> Optional[Any]:
    """`<folder>/<name>` parsed, or None when the artifact holds no such file."""
    import tensorflow as tf
    path = os.path.join(folder, name)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
