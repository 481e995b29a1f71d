"""The whole DAG on a tiny dataset with the real components (no mocks).

Runs YT8MExampleGen -> ... -> BlessingGate -> Pusher -> Report through
`local_runner.main` (LocalDagRunner, a SQLite ML Metadata store), twice (the
second run must come from the cache), then checks its console and every model against the Evaluator's own
figure and every push against the label-prior rule. The data is small but
clearly learnable (5 classes), so that blessing has something to decide:
a model is pushed exactly when it beats the label prior by the margin.
"""

import contextlib
import glob
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import local_runner
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.blessing_gate import executor as gate_executor
from components.ensemble import weight_search
from components.validation_gate.executor import DataValidationError
from components.tfma_metrics import candidate_metrics
from pipeline import configs
from tools import batch_predict, lineage
from pipeline.options import PipelinePaths, RunOptions
from pipeline.pipeline import create_pipeline, node_id
from components.yt8m_example_gen.executor import BadDataError
from tests.records import make_record, write_flawed_shards, write_records
from yt8m import eval_util, features, folds, reader, splits, synthetic

FAMILY = 'dbof'
# Two families train at the tiny preset inside the one DAG: an order-free one
# with frame sampling (DBoF) and a VLAD one (NetFV). Every family is built,
# trained and exported in tests/test_models.py, and the recurrent ones are
# quantized in benchmarks/bench_quantizer.py and bench_final_artifact.py; a
# GRU here cost ~115 s of Trainer, Quantizer and Evaluator on 2 cores.
FAMILIES = ('dbof', 'netfv')
MODELS = FAMILIES + ('ensemble', 'student_1', 'final')
MIN_GAIN = 0.02
# local_runner's layout under --output-root.
ROOT, METADATA = 'pipeline_root', os.path.join('metadata', 'metadata.db')
# The shared run, as a person would start it.
FLAGS = ['--families', ','.join(FAMILIES), '--train-examples', '400', '--batch-size', '16',
         '--preset', 'tiny', '--learning-rate', '0.01',
         '--training-option', 'prior_examples=128', '--training-option', 'eval_every_examples=200',
         '--gap-floor', '0', '--max-gap-regression', '1', '--min-gain-over-prior', str(MIN_GAIN),
         '--distill', 'dbof', '--bad-records', 'skip', '--max-bad-fraction', '0.1']
CONSOLE_LINE_BUDGET = 200


def _pipeline(tmp, data_root, families=FAMILIES, bad_records='skip'):
    paths = PipelinePaths(
        pipeline_root=str(tmp / ROOT), data_root=str(data_root),
        serving_model_dir=str(tmp / 'serving_model'), report_dir=str(tmp / 'report'))
    options = RunOptions(
        families=families, train_examples=400, batch_size=16, preset='tiny',
        learning_rate=0.01,
        training_overrides={'prior_examples': 128, 'eval_every_examples': 200},
        gap_floor=0.0, max_gap_regression=1.0, min_gain_over_prior=MIN_GAIN,
        distill=('dbof',) if len(families) > 1 else (),
        bad_records=bad_records, max_bad_fraction=0.1)
    return create_pipeline(
        paths, options,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(tmp / METADATA)),
        beam_pipeline_args=['--direct_num_workers=1'])


def _executions_of_latest_run(store):
    runs = store.get_contexts_by_type('pipeline_run')
    latest = max(runs, key=lambda c: c.create_time_since_epoch)
    return store.get_executions_by_context(latest.id)


@pytest.fixture(scope='module')
def pipeline_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('e2e')
    data_root = tmp / 'data'
    # 70 train, 56 validate (28 select, 28 test by the hash rule), 14 unlabelled test.
    synthetic.generate(str(data_root), num_videos=140, seed=3, top_classes=5,
                       validate_fraction=0.4)
    # Flawed train shards: with --bad-records skip the run goes on without them.
    write_flawed_shards(data_root)
    assert _run_local(tmp, data_root)[0] == 0
    return tmp, data_root


def _run_local(tmp, data_root):
    """local_runner.main with the shared flags; (exit code, console text)."""
    console = io.StringIO()
    with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
        code = local_runner.main([*FLAGS, '--data-root', str(data_root),
                                  '--output-root', str(tmp)])
    (tmp / f'console-{len(glob.glob(str(tmp / "console-*")))}.txt').write_text(console.getvalue())
    return code, console.getvalue()


