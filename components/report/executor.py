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

from components import artifact_files, io_utils
from components.report.members import FINAL_ENSEMBLE, FIRST_ENSEMBLE, MEMBER_NAMES
from components.tfma_metrics import candidate_metrics
from components.yt8m_example_gen.executor import SAMPLE_FILE, SAMPLE_RECORDS, render_unread
from yt8m import features, integrity, splits, vocabulary

logger = logging.getLogger(__name__)

METRIC_NAMES = {'gap_at_20': 'GAP@20', 'hit_at_1': 'Hit@1', 'perr': 'PERR'}


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
    summary = artifact_files.read_json(run.uri, artifact_files.TRAINING_SUMMARY) if run else None
    if summary is not None:
        row['family'] = summary.get('family')
        row['distilled'] = bool(summary.get('distilled'))
        costs = summary.get('distillation_costs') or {}
        if row['distilled']:
            # 'out-of-fold' (no video scored by a teacher that trained on it) or 'in-sample'.
            row['soft_labels'] = costs.get('soft_labels', 'in-sample')
            row['teacher_folds'] = costs.get('teacher_folds', 0)
            started = summary.get('started_from') or 'label prior'
            row['started_from'] = 'label prior' if started == 'label prior' else 'member'
        row['training_seconds'] = summary.get('training_seconds')
        row['num_parameters'] = summary.get('num_parameters')
        row['curve'] = summary.get('curve') or []
        row['examples_seen'] = row['curve'][-1]['examples'] if row['curve'] else None
        row['stopped_early'] = summary.get('stopped_early')
        row['best_step'] = summary.get('best_step')
        row['steps_run'] = summary.get('steps_run')
        row['exported'] = summary.get('exported')
        row['selection_split'] = summary.get('selection_split')
        row['selection_videos'] = summary.get('eval_videos')
    evaluation = _single(input_dict, f'{name}_evaluation')
    if evaluation is not None:
        row.update(candidate_metrics(evaluation.uri))
    blessing = _single(input_dict, f'{name}_blessing')
    if blessing is not None:
        row['blessed'] = bool(blessing.get_int_custom_property('blessed'))
    quantized = _single(input_dict, f'{name}_quantized_model')
    quantization = (artifact_files.read_json(quantized.uri, artifact_files.QUANTIZATION_REPORT)
                    if quantized else None)
    if quantization is not None:
        row['quantized_bytes'] = io_utils.tree_bytes(path_utils.serving_model_path(quantized.uri))
        check = quantization.get(splits.SELECT, {})
        if check.get('gap_after') is not None and check.get('gap_before') is not None:
            row['quantization_gap_change'] = check['gap_after'] - check['gap_before']
            row['quantization_check_videos'] = check.get('num_examples')
    ensemble = (artifact_files.read_json(model.uri, artifact_files.ENSEMBLE_REPORT)
                if model is not None else None)
    if ensemble is not None:
        row['ensemble'] = {key: ensemble.get(key) for key in (
            'chosen_subset', 'dropped', 'weights', 'combination', 'weighting',
            'fitted_on_split', 'fitted_on_videos', 'choice_reason')}
    pushed = _single(input_dict, f'{name}_pushed_model')
    if pushed is not None and pushed.get_int_custom_property('pushed'):
        row['pushed_to'] = pushed.get_string_custom_property('pushed_destination')
    return row


def sample_records(sample_uri: str, limit: int = SAMPLE_RECORDS) -> List[bytes]:
    """The videos YT8MExampleGen set aside for the Report (its `sample` output)."""
    path = os.path.join(sample_uri, SAMPLE_FILE)
    if not tf.io.gfile.exists(path):
        return []
    return [record.numpy() for record in
            tf.data.TFRecordDataset([path], compression_type='GZIP').take(limit)]


def sample_predictions(model_dir: str, records: List[bytes]) -> List[Dict[str, Any]]:
    """Top-3 class names of a few test videos next to their true labels."""
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


def input_quality(sample) -> Optional[dict]:
    """The ExampleGen's record check (bad_records.json), if it wrote one."""
    quality = artifact_files.read_json(sample.uri, artifact_files.BAD_RECORDS)
    if quality is None:
        return None
    examples_uri = sample.get_string_custom_property('examples_uri')
    quality['quarantine'] = os.path.join(examples_uri, artifact_files.QUARANTINE_DIR)
    return quality


