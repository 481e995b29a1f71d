"""YT8MExampleGen's executor on real files, with real Beam: routing, counts, policy."""

import glob
import json
import os

import pytest
import tensorflow as tf
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import artifact_files
from components.yt8m_example_gen import executor
from yt8m import splits
from tests.records import make_record, write_flawed_shards, write_records


def _run(data_root, out, policy, max_bad_fraction=0.01, beam_args=None, split_rule=None,
         duplicates='fail', validate_name='eval', sample=None):
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    outputs = {'examples': [examples], **({'sample': [sample]} if sample else {})}
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name='train', pattern='train*.tfrecord'),
        example_gen_pb2.Input.Split(name=validate_name, pattern='validate*.tfrecord')])
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_args or [])
    executor.Executor(context).Do({}, outputs, {
        'input_base': str(data_root),
        'input_config': proto_utils.proto_to_json(input_config),
        'output_config': proto_utils.proto_to_json(example_gen_pb2.Output()),
        'output_data_format': example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE,
        'output_file_format': example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        'bad_records': policy, 'max_bad_fraction': max_bad_fraction, 'max_listed': 100,
        'duplicates': duplicates,
        'split_rule': split_rule.to_json() if split_rule else None})
    return examples


def _ids(split_dir):
    files = glob.glob(os.path.join(split_dir, '*.gz'))
    return sorted(tf.train.SequenceExample.FromString(r.numpy()).context.feature['id']
                  .bytes_list.value[0].decode()
                  for r in tf.data.TFRecordDataset(files, compression_type='GZIP'))


@pytest.fixture(scope='module')
def flawed_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('flawed')
    write_records(root / 'train0000.tfrecord',
                  [make_record(f'good{i}'.encode(), seed=i) for i in range(30)])
    write_records(root / 'validate0000.tfrecord', [make_record(b'eval0')])
    expected = write_flawed_shards(root)
    before = {p: open(p, 'rb').read() for p in glob.glob(str(root / '*'))}
    return root, expected, before


@pytest.fixture(scope='module')
def skipped(flawed_root, tmp_path_factory):
    """One in-memory run with policy skip: (output folder, Examples artifact)."""
    out = tmp_path_factory.mktemp('skipped') / 'out'
    return out, _run(flawed_root[0], out, 'skip', max_bad_fraction=0.5)


def test_skip_keeps_good_records_and_quarantines_the_rest(flawed_root, skipped):
    root, expected, before = flawed_root
    out, examples = skipped
    good = sorted([f'good{i}' for i in range(30)] + ['trunc0', 'long'])
    assert _ids(out / 'Split-train') == good
    assert _ids(out / 'Split-eval') == ['eval0']
    summary = json.load(open(out / artifact_files.BAD_RECORDS))
    assert summary['by_kind'] == {kind: 1 for kind in expected}
    assert summary['videos_truncated_to_300_frames'] == 1
    assert summary['good_records'] == {'train': 32, 'eval': 1}
    assert examples.get_int_custom_property('bad_records') == len(expected)
    for kind, (name, text) in expected.items():
        (problem,) = [p for p in summary['listed'] if p['kind'] == kind]
        assert problem['file'].endswith(name)
        assert text in executor.describe(problem)
    # Readable flawed records are kept as they were: all but the broken file's tail.
    quarantined = glob.glob(str(out / artifact_files.QUARANTINE_DIR / '*'))
    count = sum(1 for _ in tf.data.TFRecordDataset(quarantined))
    assert count == len(expected) - 1
    markdown = open(out / artifact_files.BAD_RECORDS_MARKDOWN).read()
    assert 'video_level_example | 1' in markdown and "video id 'label5000'" in markdown
    # The data root is untouched.
    assert {p: open(p, 'rb').read() for p in glob.glob(str(root / '*'))} == before


def test_policy_decides_when_to_stop():
    assert executor.stop_reason(0, 100, 'fail', 0.01) == ''
    assert 'stops before training' in executor.stop_reason(1, 100, 'fail', 0.5)
    assert executor.stop_reason(1, 100, 'skip', 0.01) == ''            # exactly 1%: go on
    assert executor.stop_reason(6, 39, 'skip', 0.01) == (
        '6 of 39 records are flawed (15.38%), more than the allowed 1.00% '
        '(bad-records policy "skip", max_bad_fraction).')
    assert executor.stop_reason(0, 0, 'skip', 0.0) == ''                # empty input