def _model_dir(tmp, name):
    producer = {'ensemble': 'EnsembleBuilder', 'final': 'EnsembleBuilder-final',
                'student_1': 'Distiller-student-1',
                'prior': 'LabelPrior'}.get(name, node_id('Trainer', name))
    (path,) = glob.glob(str(tmp / ROOT / producer / 'model' / '*' / 'Format-Serving'))
    return path


def _in_test(video_id) -> bool:
    """The pipeline's own rule: is this validate* video in the test split?"""
    video_id = video_id.decode() if isinstance(video_id, bytes) else video_id
    return splits.SplitRule().assign(video_id, splits.VALIDATE, has_validate=True) == splits.TEST


def _gap(tmp, name):
    (evaluation,) = glob.glob(str(tmp / ROOT / node_id('Evaluator', name) / 'evaluation' / '*'))
    return candidate_metrics(evaluation)['gap_at_20']


@pytest.mark.parametrize('family', MODELS)
def test_every_model_scores_raw_records(pipeline_run, family):
    tmp, data_root = pipeline_run
    served = tf.saved_model.load(_model_dir(tmp, family)).signatures['serving_default']
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(glob.glob(str(data_root / 'validate*.tfrecord'))))]
    outputs = served(examples=tf.constant(records))
    probabilities = outputs[features.PROBABILITIES].numpy()
    assert probabilities.shape == (len(records), features.NUM_CLASSES)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert outputs[features.TOP_CLASSES].shape == (len(records), features.TOP_K)
    # The test split (no labels) is served the same way.
    test_records = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(glob.glob(str(data_root / 'test*.tfrecord'))))]
    assert served(examples=tf.constant(test_records))[features.PROBABILITIES].shape[0] == len(
        test_records)


def test_pushed_exactly_when_the_label_prior_is_beaten(pipeline_run):
    tmp, _ = pipeline_run
    prior_gap = _gap(tmp, 'prior')
    pushed = {}
    for name in MODELS:
        versions = glob.glob(str(tmp / 'serving_model' / configs.serving_model_name(name) / '*'))
        pushed[name] = bool(versions)
        assert pushed[name] == (_gap(tmp, name) >= prior_gap + MIN_GAIN), name
    # The data is learnable: the ensemble and its best member learn it (which
    # member that is varies from run to run at this tiny budget: the Beam job
    # writes the examples in a different order each time).
    assert pushed['ensemble'] and any(pushed[family] for family in FAMILIES), pushed
    # The prior itself is never a push candidate.
    assert not glob.glob(str(tmp / 'serving_model' / '*prior*'))


def test_a_prior_only_model_is_not_blessed(pipeline_run, tmp_path):
    """The gate's executor, given the prior's own evaluation as the candidate."""
    from tfx.types import standard_artifacts
    tmp, _ = pipeline_run
    (prior_eval,) = glob.glob(str(tmp / ROOT / 'Evaluator-prior' / 'evaluation' / '*'))
    evaluation, tfma_blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    prior_evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    evaluation.uri = prior_evaluation.uri = prior_eval
    tfma_blessing.uri, blessing.uri = str(tmp_path / 'tfma'), str(tmp_path / 'gate')
    tfma_blessing.set_int_custom_property('blessed', 1)    # the Evaluator's thresholds passed
    gate_executor.Executor().Do(
        {'evaluation': [evaluation], 'tfma_blessing': [tfma_blessing],
         'prior_evaluation': [prior_evaluation]}, {'blessing': [blessing]},
        {'min_gain_over_prior': MIN_GAIN})
    assert blessing.get_int_custom_property('blessed') == 0
    assert os.path.exists(tmp_path / 'gate' / 'NOT_BLESSED')
    assert 'does not beat the label prior' in blessing.get_string_custom_property('reason')


