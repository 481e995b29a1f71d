"""What a local run prints: the story of the run, not TFX's 25,000 lines.

TFX logs a protobuf dump of every component spec and execution, Beam logs
type-hint notices and batch statistics, TensorFlow logs its start-up. All of
it goes, unchanged, to a log file under the output root (`setup_logging`).
The console gets one line as each component starts and one as it ends, with
its wall time and headline (`headline`), the Trainers' progress lines, and,
at the end, the report's table and the paths a person looks for next.
When the run stops, the last lines name the component and the cause in one
sentence, and the log that keeps the traceback (`failure_message`).

Component starts and ends are TFX 1.16 LocalDagRunner's own log records
("Component %s is running." / "is finished.", and the launcher's "A cached
execution %d is used."), so nothing of TFX is patched.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sys
import threading
import time
from typing import Dict, List, Optional, TextIO

from components import artifact_files

# Loggers whose INFO lines are part of the story: the Trainers' and the
# Distillers' progress, the runner's own lines.
STORY_LOGGERS = ('trainer.monitor', 'trainer.training', 'local_runner', 'yt8m.progress')
_RUNNING = re.compile(r'^Component (\S+) is running\.$')
_FINISHED = re.compile(r'^Component (\S+) is finished\.$')
_CACHED = re.compile(r'^A cached execution \d+ is used\.$')
_QUIET = ('absl', 'apache_beam', 'tensorflow', 'tfx', 'ml_metadata', 'tensorflow_transform',
          'tensorflow_model_analysis', 'tensorflow_data_validation', 'root')
_FORMAT = '%(asctime)s %(levelname).1s %(name)s: %(message)s'
OWN_HANDLER_LOGGERS = ('tensorflow', 'absl')
# Errors of the project's own data checks: already worded for a person
# (YT8MExampleGen's file/record/offset/video lines, ValidationGate's anomalies).
WORDED_ERRORS = ('BadDataError', 'DataValidationError')
MAX_WORDED_LINES = 14


def setup_logging(log_dir: str, verbose: bool = False) -> str:
    """Everything to `<log_dir>/run-<time>.log`; the console only with --verbose.

    Returns the log file's path. Python warnings (Beam's type-hint notices)
    are logged too, so they land in the file rather than on stderr.
    """
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, f'run-{datetime.datetime.now():%Y%m%d-%H%M%S}.log')
    handlers: List[logging.Handler] = [logging.FileHandler(path)]
    if verbose:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(level=logging.INFO, format=_FORMAT, handlers=handlers, force=True)
    # TensorFlow gives its logger a stderr handler of its own when it is
    # imported before logging is set up; its records go to the file instead.
    for name in OWN_HANDLER_LOGGERS:
        named = logging.getLogger(name)
        for handler in list(named.handlers):
            named.removeHandler(handler)
        named.propagate = True
    logging.captureWarnings(True)
    return path


def _human_bytes(value) -> str:
    value = float(value or 0)
    for unit in ('B', 'KB', 'MB', 'GB'):
        if value < 1000 or unit == 'GB':
            return f'{value:.1f} {unit}' if unit != 'B' else f'{int(value)} B'
        value /= 1000
    return f'{value:.1f} GB'


def _prop(artifact, name, default=None):
    for mapping in (artifact.custom_properties, artifact.properties):
        if name in mapping:
            value = mapping[name]
            kind = value.WhichOneof('value')
            return getattr(value, kind) if kind else default
    return default


def headline(kind: str, outputs: Dict[str, list]) -> str:
    """One phrase that says what a finished component produced (from ML Metadata)."""
    first = {key: artifacts[0] for key, artifacts in outputs.items() if artifacts}
    try:
        if kind == 'YT8MExampleGen' and 'examples' in first:
            examples = first['examples']
            text = (f"{_prop(examples, 'records_read', 0):,} records read, "
                    f"{_prop(examples, 'bad_records', 0)} flawed")
            if _prop(examples, 'duplicate_records'):
                text += f" ({_prop(examples, 'duplicate_records')} repeat a video id)"
            sizes = json.loads(_prop(examples, 'split_sizes', '{}') or '{}')
            if sizes:
                text += '; ' + ', '.join(f'{name} {count:,}' for name, count in sizes.items())
            unread = json.loads(_prop(examples, 'unread_files', '[]') or '[]')
            count = _prop(examples, 'unread_count', len(unread))
            if count:
                shown = ', '.join(os.path.basename(path) for path in unread[:3])
                text += (f"; {count} file(s) read by no split: {shown}"
                         + (', ...' if count > 3 else ''))
            return text
        if kind in ('Trainer', 'Distiller') and 'model_run' in first:
            summary = artifact_files.read_json(first['model_run'].uri,
                                               artifact_files.TRAINING_SUMMARY) or {}
            curve = summary.get('curve') or [{}]
            stopped = ', stopped early' if summary.get('stopped_early') else ''
            return (f"best {summary.get('selection_split', 'eval')} GAP@20 "
                    f"{summary.get('best_eval_gap', 0):.4f} after "
                    f"{curve[-1].get('examples', 0):,} examples{stopped}")
        if kind == 'TeacherScorer' and 'teacher_scores' in first:
            costs = artifact_files.read_json(first['teacher_scores'].uri,
                                             artifact_files.TEACHER_SCORES_COSTS) or {}
            folds = costs.get('teacher_folds')
            how = f'out of fold, {folds} fold teachers' if folds else 'in-sample'
            return (f"{costs.get('num_videos', 0):,} train videos scored ({how}), "
                    f"top {costs.get('top_k', 0)}, {_human_bytes(costs.get('store_bytes'))}")
        if kind == 'Evaluator' and 'evaluation' in first:
            from components.tfma_metrics import candidate_metrics
            metrics = candidate_metrics(first['evaluation'].uri)
            text = (f"GAP@20 {metrics.get('gap_at_20', 0):.4f}, "
                    f"Hit@1 {metrics.get('hit_at_1', 0):.4f}")
            if 'blessing' in first:
                text += f", TFMA {'blessed' if _prop(first['blessing'], 'blessed') else 'not blessed'}"
            return text
        if kind == 'BlessingGate' and 'blessing' in first:
            blessing = first['blessing']
            verdict = 'BLESSED' if _prop(blessing, 'blessed') else 'not blessed'
            return f"{verdict}: {_prop(blessing, 'reason', '')}"
        if kind == 'Quantizer' and 'quantized_model' in first:
            report = artifact_files.read_json(first['quantized_model'].uri,
                                              artifact_files.QUANTIZATION_REPORT) or {}
            return (f"{_human_bytes(report.get('saved_model_bytes_before'))} -> "
                    f"{_human_bytes(report.get('saved_model_bytes_after'))} "
                    f"({report.get('num_quantized', 0)} variables quantized)")
        if kind == 'EnsembleBuilder' and 'model' in first:
            model = first['model']
            weights = json.loads(_prop(model, 'ensemble_weights', '{}') or '{}')
            if isinstance(weights, dict):
                weights = ', '.join(f'{name} {weight:.3f}' for name, weight in weights.items())
            return f"weights {weights}; {_human_bytes(_prop(model, 'ensemble_bytes'))}"
        if kind == 'LabelPrior' and 'model' in first:
            return (f"{_prop(first['model'], 'train_videos', 0):,} training videos, "
                    f"{_prop(first['model'], 'classes_present', 0)} classes present")
        if kind == 'Pusher' and 'pushed_model' in first:
            pushed = first['pushed_model']
            return (f"pushed to {_prop(pushed, 'pushed_destination')}"
                    if _prop(pushed, 'pushed') else 'not pushed (not blessed)')
        if kind == 'BaselineLookup' and 'baseline_model' in first:
            return f"baseline {_prop(first['baseline_model'], 'baseline_source', '?')}"
        if kind == 'Report' and 'report' in first:
            return f"written to {first['report'].uri}"
    except Exception as err:   # a headline must never fail the run
        return f'(no headline: {type(err).__name__})'
    return ''


class RunConsole(logging.Handler):
    """Prints the run's story from the log records that every logger emits.

    A component that prints nothing for `heartbeat_seconds` (StatisticsGen,
    Transform and the Evaluators, whose Beam jobs are TFX's own) gets a
    "still running" line, so a long step never looks stuck.
    """

    def __init__(self, metadata_path: str, pipeline_name: str, total: int,
                 stream: Optional[TextIO] = None, heartbeat_seconds: float = 30.0):
        super().__init__(level=logging.INFO)
        self.heartbeat_seconds = heartbeat_seconds
        self.last_said = time.time()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, daemon=True)
        self._heartbeat.start()
        self.metadata_path = metadata_path
        self.pipeline_name = pipeline_name
        self.total = total
        self.stream = stream or sys.stdout
        self.current: Optional[str] = None
        self.started = 0.0
        self.cached = False
        self.done = 0
        self.lines = 0

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        self.lines += 1
        self.last_said = time.time()

    def _beat(self) -> None:
        while not self._stop.wait(min(5.0, self.heartbeat_seconds / 2)):
            node = self.current
            if node and time.time() - self.last_said >= self.heartbeat_seconds:
                self.say(f'        {node} still running ({time.time() - self.started:.0f} s)')

    def close(self) -> None:
        self._stop.set()
        super().close()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:   # a malformed record is the file's business
            return
        running, finished = _RUNNING.match(message), _FINISHED.match(message)
        if running:
            self.current, self.started, self.cached = running.group(1), time.time(), False
            self.say(f'[{self.done + 1:2d}/{self.total}] {self.current} ...')
        elif finished:
            self.done += 1
            node = finished.group(1)
            seconds = time.time() - self.started
            state = 'cached' if self.cached else f'{seconds:6.1f} s'
            text = headline(node.split('-')[0], self._outputs(node))
            self.say(f'        {node} {state}' + (f': {text}' if text else ''))
            self.current = None
        elif _CACHED.match(message):
            self.cached = True
        elif record.name.startswith(STORY_LOGGERS) and record.levelno >= logging.INFO:
            self.say(f'        {message}')
        elif record.levelno >= logging.ERROR and not record.name.startswith(_QUIET):
            self.say(f'        {record.levelname}: {message.splitlines()[0]}')

    def _outputs(self, node: str) -> Dict[str, list]:
        """The node's newest execution's output artifacts, by output key."""
        try:
            from ml_metadata import metadata_store
            from ml_metadata.proto import metadata_store_pb2
            config = metadata_store_pb2.ConnectionConfig()
            config.sqlite.filename_uri = self.metadata_path
            config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
            store = metadata_store.MetadataStore(config)
            context = store.get_context_by_type_and_name('node', f'{self.pipeline_name}.{node}')
            if context is None:
                return {}
            executions = store.get_executions_by_context(context.id)
            if not executions:
                return {}
            newest = max(executions, key=lambda e: e.id)
            outputs: Dict[str, list] = {}
            events = [e for e in store.get_events_by_execution_ids([newest.id])
                      if e.type in (metadata_store_pb2.Event.OUTPUT,
                                    metadata_store_pb2.Event.DECLARED_OUTPUT)]
            artifacts = {a.id: a for a in store.get_artifacts_by_id(
                [e.artifact_id for e in events])}
            for event in events:
                key = event.path.steps[0].key if event.path.steps else ''
                outputs.setdefault(key, []).append(artifacts[event.artifact_id])
            return outputs
        except Exception:
            return {}


def report_title(report_json: dict) -> str:
    """Which videos the report's figures come from."""
    sizes = (report_json.get('input_records') or {}).get('good_records') or {}
    return f"On the test split ({sizes.get('test', '?')} videos, which chose nothing):"


def report_table(report_json: dict) -> List[str]:
    """The report's members as a small text table."""
    rows = report_json.get('members', [])
    lines = [f"{'model':12s} {'GAP@20':>7s} {'Hit@1':>6s} {'size':>9s}  blessed  pushed"]
    for row in rows:
        gap, hit = row.get('gap_at_20'), row.get('hit_at_1')
        blessed = row.get('blessed')
        gap_text = '-' if gap is None else f'{gap:.4f}'
        hit_text = '-' if hit is None else f'{hit:.3f}'
        blessed_text = '-' if blessed is None else ('yes' if blessed else 'no')
        lines.append(f"{row['member']:12s} {gap_text:>7s} {hit_text:>6s} "
                     f"{_human_bytes(row.get('size_bytes')):>9s}  {blessed_text:7s}  "
                     f"{'yes' if row.get('pushed_to') else '-'}")
    return lines


def seed_result_lines(report_json: dict) -> List[str]:
    """The final ensemble against the best single model and the first ensemble."""
    result = report_json.get('seed_result')
    if not result:
        return []
    lines = [f"final ensemble {result['margin_over_best_member']:+.4f} GAP@20 over the best "
             f"single model ({result['best_member']})"]
    if result.get('margin_over_first_ensemble') is not None:
        lines[0] += f", {result['margin_over_first_ensemble']:+.4f} over the first ensemble"
    for student in result.get('students') or []:
        if student.get('margin') is not None:
            lines.append(f"{student['student']} ({student['family']}) {student['margin']:+.4f} "
                         f"over {student['family']} trained alone"
                         + (" (kept its member's weights: no step beat them on select)"
                            if student.get('kept_start') else ''))
    return lines


def failure_message(node: Optional[str], error: BaseException, batch_size: int,
                    preset: str) -> str:
    """The cause of a failed run in one sentence, named after its component."""
    where = f'{node} failed' if node else 'The run failed'
    name = type(error).__name__
    text = str(error).strip()
    if name in ('ResourceExhaustedError', 'MemoryError') or 'OOM when allocating' in text:
        return (f'{where}: out of memory; lower --batch-size (now {batch_size}) or choose a '
                f'smaller --preset (now {preset}).')
    lines = text.splitlines() or [name]
    if name in WORDED_ERRORS:   # their own message names file, record and video
        return f'{where}: ' + '\n'.join(lines[:MAX_WORDED_LINES])
    return f'{where}: {lines[0]}' + ('' if lines[0].endswith('.') else '.')
