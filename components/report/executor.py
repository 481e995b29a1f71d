"""Gathers each member's metrics, size and training time into report.md + PNG."""

from __future__ import annotations

import datetime
import json
import logging
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components import io_utils
from components.report.members import MEMBER_NAMES
from components.yt8m_example_gen.executor import (
    QUARANTINE_DIR, SUMMARY_FILE as BAD_RECORDS_FILE, describe as describe_problem)
from pipeline.metrics import candidate_metrics
from trainer.run_fn import SUMMARY_FILE
from yt8m import features, vocabulary

logger = logging.getLogger(__name__)

METRIC_NAMES = {'gap_at_20': 'GAP@20', 'hit_at_1': 'Hit@1', 'perr': 'PERR'}
SAMPLE_VIDEOS = 5


def _single(input_dict, key):
    artifacts = input_dict.get(key) or []
    return artifacts[0] if artifacts else None


def member_row(name: str, input_dict) -> Dict[str, Any]:
    row: Dict[str, Any] = {'member': name}
    model = _single(input_dict, f'{name}_model')
    if model is not None:
        row['model_dir'] = path_utils.serving_model_path(model.uri)
        row['size_bytes'] = io_utils.tree_bytes(row['model_dir'])
    run = _single(input_dict, f'{name}_model_run')
    if run is not None and tf.io.gfile.exists(os.path.join(run.uri, SUMMARY_FILE)):
        with tf.io.gfile.GFile(os.path.join(run.uri, SUMMARY_FILE)) as f:
            summary = json.load(f)
        row['training_seconds'] = summary.get('training_seconds')
        row['num_parameters'] = summary.get('num_parameters')
        row['curve'] = summary.get('curve') or []
        row['examples_seen'] = row['curve'][-1]['examples'] if row['curve'] else None
        row['stopped_early'] = summary.get('stopped_early')
    evaluation = _single(input_dict, f'{name}_evaluation')
    if evaluation is not None:
        row.update(candidate_metrics(evaluation.uri))
    blessing = _single(input_dict, f'{name}_blessing')
    if blessing is not None:
        row['blessed'] = bool(blessing.get_int_custom_property('blessed'))
    quantized = _single(input_dict, f'{name}_quantized_model')
    quantization_report = os.path.join(quantized.uri, 'quantization_report.json') if quantized else ''
    if quantized is not None and tf.io.gfile.exists(quantization_report):
        row['quantized_bytes'] = io_utils.tree_bytes(path_utils.serving_model_path(quantized.uri))
        with tf.io.gfile.GFile(quantization_report) as f:
            row['quantized_gap'] = json.load(f).get('eval', {}).get('gap_after')
    pushed = _single(input_dict, f'{name}_pushed_model')
    if pushed is not None and pushed.get_int_custom_property('pushed'):
        row['pushed_to'] = pushed.get_string_custom_property('pushed_destination')
    return row


def sample_predictions(model_dir: str, examples_uri: str) -> List[Dict[str, Any]]:
    """Top-3 class names of a few eval videos next to their true labels."""
    records = io_utils.split_records(examples_uri, 'eval', SAMPLE_VIDEOS)
    if not records:
        return []
    names = vocabulary.load_vocabulary()
    outputs = tf.saved_model.load(model_dir).signatures['serving_default'](
        examples=tf.constant(records))
    rows = []
    for record, classes, scores in zip(records, outputs[features.TOP_CLASSES].numpy(),
                                       outputs[features.TOP_SCORES].numpy()):
        example = tf.train.SequenceExample.FromString(record)
        labels = example.context.feature[features.LABELS].int64_list.value
        rows.append({
            'video_id': example.context.feature[features.ID].bytes_list.value[0].decode(),
            'true': [names[i] for i in labels],
            'predicted': [f'{names[c]} ({s:.2f})' for c, s in zip(classes[:3], scores[:3])],
        })
    return rows


def _fmt(value, digits=4):
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    return str(value)