def test_evaluator_gap_equals_gap_of_the_model(pipeline_run):
    tmp, data_root = pipeline_run
    (evaluation,) = glob.glob(str(tmp / ROOT / node_id('Evaluator', FAMILY) / 'evaluation' / '*'))
    recorded = candidate_metrics(evaluation)
    served = tf.saved_model.load(_model_dir(tmp, FAMILY)).signatures['serving_default']
    predictions, labels = [], []
    for path in sorted(glob.glob(str(data_root / 'validate*.tfrecord'))):
        for record in tf.data.TFRecordDataset(path):
            example = tf.train.SequenceExample.FromString(record.numpy())
            if not _in_test(example.context.feature['id'].bytes_list.value[0]):
                continue   # a select video: it chose the checkpoint, it reports nothing
            predictions.append(served(examples=record[tf.newaxis])[features.PROBABILITIES][0])
            example = tf.train.SequenceExample.FromString(record.numpy())
            multi_hot = np.zeros(features.NUM_CLASSES)
            multi_hot[list(example.context.feature['labels'].int64_list.value)] = 1
            labels.append(multi_hot)
    independent = eval_util.gap_at_k(np.array(predictions), np.array(labels))
    assert recorded['gap_at_20'] == pytest.approx(independent, abs=1e-5)
    assert recorded['example_count'] == len(labels)
    assert 0 <= recorded['hit_at_1'] <= 1 and 0 <= recorded['perr'] <= 1


@pytest.mark.parametrize('name,builder,members', [
    ('ensemble', 'EnsembleBuilder', FAMILIES),
    # The seed's final artifact: chosen from the members and the student.
    ('final', 'EnsembleBuilder-final', FAMILIES + ('student_1',))])
def test_each_ensemble_holds_its_members_and_averages_them(pipeline_run, name, builder,
                                                           members):
    tmp, data_root = pipeline_run
    (ensemble_dir,) = glob.glob(str(tmp / ROOT / builder / 'model' / '*'))
    report = json.load(open(os.path.join(ensemble_dir, 'ensemble_report.json')))
    assert [member['name'] for member in report['members']] == list(members)
    weights = report['weights']
    assert set(weights) == set(report['chosen_subset']) <= set(members)
    assert sum(weights.values()) == pytest.approx(1.0)
    records = tf.constant([r.numpy() for r in tf.data.TFRecordDataset(
        sorted(glob.glob(str(data_root / 'validate*.tfrecord'))))])
    ensemble = tf.saved_model.load(_model_dir(tmp, name)).signatures['serving_default'](
        examples=records)
    outputs = []
    for member in weights:
        # Members (students too) enter the ensemble quantized.
        (member_dir,) = glob.glob(str(tmp / ROOT / node_id('Quantizer', member)
                                      / 'quantized_model' / '*' / 'Format-Serving'))
        member_out = tf.saved_model.load(member_dir).signatures['serving_default'](
            examples=records)
        outputs.append(member_out[features.PROBABILITIES].numpy())
    # The weighted mean of probabilities or of logits, whichever the fit kept.
    expected = weight_search.combine(outputs, list(weights.values()), report['combination'])
    np.testing.assert_allclose(ensemble[features.PROBABILITIES].numpy(), expected, atol=1e-5)


def test_the_student_learns_from_out_of_fold_soft_labels(pipeline_run):
    """Each member trained fold copies, the teacher has one ensemble per fold, the
    TeacherScorer scored with them, and no fold copy was pushed."""
    tmp, _ = pipeline_run
    (scores,) = glob.glob(str(tmp / ROOT / 'TeacherScorer-ensemble' / 'teacher_scores' / '*'))
    costs = json.load(open(os.path.join(scores, 'teacher_scores_costs.json')))
    assert costs['soft_labels'] == 'out-of-fold' and costs['teacher_folds'] == 2
    (teacher,) = glob.glob(str(tmp / ROOT / 'EnsembleBuilder' / 'model' / '*'))
    assert len(folds.fold_model_dirs(teacher)) == 2
    for family in FAMILIES:
        (model,) = glob.glob(str(tmp / ROOT / node_id('Trainer', family) / 'model' / '*'))
        assert len(folds.fold_model_dirs(model)) == 2
    pushed = glob.glob(str(tmp / 'serving_model' / '**' / folds.FOLDS_DIR), recursive=True)
    assert not pushed