def test_fail_names_every_flaw_and_leaves_no_splits(flawed_root, tmp_path):
    root, expected, _ = flawed_root
    with pytest.raises(executor.BadDataError) as err:
        _run(root, tmp_path / 'out', 'skip', max_bad_fraction=0.01)
    message = str(err.value)
    assert message.startswith('6 of 39 records are flawed')
    for name, text in expected.values():
        assert any(name in line and text in line for line in message.splitlines()), (name, text)
    assert not glob.glob(str(tmp_path / 'out' / 'Split-*'))
    assert os.path.exists(tmp_path / 'out' / artifact_files.BAD_RECORDS_MARKDOWN)


@pytest.mark.cluster   # ~30 s of worker processes: scripts/cluster_checks.sh
def test_separate_worker_processes_give_the_same_examples(flawed_root, skipped, tmp_path):
    """Beam's DirectRunner in multi_processing mode runs workers as separate
    processes, as remote runners do: the DoFns must pickle, import the
    project's code there, and give the same artifact as in memory."""
    root, expected, _ = flawed_root
    memory = skipped[0]
    _run(root, tmp_path / 'processes', 'skip', max_bad_fraction=0.5,
         beam_args=['--direct_running_mode=multi_processing', '--direct_num_workers=2'])
    for split in ('Split-train', 'Split-eval'):
        assert _ids(tmp_path / 'processes' / split) == _ids(memory / split)
    summaries = [json.load(open(name / artifact_files.BAD_RECORDS))
                 for name in (memory, tmp_path / 'processes')]
    assert summaries[0] == summaries[1]


def _gzip(path):
    import gzip
    content = open(path, 'rb').read()
    with gzip.open(f'{path}.gz', 'wb') as f:
        f.write(content)
    os.remove(path)
    return f'{path}.gz'


def test_thousands_of_unread_files_are_counted_and_a_few_named(tmp_path):
    from components.yt8m_example_gen.executor import UNREAD_NAMES_KEPT
    root = tmp_path / 'data'
    root.mkdir()
    write_records(root / 'train0000.tfrecord', [make_record(b'a'), make_record(b'b', seed=1)])
    write_records(root / 'validate0000.tfrecord', [make_record(b'c')])
    for index in range(3000):
        (root / f'notes{index:04d}.txt').write_text('')
    examples = _run(root, tmp_path / 'out', 'fail')
    summary = json.load(open(tmp_path / 'out' / artifact_files.BAD_RECORDS))
    assert summary['unread_count'] == 3000
    assert summary['unread_files'] == [str(root / f'notes{i:04d}.txt')
                                       for i in range(UNREAD_NAMES_KEPT)]
    assert examples.get_int_custom_property('unread_count') == 3000
    assert len(json.loads(examples.get_string_custom_property('unread_files'))) == \
        UNREAD_NAMES_KEPT
    markdown = open(tmp_path / 'out' / artifact_files.BAD_RECORDS_MARKDOWN).read()
    assert '3000 file(s) of the data root are read by no split' in markdown
    assert f'... and {3000 - UNREAD_NAMES_KEPT} more' in markdown
    assert 'notes2999.txt' not in markdown