def render_input_quality(quality: Optional[dict], limit: int = 20) -> List[str]:
    if not quality:
        return []
    lines = ['## Input records', '',
             f"{quality['records_read']} records read, {quality['bad_records']} flawed or "
             f"repeated and left out ({quality.get('duplicates', 0)} repeat a video id), "
             f"{quality['videos_truncated_to_300_frames']} videos truncated to "
             f'{features.MAX_FRAMES} frames.', '']
    if quality['bad_records']:
        lines += ['| problem | records |', '|---|---|']
        lines += [f'| {kind} | {count} |' for kind, count in sorted(quality['by_kind'].items())]
        lines += ['', f"Quarantined (raw bytes, unchanged): `{quality['quarantine']}`", '']
        lines += [f'- {integrity.describe_listed(p)}' for p in quality['listed'][:limit]]
        if len(quality['listed']) > limit:
            lines.append(f"- ... {quality['bad_records'] - limit} more in bad_records.md")
        lines.append('')
    unread = render_unread(quality.get('unread_files') or [], quality.get('unread_count'))
    if unread:
        lines += [*unread[1:], '']
    return lines


def seed_result(rows) -> Optional[Dict[str, Any]]:
    """The seed's claim on test: the final ensemble against its parts.

    Margins of the final ensemble over the best model trained alone and over
    the first (undistilled) ensemble, and of every student over its family
    trained alone. None when the run built no final ensemble.
    """
    by_name = {row['member']: row for row in rows if row.get('gap_at_20') is not None}
    final = by_name.get(FINAL_ENSEMBLE)
    alone = [row for row in by_name.values()
             if row.get('family') and not row.get('distilled')]
    if final is None or not alone:
        return None
    best = max(alone, key=lambda row: row['gap_at_20'])
    first = by_name.get(FIRST_ENSEMBLE)
    family_gap = {row['family']: row['gap_at_20'] for row in alone}
    students = [{'student': row['member'], 'family': row['family'],
                 'gap_at_20': row['gap_at_20'],
                 'family_alone_gap_at_20': family_gap.get(row['family']),
                 'margin': (row['gap_at_20'] - family_gap[row['family']]
                            if row['family'] in family_gap else None),
                 'soft_labels': row.get('soft_labels'),
                 'started_from': row.get('started_from', 'label prior'),
                 # No step beat the member's weights on select: the student is its member.
                 'kept_start': row.get('started_from') == 'member' and row.get('best_step') == 0}
                for row in by_name.values() if row.get('distilled')]
    return {'final_gap_at_20': final['gap_at_20'],
            'final_members': (final.get('ensemble') or {}).get('chosen_subset'),
            'best_member': best['member'], 'best_member_gap_at_20': best['gap_at_20'],
            'margin_over_best_member': final['gap_at_20'] - best['gap_at_20'],
            'first_ensemble_gap_at_20': first['gap_at_20'] if first else None,
            'margin_over_first_ensemble': (final['gap_at_20'] - first['gap_at_20']
                                           if first else None),
            'students': students}


def render_seed_result(result: Optional[Dict[str, Any]]) -> List[str]:
    if not result:
        return []
    lines = ["## The seed's result (test split)", '',
             f"The final ensemble ({', '.join(result['final_members'] or [])}) scores "
             f"GAP@20 {_fmt(result['final_gap_at_20'])}: "
             f"{result['margin_over_best_member']:+.4f} against the best model trained "
             f"alone ({result['best_member']}, {_fmt(result['best_member_gap_at_20'])})"]
    if result['first_ensemble_gap_at_20'] is not None:
        lines[-1] += (f" and {result['margin_over_first_ensemble']:+.4f} against the first "
                      f"(undistilled) ensemble ({_fmt(result['first_ensemble_gap_at_20'])})")
    lines[-1] += '.'
    if result['students']:
        lines += ['', '| student | family | GAP@20 | family trained alone | margin | soft labels '
                  '| started from |', '|---|---|---|---|---|---|---|']
        for student in result['students']:
            margin = student['margin']
            lines.append(f"| {student['student']} | {student['family']} | "
                         f"{_fmt(student['gap_at_20'])} | "
                         f"{_fmt(student['family_alone_gap_at_20'])} | "
                         f"{'-' if margin is None else f'{margin:+.4f}'} | "
                         f"{student.get('soft_labels') or '-'} | "
                         f"{student_start(student)} |")
    return lines + ['']


def student_start(student: Dict[str, Any]) -> str:
    """Where a student started, and whether it kept that start (then it is its member)."""
    if student.get('kept_start'):
        return "its member's weights, kept: no step beat them on select"
    return "its member's weights" if student.get('started_from') == 'member' else 'label prior'


def split_sizes(quality: Optional[dict]) -> Dict[str, int]:
    return dict((quality or {}).get('good_records') or {})