def test_submission_of_the_pushed_ensemble_scores_the_evaluators_gap(pipeline_run):
    """Batch prediction with the final artifact, in the Kaggle format, scored."""
    tmp, data_root = pipeline_run
    output = str(tmp / 'submission.csv')
    batch_predict.predict(str(data_root / 'validate*.tfrecord'),
                          str(tmp / 'serving_model' / configs.serving_model_name('final')),
                          output, batch_size=16)
    rows = batch_predict.read_submission(output)
    videos = [video for path in sorted(glob.glob(str(data_root / 'validate*.tfrecord')))
              for video in reader.read_videos(path)]
    assert len(rows) == len(videos)
    videos = [video for video in videos if _in_test(video[features.VIDEO_ID])]
    predictions = np.zeros((len(videos), features.NUM_CLASSES))
    for row, video in enumerate(videos):
        classes, scores = rows[video[features.VIDEO_ID].decode()]
        assert len(classes) == features.TOP_K and np.all(np.diff(scores) <= 0)
        predictions[row, classes] = scores
    labels = np.stack([video[features.LABELS_MULTI_HOT] for video in videos])
    assert eval_util.gap_at_k(predictions, labels) == pytest.approx(_gap(tmp, 'final'),
                                                                   abs=1e-4)


def test_report_and_lineage(pipeline_run, capsys):
    tmp, data_root = pipeline_run
    (run_dir,) = glob.glob(str(tmp / 'report' / 'run-*'))
    text = open(os.path.join(run_dir, 'report.md')).read()
    assert f'| {FAMILY} |' in text and '| prior |' in text and 'Sample predictions' in text
    # Headed with the split that chose nothing, and which split decided what.
    assert '## Test split (28 videos, which chose nothing)' in text
    assert f'| early stopping, kept checkpoint ({FAMILY}) | select | 28 |' in text
    assert '| early stopping, kept checkpoint (student_1) | select | 28 |' in text
    assert '| ensemble weights (ensemble) | select | 28 |' in text
    assert '| ensemble averaging (ensemble) | select |' in text
    assert '| ensemble weights (final) | select | 28 |' in text
    # The seed's result: the final ensemble against its parts, on test.
    result = json.load(open(os.path.join(run_dir, 'report.json')))['seed_result']
    assert result['final_gap_at_20'] == pytest.approx(_gap(tmp, 'final'))
    best = max(FAMILIES, key=lambda family: _gap(tmp, family))
    assert result['best_member'] == best
    assert result['margin_over_best_member'] == pytest.approx(
        _gap(tmp, 'final') - _gap(tmp, best))
    assert result['margin_over_first_ensemble'] == pytest.approx(
        _gap(tmp, 'final') - _gap(tmp, 'ensemble'))
    (student,) = result['students']
    assert student['student'] == 'student_1' and student['family'] == 'dbof'
    assert student['margin'] == pytest.approx(_gap(tmp, 'student_1') - _gap(tmp, 'dbof'))
    assert "## The seed's result (test split)" in text and '| student_1 | dbof |' in text
    assert '| blessing (candidate against the label prior) | test | 28 |' in text
    assert os.path.getsize(os.path.join(run_dir, 'gap_vs_size.png')) > 1000
    assert os.path.getsize(os.path.join(run_dir, 'learning_curves.png')) > 1000
    lineage.main(['--metadata', str(tmp / METADATA)])
    printed = capsys.readouterr().out
    # The card of the newest model that was really pushed.
    store = lineage.open_store(str(tmp / METADATA))
    pushed = lineage.newest_pushed_model(store)
    flags = lineage._properties(pushed)
    assert flags['pushed'] == 1 and os.path.isdir(flags['pushed_destination'])
    card = printed[printed.index('Pushed model:'):printed.index('Lineage of that pushed model')]
    assert flags['pushed_destination'] in card
    assert f"'code_fingerprint': '{configs.code_fingerprint()}'" in card
    assert "'project_version': '" in card
    assert f'data: {data_root} (span 0, input fingerprint ' in card
    flawed = len(write_flawed_shards(tmp / "expected"))
    # The flawed train shards hold two good records besides their flaws.
    assert f'records: {70 + 2 + 56 + flawed} read, {flawed} flawed' in card
    assert "splits: {\"train\": 72, \"select\": 28, \"test\": 28} (videos); rule: " in card
    assert 'ValidationGate COMPLETE' in card and 'ExampleValidator COMPLETE' in card
    assert 'blessing: blessed=1' in card and 'gap_at_20=' in card
    assert 'hyper-parameters: ' in card and '"train_examples": 400' in card
    # The newest push is the distilled student: its lineage runs through the
    # teacher (the ensemble of quantized members) back to the examples.
    for upstream in ('PushedModel', 'Distiller-student-1', 'TeacherScores', 'EnsembleBuilder',
                     node_id('Quantizer', FAMILY), node_id('Trainer', FAMILY), 'TransformGraph', 'Schema',
                     'Examples', 'YT8MExampleGen'):
        assert upstream in printed