def test_files_no_split_reads_are_listed_and_a_gzip_shard_is_refused_by_name(tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    write_records(root / 'train0000.tfrecord', [make_record(b'a'), make_record(b'b', seed=1)])
    write_records(root / 'validate0000.tfrecord', [make_record(b'c')])
    (root / 'notes.txt').write_text('not data')
    (root / '_SUCCESS').write_text('')
    examples = _run(root, tmp_path / 'out', 'fail')
    summary = json.load(open(tmp_path / 'out' / artifact_files.BAD_RECORDS))
    assert summary['unread_files'] == [str(root / 'notes.txt')]
    assert json.loads(examples.get_string_custom_property('unread_files')) == [
        str(root / 'notes.txt')]
    assert str(root / 'notes.txt') in open(tmp_path / 'out' /
                                           artifact_files.BAD_RECORDS_MARKDOWN).read()
    # A compressed shard would be left out silently: the run stops, naming it.
    shard = write_records(root / 'train9999.tfrecord', [make_record(b'zipped')])
    _gzip(shard)
    with pytest.raises(executor.BadDataError,
                       match=r'train9999\.tfrecord\.gz: a GZIP-compressed shard'):
        _run(root, tmp_path / 'out2', 'fail')
    # Detected by content, not by name: a gzip file named like a plain shard.
    os.rename(f'{shard}.gz', root / 'train0001.tfrecord')
    # The Beam job finds it (not the driver), and it stops the run under either policy.
    for policy in ('fail', 'skip'):
        with pytest.raises(executor.BadDataError, match=(
                r'(?s)1 input file\(s\) are GZIP-compressed.*'
                r'train0001\.tfrecord, record 0 \(byte offset 0\): a GZIP-compressed file')):
            _run(root, tmp_path / f'out3-{policy}', policy)
        assert not (tmp_path / f'out3-{policy}' / 'Split-train').exists()


# --- Three splits by video id, and repeated ids caught at ingestion ----------

def _write_release(root, train_ids, validate_ids, shards=2):
    """train*/validate* shards as the release names them, ids cut into `shards` files."""
    root.mkdir(parents=True, exist_ok=True)
    for prefix, ids in (('train', train_ids), ('validate', validate_ids)):
        for shard in range(shards):
            write_records(root / f'{prefix}{shard:04d}.tfrecord',
                          [make_record(i.encode(), seed=n) for n, i in enumerate(ids)
                           if n % shards == shard])


def test_split_rule_makes_three_disjoint_splits_by_video_id(tmp_path):
    train_ids = [f't{i}' for i in range(40)]
    validate_ids = [f'v{i}' for i in range(60)]
    _write_release(tmp_path / 'data', train_ids, validate_ids)
    rule = splits.SplitRule(select_fraction=0.5)
    from components.artifacts import VideoSample
    sample = VideoSample()
    sample.uri = str(tmp_path / 'sample')
    examples = _run(tmp_path / 'data', tmp_path / 'out', 'fail', split_rule=rule,
                    validate_name='validate', sample=sample)
    assert json.loads(examples.split_names) == ['train', 'select', 'test']
    found = {name: _ids(tmp_path / 'out' / f'Split-{name}') for name in splits.SPLITS}
    assert found['train'] == sorted(train_ids)
    assert sorted(found['select'] + found['test']) == sorted(validate_ids)
    assert not set(found['select']) & set(found['test'])
    assert found['select'] == sorted(i for i in validate_ids
                                     if splits.unit_hash(i) < 0.5) and found['test']
    sizes = json.loads(examples.get_string_custom_property('split_sizes'))
    assert sizes == {name: len(found[name]) for name in splits.SPLITS}
    assert 'validate* files -> select if u < 0.5' in examples.get_string_custom_property(
        'split_rule')
    # The Report's sample: the first test videos and the record check, small.
    sampled = _ids(tmp_path / 'sample')
    assert len(sampled) == executor.SAMPLE_RECORDS and set(sampled) <= set(found['test'])
    assert sample.get_string_custom_property('split') == 'test'
    assert sample.get_string_custom_property('examples_uri') == examples.uri
    assert json.load(open(tmp_path / 'sample' / artifact_files.BAD_RECORDS))[
        'good_records'] == sizes
    # Stable across file order and sharding: the same ids, re-cut into 3 files
    # named in another order, land in the same splits.
    _write_release(tmp_path / 'again', train_ids[::-1], validate_ids[::-1], shards=3)
    _run(tmp_path / 'again', tmp_path / 'out2', 'fail', split_rule=rule,
         validate_name='validate')
    assert {name: _ids(tmp_path / 'out2' / f'Split-{name}') for name in splits.SPLITS} == found


def test_a_video_in_two_splits_and_a_video_twice_in_one_file_stop_the_run(tmp_path):
    root = tmp_path / 'data'
    root.mkdir()
    write_records(root / 'train0000.tfrecord',
                  [make_record(b'a'), make_record(b'leak'), make_record(b'b'),
                   make_record(b'twice', seed=1), make_record(b'twice', seed=2)])
    write_records(root / 'validate0000.tfrecord', [make_record(b'c'), make_record(b'leak')])
    with pytest.raises(executor.BadDataError) as err:
        _run(root, tmp_path / 'out', 'fail', split_rule=splits.SplitRule(),
             validate_name='validate')
    message = str(err.value)
    assert '2 record(s) repeat a video id' in message
    train, validate = str(root / 'train0000.tfrecord'), str(root / 'validate0000.tfrecord')
    leak = next(line for line in message.splitlines() if "'leak'" in line)
    # Named where the copy is and where the first copy is.
    assert leak.strip().startswith(f'{validate}, record 1 (byte offset')
    assert 'in input splits train and validate: a leak between splits' in leak
    assert f'the first copy is {train}, record 1 (byte offset' in leak
    twice = next(line for line in message.splitlines() if "'twice'" in line)
    assert twice.strip().startswith(f'{train}, record 4 (byte offset')
    assert f'twice in input split train); the first copy is {train}, record 3' in twice
    assert not glob.glob(str(tmp_path / 'out' / 'Split-*'))


def test_keep_first_quarantines_the_later_copies_and_counts_them(tmp_path):
    root = tmp_path / 'data'
    ids = [f'k{i}' for i in range(60)]
    _write_release(root, ids, ['leak', 'v1'], shards=1)
    write_records(root / 'validate0001.tfrecord', [make_record(b'k7'), make_record(b'v2')])
    examples = _run(root, tmp_path / 'out', 'fail', max_bad_fraction=0.05,
                    split_rule=splits.SplitRule(), duplicates='keep-first',
                    validate_name='validate')
    held_out = (_ids(tmp_path / 'out' / 'Split-select')
                + _ids(tmp_path / 'out' / 'Split-test'))
    assert sorted(held_out) == ['leak', 'v1', 'v2']              # k7 stays in train only
    assert _ids(tmp_path / 'out' / 'Split-train') == sorted(ids)
    assert examples.get_int_custom_property('duplicate_records') == 1
    assert examples.get_int_custom_property('bad_records') == 1
    summary = json.load(open(tmp_path / 'out' / artifact_files.BAD_RECORDS))
    assert summary['by_kind'] == {executor.DUPLICATE: 1}
    quarantined = glob.glob(str(tmp_path / 'out' / artifact_files.QUARANTINE_DIR / 'duplicate*'))
    records = [r.numpy() for r in tf.data.TFRecordDataset(quarantined)]
    copy = next(iter(tf.data.TFRecordDataset(str(root / 'validate0001.tfrecord')))).numpy()
    assert records == [copy]                                     # the copy, byte for byte
    # Above max_bad_fraction the run stops even with keep-first.
    with pytest.raises(executor.BadDataError, match='flawed or repeat a video id'):
        _run(root, tmp_path / 'out2', 'fail', max_bad_fraction=0.01,
             split_rule=splits.SplitRule(), duplicates='keep-first', validate_name='validate')


def test_train_files_only_hash_into_three_splits_with_the_fractions_given():
    rule = splits.SplitRule(select_fraction=0.25, holdout_fraction=0.4)
    ids = [f'id{i}' for i in range(20000)]
    counts = {name: 0 for name in splits.SPLITS}
    for video_id in ids:
        counts[rule.assign(video_id, 'train', has_validate=False)] += 1
    assert counts['train'] / len(ids) == pytest.approx(0.6, abs=0.015)
    assert counts['select'] / len(ids) == pytest.approx(0.1, abs=0.01)
    assert counts['test'] / len(ids) == pytest.approx(0.3, abs=0.015)
    # With validate files, train* stays train and validate* is cut by select_fraction.
    assert {rule.assign(i, 'train', has_validate=True) for i in ids[:100]} == {'train'}
    in_select = sum(rule.assign(i, 'validate', True) == 'select' for i in ids) / len(ids)
    assert in_select == pytest.approx(0.25, abs=0.015)
    with pytest.raises(ValueError, match='select_fraction'):
        splits.SplitRule(select_fraction=1.0)