def render_choices(rows, quality: Optional[dict]) -> List[str]:
    """Which split decided what: every choice made from data read select, never test."""
    sizes = split_sizes(quality)
    lines = ['## Which split decided what', '',
             f"Split rule: {(quality or {}).get('split_rule') or 'the input splits'}.", '',
             '| choice | split | videos read | outcome |', '|---|---|---|---|']
    for row in rows:
        if row.get('selection_split'):
            outcome = (f"kept step {row.get('best_step')} of {row.get('steps_run')}"
                       f"{' (stopped early)' if row.get('stopped_early') else ''}, "
                       f"exported {row.get('exported') or 'best'}")
            lines.append(f"| early stopping, kept checkpoint ({row['member']}) | "
                         f"{row['selection_split']} | {_fmt(row.get('selection_videos'))} | "
                         f'{outcome} |')
        if row.get('quantization_gap_change') is not None:
            lines.append(f"| quantization check ({row['member']}) | {splits.SELECT} | "
                         f"{_fmt(row.get('quantization_check_videos'))} | GAP@20 change "
                         f"{row['quantization_gap_change']:+.4f} |")
        ensemble = row.get('ensemble')
        if ensemble:
            weights = ', '.join(f'{name} {weight:.3f}'
                                for name, weight in (ensemble.get('weights') or {}).items())
            split = ensemble.get('fitted_on_split') or '-'
            videos = _fmt(ensemble.get('fitted_on_videos'))
            lines += [
                f"| ensemble weights ({row['member']}) | {split} | {videos} | "
                f"{ensemble.get('weighting')}: {weights} |",
                f"| ensemble averaging ({row['member']}) | {split} | {videos} | "
                f"{ensemble.get('combination')} |",
                f"| ensemble subset ({row['member']}) | {split} | {videos} | kept "
                f"{', '.join(ensemble.get('chosen_subset') or [])}; dropped "
                f"{', '.join(ensemble.get('dropped') or []) or 'none'} |"]
    lines += [f"| blessing (candidate against the label prior) | {splits.TEST} | "
              f"{_fmt(sizes.get(splits.TEST))} | the blessed column |",
              f"| every figure of the table above | {splits.TEST} | "
              f"{_fmt(sizes.get(splits.TEST))} | nothing is chosen on it |", '']
    return lines