def test_second_run_is_served_from_cache(pipeline_run):
    tmp, data_root = pipeline_run
    pushed_before = glob.glob(str(tmp / 'serving_model' / '*' / '*'))
    assert _run_local(tmp, data_root)[0] == 0
    store = lineage.open_store(str(tmp / METADATA))
    states = {e.last_known_state for e in _executions_of_latest_run(store)}
    assert states == {metadata_store_pb2.Execution.CACHED}
    # Nothing is pushed twice; the ensemble (blessed on this data) once.
    assert sorted(glob.glob(str(tmp / 'serving_model' / '*' / '*'))) == sorted(pushed_before)
    assert len(glob.glob(str(tmp / 'serving_model' / configs.serving_model_name('ensemble')
                             / '*'))) == 1


def test_flawed_records_are_quarantined_and_reported(pipeline_run):
    tmp, data_root = pipeline_run
    store = lineage.open_store(str(tmp / METADATA))
    (examples,) = [a for a in store.get_artifacts_by_type('Examples')
                   if a.state == metadata_store_pb2.Artifact.LIVE]
    flaws = write_flawed_shards(tmp / 'expected')  # the same flaws, for their names
    assert examples.custom_properties['bad_records'].int_value == len(flaws)
    assert json.loads(examples.custom_properties['bad_records_by_kind'].string_value) == {
        kind: 1 for kind in flaws}
    quarantined = glob.glob(os.path.join(examples.uri, 'Quarantine', '*'))
    assert sum(1 for _ in tf.data.TFRecordDataset(quarantined)) == len(flaws) - 1
    (run_dir,) = glob.glob(str(tmp / 'report' / 'run-*'))
    text = open(os.path.join(run_dir, 'report.md')).read()
    assert '## Input records' in text
    for name, detail in flaws.values():
        assert any(name in line and detail in line for line in text.splitlines()), name


def test_flawed_records_stop_the_run_before_training(tmp_path):
    """Policy 'fail': every flaw named (file, record, offset, video id); nothing left looking valid."""
    data_root = tmp_path / 'data'
    data_root.mkdir()
    write_records(data_root / 'train0000.tfrecord', [make_record(b'a'), make_record(b'b')])
    write_records(data_root / 'validate0000.tfrecord', [make_record(b'c')])
    flaws = write_flawed_shards(data_root)
    with pytest.raises(BadDataError, match='stops before training') as err:
        LocalDagRunner().run(_pipeline(tmp_path, data_root, families=(FAMILY,),
                                       bad_records='fail'))
    lines = str(err.value).splitlines()
    for name, detail in flaws.values():
        assert any(str(data_root / name) in line and detail in line for line in lines), name
    assert not (tmp_path / 'serving_model').exists()
    assert not glob.glob(str(tmp_path / ROOT / 'Trainer-*'))
    assert not glob.glob(str(tmp_path / ROOT / 'YT8MExampleGen' / 'examples' / '*' / 'Split-*'))
    store = lineage.open_store(str(tmp_path / METADATA))
    assert not [a for a in store.get_artifacts_by_type('Examples')
                if a.state == metadata_store_pb2.Artifact.LIVE]


def test_statistics_read_frames_as_opaque_bytes(pipeline_run):
    """StatisticsGen with the schema: frame sizes and counts, no top-k of unique frames."""
    import tensorflow_data_validation as tfdv
    tmp, _ = pipeline_run
    (train,) = glob.glob(str(tmp / ROOT / 'StatisticsGen' / 'statistics' / '*' / 'Split-train'))
    stats = tfdv.load_stats_binary(os.path.join(train, 'FeatureStats.pb')).datasets[0]
    by_name = {tuple(f.path.step): f for f in stats.features}
    rgb = by_name[('##SEQUENCE##', 'rgb')]
    assert rgb.WhichOneof('stats') == 'bytes_stats'
    assert rgb.bytes_stats.min_num_bytes == features.RGB_SIZE
    assert rgb.bytes_stats.common_stats.min_num_values >= 1          # frames per video
    assert by_name[('id',)].string_stats.unique == stats.num_examples   # ids still counted