def input_quality(examples_uri: str) -> Optional[dict]:
    """The ExampleGen's record check (bad_records.json), if it wrote one."""
    path = os.path.join(examples_uri, BAD_RECORDS_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        quality = json.load(f)
    quality['quarantine'] = os.path.join(examples_uri, QUARANTINE_DIR)
    return quality


def render_input_quality(quality: Optional[dict], limit: int = 20) -> List[str]:
    if not quality:
        return []
    lines = ['## Input records', '',
             f"{quality['records_read']} records read, {quality['bad_records']} flawed and "
             f"left out, {quality['videos_truncated_to_300_frames']} videos truncated to "
             f'{features.MAX_FRAMES} frames.', '']
    if quality['bad_records']:
        lines += ['| problem | records |', '|---|---|']
        lines += [f'| {kind} | {count} |' for kind, count in sorted(quality['by_kind'].items())]
        lines += ['', f"Quarantined (raw bytes, unchanged): `{quality['quarantine']}`", '']
        lines += [f'- {describe_problem(p)}' for p in quality['listed'][:limit]]
        if len(quality['listed']) > limit:
            lines.append(f"- ... {quality['bad_records'] - limit} more in bad_records.md")
        lines.append('')
    return lines


def render_markdown(rows, samples, sample_model, quality: Optional[dict] = None) -> str:
    lines = ['# YouTube-8M pipeline run report', '',
             f'Generated {datetime.datetime.now().isoformat(timespec="seconds")}.', '',
             '| model | GAP@20 | Hit@1 | PERR | size (MB) | parameters | training (s) '
             '| examples seen | quantized (MB) | GAP quantized | blessed | pushed to |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        size = row.get('size_bytes')
        lines.append('| ' + ' | '.join([
            row['member'], _fmt(row.get('gap_at_20')), _fmt(row.get('hit_at_1')),
            _fmt(row.get('perr')), _fmt(size / 1e6 if size else None, 2),
            _fmt(row.get('num_parameters')), _fmt(row.get('training_seconds'), 1),
            _fmt(row.get('examples_seen')),
            _fmt(row['quantized_bytes'] / 1e6 if row.get('quantized_bytes') else None, 2),
            _fmt(row.get('quantized_gap')), _fmt(row.get('blessed')), row.get('pushed_to') or '-']) + ' |')
    lines += ['', 'The `prior` row is the label prior (training label frequencies given to '
              'every video): a model is blessed only if it beats that row by the margin.',
              '', '![GAP@20 versus model size](gap_vs_size.png)', '',
              '![eval GAP@20 while training](learning_curves.png)', '']
    lines += render_input_quality(quality)
    if samples:
        lines += [f'## Sample predictions ({sample_model}, eval split)', '',
                  '| video | true labels | top-3 predictions |', '|---|---|---|']
        for sample in samples:
            lines.append(f"| {sample['video_id']} | {', '.join(sample['true']) or '-'} | "
                         f"{', '.join(sample['predicted'])} |")
    return '\n'.join(lines) + '\n'


def plot_gap_versus_size(rows, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    points = [(r['size_bytes'] / 1e6, r['gap_at_20'], r['member']) for r in rows
              if r.get('size_bytes') and r.get('gap_at_20') is not None]
    figure, axes = plt.subplots(figsize=(6, 4))
    for size, gap, name in points:
        axes.scatter(size, gap)
        axes.annotate(name, (size, gap), textcoords='offset points', xytext=(4, 4))
    axes.set_xscale('log')
    axes.set_xlabel('size on disk (MB, log scale)')
    axes.set_ylabel('GAP@20 (eval split)')
    axes.set_title('GAP versus model size')
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    with tf.io.gfile.GFile(path, 'wb') as f:
        figure.savefig(f, format='png', dpi=100)
    plt.close(figure)


def plot_learning_curves(rows, path: str) -> None:
    """Eval GAP@20 against examples seen, one line per trained model; the prior dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(6, 4))
    for row in rows:
        curve = row.get('curve') or []
        if curve:
            axes.plot([p['examples'] for p in curve], [p['eval_gap'] for p in curve],
                      marker='.', label=row['member'])
        elif row['member'] == 'prior' and row.get('gap_at_20') is not None:
            axes.axhline(row['gap_at_20'], color='grey', linestyle='--', label='label prior')
    axes.set_xlabel('training examples seen')
    axes.set_ylabel('GAP@20 (eval split)')
    axes.set_title('Learning curves')
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize='small')
    figure.tight_layout()
    with tf.io.gfile.GFile(path, 'wb') as f:
        figure.savefig(f, format='png', dpi=100)
    plt.close(figure)


class Executor(base_executor.BaseExecutor):

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        report = artifact_utils.get_single_instance(output_dict['report'])
        examples = artifact_utils.get_single_instance(input_dict['examples'])
        rows = [member_row(name, input_dict) for name in MEMBER_NAMES
                if _single(input_dict, f'{name}_model') is not None]
        scored = [r for r in rows if r.get('gap_at_20') is not None and r['member'] != 'prior']
        best = max(scored, key=lambda r: r['gap_at_20']) if scored else None
        samples = sample_predictions(best['model_dir'], examples.uri) if best else []
        quality = input_quality(examples.uri)
        tf.io.gfile.makedirs(report.uri)
        with tf.io.gfile.GFile(os.path.join(report.uri, 'report.md'), 'w') as f:
            f.write(render_markdown(rows, samples, best['member'] if best else '', quality))
        with tf.io.gfile.GFile(os.path.join(report.uri, 'report.json'), 'w') as f:
            json.dump({'members': rows, 'samples': samples, 'input_records': quality}, f,
                      indent=1, default=str)
        plot_gap_versus_size(rows, os.path.join(report.uri, 'gap_vs_size.png'))
        plot_learning_curves(rows, os.path.join(report.uri, 'learning_curves.png'))
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
        destination = os.path.join(exec_properties['report_dir'], f'run-{stamp}')
        io_utils.copy_tree(report.uri, destination)
        logger.info('Report written to %s', destination)
        for row in rows:
            logger.info('%s: GAP@20 %s, %s MB', row['member'], _fmt(row.get('gap_at_20')),
                        _fmt(row.get('size_bytes', 0) / 1e6, 2))