def render_markdown(rows, samples, sample_model, quality: Optional[dict] = None) -> str:
    sizes = split_sizes(quality)
    counted = ', '.join(f'{name} {count}' for name, count in sizes.items())
    lines = ['# YouTube-8M pipeline run report', '',
             f'Generated {datetime.datetime.now().isoformat(timespec="seconds")}.',
             f'Splits (videos): {counted or "-"}.', '',
             f'## Test split ({_fmt(sizes.get(splits.TEST))} videos, which chose nothing)', '',
             '| model | GAP@20 | Hit@1 | PERR | size (MB) | parameters | training (s) '
             '| examples seen | quantized (MB) | blessed | pushed to |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        size = row.get('size_bytes')
        lines.append('| ' + ' | '.join([
            row['member'], _fmt(row.get('gap_at_20')), _fmt(row.get('hit_at_1')),
            _fmt(row.get('perr')), _fmt(size / 1e6 if size else None, 2),
            _fmt(row.get('num_parameters')), _fmt(row.get('training_seconds'), 1),
            _fmt(row.get('examples_seen')),
            _fmt(row['quantized_bytes'] / 1e6 if row.get('quantized_bytes') else None, 2),
            _fmt(row.get('blessed')), row.get('pushed_to') or '-']) + ' |')
    lines += ['', 'The `prior` row is the label prior (training label frequencies given to '
              'every video): a model is blessed only if it beats that row by the margin.',
              '', '![GAP@20 versus model size](gap_vs_size.png)', '',
              '![select GAP@20 while training](learning_curves.png)', '']
    lines += render_seed_result(seed_result(rows))
    lines += render_choices(rows, quality)
    lines += render_input_quality(quality)
    if samples:
        lines += [f'## Sample predictions ({sample_model}, test split)', '',
                  '| video | true labels | top-3 predictions |', '|---|---|---|']
        for sample in samples:
            lines.append(f"| {sample['video_id']} | {', '.join(sample['true']) or '-'} | "
                         f"{', '.join(sample['predicted'])} |")
    return '\n'.join(lines) + '\n'


LABEL_HEIGHT_PX, LABEL_CHAR_PX = 13, 6.5


def spread_labels(anchors, names, height=LABEL_HEIGHT_PX, char_width=LABEL_CHAR_PX):
    """Label offsets (dx, dy in pixels) so that no two labels overlap.

    `anchors` are the points in display pixels. Labels start 4 px up and right
    of their point; a label that would overlap one already placed moves up a
    line until it does not (points of nearly the same size and GAP, such as
    an ensemble and its best member, otherwise print on top of each other).
    """
    placed, offsets = [], [None] * len(names)
    order = sorted(range(len(names)), key=lambda i: (anchors[i][1], anchors[i][0]))
    for i in order:
        x, y = anchors[i]
        width = char_width * len(names[i]) + 2
        dy = 4.0
        while any(abs((x + 4) - px) < max(width, pw) and abs((y + dy) - py) < height
                  for px, py, pw in placed):
            dy += height
        placed.append((x + 4, y + dy, width))
        offsets[i] = (4.0, dy)
    return offsets


def plot_gap_versus_size(rows, path: str) -> None:
    """GAP@20 against size: float32 members filled, the quantized size the
    ensemble holds hollow beside them, labels that do not overlap."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    points = [(r['size_bytes'] / 1e6, r['gap_at_20'], r['member']) for r in rows
              if r.get('size_bytes') and r.get('gap_at_20') is not None]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, (size, gap, name) in enumerate(points):
        color = f'C{index % 10}'
        axes.scatter(size, gap, color=color, label=name)
        row = next(r for r in rows if r['member'] == name)
        if row.get('quantized_bytes'):
            quantized = row['quantized_bytes'] / 1e6
            quantized_gap = gap
            axes.scatter(quantized, quantized_gap, facecolors='none', edgecolors=color)
            axes.plot([quantized, size], [quantized_gap, gap], color=color, linewidth=0.6,
                      alpha=0.6)
    axes.set_xscale('log')
    if points:
        sizes = [p[0] for p in points] + [r['quantized_bytes'] / 1e6 for r in rows
                                          if r.get('quantized_bytes')]
        axes.set_xlim(min(sizes) / 1.5, max(sizes) * 3)
    figure.canvas.draw()
    anchors = [tuple(axes.transData.transform((size, gap))) for size, gap, _ in points]
    for (size, gap, name), offset in zip(points, spread_labels(anchors, [p[2] for p in points])):
        axes.annotate(name, (size, gap), textcoords='offset pixels', xytext=offset,
                      fontsize='small',
                      arrowprops={'arrowstyle': '-', 'alpha': 0.4} if offset[1] > 4 else None)
    if any(r.get('quantized_bytes') for r in rows):
        axes.scatter([], [], facecolors='none', edgecolors='grey',
                     label='quantized, as in the ensemble')
    axes.set_xlabel('size on disk (MB, log scale)')
    axes.set_ylabel('GAP@20 (test split)')
    axes.set_title('GAP versus model size')
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize='x-small', loc='lower right')
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
            line, = axes.plot([p['examples'] for p in curve], [p['eval_gap'] for p in curve],
                              marker='.', label=row['member'])
            kept = [p for p in curve if p.get('step') == row.get('best_step')]
            if kept:   # the weights early stopping kept
                axes.scatter(kept[0]['examples'], kept[0]['eval_gap'], marker='*', s=120,
                             color=line.get_color(), zorder=3)
        elif row['member'] == 'prior' and row.get('gap_at_20') is not None:
            axes.axhline(row['gap_at_20'], color='grey', linestyle='--', label='label prior (test split)')
    axes.scatter([], [], marker='*', s=80, color='grey', label='kept (early stopping)')
    axes.set_xlabel('training examples seen')
    axes.set_ylabel('GAP@20 (select split: early stopping)')
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
        sample = artifact_utils.get_single_instance(input_dict['sample'])
        rows = [member_row(name, input_dict) for name in MEMBER_NAMES
                if _single(input_dict, f'{name}_model') is not None]
        scored = [r for r in rows if r.get('gap_at_20') is not None and r['member'] != 'prior']
        best = max(scored, key=lambda r: r['gap_at_20']) if scored else None
        samples = sample_predictions(best['model_dir'], sample_records(sample.uri)) if best else []
        quality = input_quality(sample)
        tf.io.gfile.makedirs(report.uri)
        with tf.io.gfile.GFile(os.path.join(report.uri, 'report.md'), 'w') as f:
            f.write(render_markdown(rows, samples, best['member'] if best else '', quality))
        with tf.io.gfile.GFile(os.path.join(report.uri, 'report.json'), 'w') as f:
            json.dump({'members': rows, 'seed_result': seed_result(rows), 'samples': samples,
                       'input_records': quality}, f, indent=1, default=str)
        plot_gap_versus_size(rows, os.path.join(report.uri, 'gap_vs_size.png'))
        plot_learning_curves(rows, os.path.join(report.uri, 'learning_curves.png'))
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
        destination = os.path.join(exec_properties['report_dir'], f'run-{stamp}')
        io_utils.copy_tree(report.uri, destination)
        logger.info('Report written to %s', destination)
        for row in rows:
            logger.info('%s: GAP@20 %s, %s MB', row['member'], _fmt(row.get('gap_at_20')),
                        _fmt(row.get('size_bytes', 0) / 1e6, 2))