def test_records_failing_validation_stop_before_training(tmp_path):
    """Records that pass ingestion but not the schema: a context feature it does not know."""
    data_root = tmp_path / 'data'
    data_root.mkdir()
    odd = tf.train.SequenceExample.FromString(make_record(b'odd'))
    odd.context.feature['mean_rgb'].float_list.value.extend([0.5] * 4)
    write_records(data_root / 'train0000.tfrecord', [make_record(b'a'), odd.SerializeToString()])
    write_records(data_root / 'validate0000.tfrecord', [make_record(b'c')])
    with pytest.raises(DataValidationError, match="context feature 'mean_rgb'") as err:
        LocalDagRunner().run(_pipeline(tmp_path, data_root, families=(FAMILY,)))
    assert "for example video ids ['odd']" in str(err.value)
    assert not (tmp_path / 'serving_model').exists()
    assert not glob.glob(str(tmp_path / ROOT / 'Trainer-*'))


def test_the_console_tells_the_story_and_the_log_keeps_everything(pipeline_run):
    tmp, _ = pipeline_run
    console = (tmp / 'console-0.txt').read_text()
    lines = console.splitlines()
    assert len(lines) < CONSOLE_LINE_BUDGET, len(lines)
    for node in ('YT8MExampleGen', 'Transform', 'Trainer-dbof', 'Quantizer-netfv',
                 'EnsembleBuilder', 'TeacherScorer-ensemble', 'Distiller-student-1',
                 'Quantizer-student-1',
                 'EnsembleBuilder-final', 'Pusher-final', 'Report'):
        assert any(line.strip().startswith(f'{node} ') for line in lines), node
    assert any('Trainer-dbof' in line and 'best select GAP@20' in line for line in lines)
    assert any('YT8MExampleGen' in line and 'records read' in line for line in lines)
    assert any('TeacherScorer-ensemble' in line and 'train videos scored (out of fold, 2 fold'
               in line for line in lines)
    assert any('[main] step' in line for line in lines)        # the Trainers' progress
    assert 'GAP@20  Hit@1' in console and 'Report:' in console
    assert 'GAP@20 over the best single model' in console
    log_path = console.split('Full log:')[-1].strip().split()[0]
    log = open(log_path).read()
    assert 'Component Trainer-dbof is running.' in log and 'Running launcher for' in log
    assert len(log.splitlines()) > 10 * len(lines)
    # The cached rerun says so, component by component.
    rerun = (tmp / 'console-1.txt').read_text()
    assert any('Trainer-dbof cached' in line for line in rerun.splitlines())


def test_a_failed_run_ends_with_the_component_and_the_cause(tmp_path):
    """Bad data through local_runner: exit 1, the flaw named last, no traceback, the log path."""
    data_root = tmp_path / 'data'
    data_root.mkdir()
    write_records(data_root / 'train0000.tfrecord', [make_record(b'a'), make_record(b'b')])
    write_records(data_root / 'validate0000.tfrecord', [make_record(b'c')])
    write_records(data_root / 'train0103.tfrecord', [make_record(b'label5000', labels=(5000,))])
    console = io.StringIO()
    with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
        code = local_runner.main(['--families', FAMILY, '--preset', 'tiny', '--distill', 'none',
                                  '--train-examples', '32', '--data-root', str(data_root),
                                  '--output-root', str(tmp_path / 'out')])
    text = console.getvalue()
    assert code == 1 and 'Traceback' not in text
    lines = text.strip().splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith('YT8MExampleGen failed: ')]
    tail = lines[start:]
    assert len(tail) <= 16
    assert any("train0103.tfrecord" in line and "video id 'label5000'" in line for line in tail)
    log_path = tail[-1].split('Full log: ')[1]
    assert 'Traceback' in open(log_path).read()
