"""YT8MExampleGen executor: every record checked at ingestion, in the Beam job.

Two passes over the input files, each file read in a worker (files spread
with a Reshuffle, so the work scales with the runner as ImportExampleGen's
reading does):

1. **Check.** Each file's framing and every record are checked with
   `yt8m.integrity`. Only (video id, place) of each good record travels on,
   never its bytes: every video id read more than once (in two splits: a
   leak; or twice in one split) becomes a `duplicate_video_id` problem,
   naming both places, through a Beam grouping by id, so no process holds
   all ids. Flawed records go to the problem branch: their raw bytes to
   `<examples>/Quarantine/` (skip policy), and the problems, counted by kind
   and listed up to `max_listed`, to `<examples>/bad_records.json` and
   `bad_records.md`.
2. **Write.** Each file is read again and its records streamed to the output
   splits (GZIP TFRecords of SequenceExamples, as ImportExampleGen writes
   them), leaving out the places pass 1 found flawed or repeated (a side
   input that holds those places only). With a `split_rule`, the input
   splits (`train`, `validate`) become train, select and test by a stable
   hash of the video id (`yt8m.splits`).

Why two passes: the records never wait for a grouping. In one pass the
records had to wait until every id was seen, and TFX's `WriteSplit` shuffles
them before writing; under the DirectRunner both hold every record in
memory (5.8 GB at 4,000 videos, growing with the data). Reading a file
twice costs a fraction of the check (docs/SCALING.md). The splits keep the
order of the input files; the Trainers shuffle, and the release's shards
are in no particular order.

After the Beam job, the policies decide:
* `bad_records='fail'` (default): any flaw stops the run here, before any
  Trainer, with an error listing every problem found (up to the limit);
  `skip`: the run goes on without the flawed records;
* `duplicates='fail'` (default): any repeated video id stops the run;
  `keep-first`: the first copy (in input-split order, then file path and
  record index) is kept and the others are quarantined;
* either way the run stops when what is left out exceeds `max_bad_fraction`
  of all records (default 1%).
A stopped run removes its output splits, so no artifact that looks valid is
left. Nothing under the input base is ever written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Optional

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import artifact_files
from yt8m import features, integrity, progress, splits

logger = logging.getLogger(__name__)

POLICIES = ('fail', 'skip')
DUPLICATE_POLICIES = ('fail', 'keep-first')
DUPLICATE = 'duplicate_video_id'
DEFAULT_MAX_BAD_FRACTION = 0.01
DEFAULT_MAX_LISTED = 100
_PROBLEMS = 'problems'
_LONG = 'long_videos'
_DUPLICATES = 'duplicates'
GZIP_MAGIC = b'\x1f\x8b'
# A matched file that is GZIP-compressed: all its videos would be left out, so
# it stops the run under either policy.
GZIP_FILE = 'gzip_compressed_file'
# Files no split reads: how many names the summary, lineage and console keep.
UNREAD_NAMES_KEPT = 10
# Records of the test split copied into the `sample` output, for the Report.
SAMPLE_RECORDS = 5
SAMPLE_FILE = 'sample.tfrecord.gz'
# The output files' prefix, as TFX's WriteSplit names them.
RECORDS_FILE = 'data_tfrecord'
# File names of the release's splits (train/validate/test shards).
SHARD_PREFIXES = ('train', 'validate', 'test')


class BadDataError(ValueError):
    """The input holds flawed records and the policy says stop."""


class CheckFile(beam.DoFn):
    """Pass 1: one (input split, rank, file) in; (video id, place) of each good
    record out, flaws to the `problems` output.

    A place is (input split rank, file, record index, byte offset, input
    split): it orders the copies of a video and names where each one is.
    """

    def __init__(self):
        self.progress = None

    def setup(self):
        self.progress = progress.Progress('YT8MExampleGen check', 'records')

    def process(self, split_file):
        split, rank, path = split_file
        if is_gzip(path):
            # Checked here, where the file is opened anyway: on the driver it
            # was one round trip per file (thousands on GCS) before the job.
            yield beam.pvalue.TaggedOutput(_PROBLEMS, (dict(
                file=path, record=0, offset=0, kind=GZIP_FILE, video_id='', split=split,
                message='a GZIP-compressed file; the splits read plain TFRecords (decompress '
                        'it: gunzip -c FILE > FILE.tfrecord)'), b''))
            return
        try:
            for index, offset, data, problem in integrity.framed_records(path):
                self.progress.add()
                if problem is None:
                    kind, message, video_id, frames = integrity.find_problem(data)
                    if kind is not None:
                        problem = integrity.Problem(path, index, offset, kind, message,
                                                    video_id)
                if problem is not None:
                    yield beam.pvalue.TaggedOutput(
                        _PROBLEMS, (dict(dataclasses.asdict(problem), split=split), data))
                    continue
                if frames > features.MAX_FRAMES:
                    yield beam.pvalue.TaggedOutput(_LONG, video_id)
                yield video_id, (rank, path, index, offset, split)
        except integrity.BrokenFile as err:
            yield beam.pvalue.TaggedOutput(
                _PROBLEMS, (dict(dataclasses.asdict(err.problem), split=split), b''))


def split_files(input_base: str, pattern: str) -> List[str]:
    files = sorted(tf.io.gfile.glob(os.path.join(input_base, pattern)))
    if not files:
        raise FileNotFoundError(f'{input_base}: no file matches {pattern!r}')
    return files


def is_gzip(path: str) -> bool:
    """By content (the gzip magic bytes), not by name."""
    with tf.io.gfile.GFile(path, 'rb') as f:
        return f.read(2) == GZIP_MAGIC


def unread_files(input_base: str, patterns: List[str]) -> List[str]:
    """Files of the data root that no split pattern reads (marker files aside).

    A file that looks like a shard of a split but is GZIP-compressed
    (`train9999.tfrecord.gz`) is refused by name: its videos would otherwise
    be silently left out.
    """
    matched = set()
    for pattern in patterns:
        matched.update(tf.io.gfile.glob(os.path.join(input_base, pattern)))
    unread = []
    for name in sorted(tf.io.gfile.listdir(input_base)):
        path = os.path.join(input_base, name.rstrip('/'))
        if path in matched or name.startswith(('_', '.')) or tf.io.gfile.isdir(path):
            continue
        if name.startswith(SHARD_PREFIXES) and '.tfrecord' in name and is_gzip(path):
            raise BadDataError(f'{path}: a GZIP-compressed shard, which no split reads '
                               f'(the patterns are {", ".join(patterns)}); decompress it '
                               '(gunzip) so that its videos are not left out')
        unread.append(path)
    return unread


def describe_place(place) -> str:
    _, path, index, offset, split = place
    return f'{path}, record {index} (byte offset {offset}, input split {split})'


def later_copies(item):
    """(video id, its places) -> ((file, record index), problem) for every copy but the first.

    The first copy is the smallest place: input-split order (train before
    validate), then file path, then record index, so the choice is the same
    however the runner orders the records.
    """
    video_id, places = item
    places = sorted(places)
    first = places[0]
    for place in places[1:]:
        _, path, index, offset, split = place
        where = (f'twice in input split {split}' if split == first[4]
                 else f'in input splits {first[4]} and {split}: a leak between splits')
        message = (f'video id read more than once ({where}); the first copy is '
                   f'{describe_place(first)}')
        yield (path, index), dict(file=path, record=index, offset=offset, kind=DUPLICATE,
                                  message=message, video_id=video_id, split=split)


def left_out_place(item):
    """A flawed record's problem -> ((file, record index), None): pass 2 skips it."""
    problem, _ = item
    return (problem['file'], problem['record']), None


class ReadKept(beam.DoFn):
    """Pass 2: one (input split, rank, file) in; (video id, input split, record)
    of each kept record out.

    `left_out` maps (file, record index) to the duplicate problem of a later
    copy, or to None for a record pass 1 found flawed; it holds the records
    left out only (normally none), so it stays small at any data size: the
    policy stops the run above max_bad_fraction anyway. Later copies go to
    the `duplicates` output with their bytes, for the quarantine.
    """

    def process(self, split_file, left_out):
        split, _, path = split_file
        if is_gzip(path):
            return
        try:
            for index, _, data, problem in integrity.framed_records(path):
                if problem is not None:
                    continue
                key = (path, index)
                if key in left_out:
                    if left_out[key] is not None:
                        yield beam.pvalue.TaggedOutput(_DUPLICATES, (left_out[key], data))
                    continue
                video_id = integrity.video_id_of(tf.train.SequenceExample.FromString(data))
                yield video_id, split, data
        except integrity.BrokenFile:
            return


def output_split_index(item, num_partitions: int, rule, has_validate: bool,
                       names: List[str]) -> int:
    """The output split of one video: by the split rule, else its input split."""
    video_id, input_split, _ = item
    split = rule.assign(video_id, input_split, has_validate) if rule else input_split
    return names.index(split)


def write_summary(_, uri: str, listed: List[dict], by_kind: Dict[str, int],
                  records: Dict[str, int], long_videos: int) -> None:
    """bad_records.json; `listed` is already the first `max_listed` problems in order."""
    bad = sum(by_kind.values())
    summary = {'records_read': sum(records.values()) + bad, 'good_records': records,
               'bad_records': bad, 'by_kind': by_kind,
               'videos_truncated_to_300_frames': long_videos, 'listed': listed}
    artifact_files.write_json(uri, artifact_files.BAD_RECORDS, summary)


describe = integrity.describe_listed


def render_markdown(summary: dict, policy: str, quarantine: str,
                    duplicate_policy: str = 'fail') -> str:
    lines = ['# Flawed input records', '',
             f'{summary["bad_records"]} of {summary["records_read"]} records are flawed '
             f'(policy `{policy}`).', '', '| problem | records |', '|---|---|']
    lines += [f'| {kind} | {count} |' for kind, count in sorted(summary['by_kind'].items())]
    if summary['videos_truncated_to_300_frames']:
        lines += ['', f'{summary["videos_truncated_to_300_frames"]} videos have more than '
                  f'{features.MAX_FRAMES} frames and are truncated (not flawed).']
    lines += ['', f'Listed: {len(summary["listed"])} (file, record index, byte offset, '
              'video id, problem):', '']
    lines += [f'- {describe(p)}' for p in summary['listed']]
    if policy == 'skip' and summary['bad_records'] - summary.get('duplicates', 0):
        lines += ['', f'Readable flawed records are kept, unchanged, in `{quarantine}`.']
    if duplicate_policy == 'keep-first' and summary.get('duplicates'):
        lines += ['', f'The first copy of each repeated video id is kept; the '
                  f'{summary["duplicates"]} later copies are kept, unchanged, in `{quarantine}`.']
    if summary.get('split_rule'):
        sizes = ', '.join(f'{name} {count}' for name, count in summary['good_records'].items())
        lines += ['', f'Splits: {sizes}. Rule: {summary["split_rule"]}.']
    lines += render_unread(summary.get('unread_files') or [], summary.get('unread_count'))
    return '\n'.join(lines) + '\n'


def render_unread(unread: List[str], count: Optional[int] = None) -> List[str]:
    """The first names of the files no split reads, and how many there are in all."""
    count = len(unread) if count is None else count
    if not count:
        return []
    more = [f'- ... and {count - len(unread)} more'] if count > len(unread) else []
    return ['', f'{count} file(s) of the data root are read by no split:', '',
            *[f'- `{path}`' for path in unread], *more]


def stop_reason(bad: int, records_read: int, policy: str, max_fraction: float,
                duplicates: int = 0, duplicate_policy: str = 'fail',
                gzip_files: int = 0) -> str:
    """Why the run must stop here ('' to go on), by the two policies.

    `bad` counts every record left out, repeated video ids included;
    `duplicates` counts those alone; `gzip_files` the compressed input files.
    """
    if gzip_files:
        return (f'{gzip_files} input file(s) are GZIP-compressed: none of their videos can '
                'be read, under any bad-records policy.')
    flawed = bad - duplicates
    if flawed and policy == 'fail':
        return (f'{flawed} flawed record(s) in the input; the run stops before training '
                '(bad-records policy "fail"; "skip" leaves them out and quarantines them).')
    if duplicates and duplicate_policy == 'fail':
        return (f'{duplicates} record(s) repeat a video id read before (a video in two '
                'splits leaks into the figures; twice in one split weighs it double); the '
                'run stops before training (duplicates policy "fail"; "keep-first" keeps '
                'the first copy and quarantines the others).')
    fraction = bad / max(records_read, 1)
    if fraction > max_fraction:
        what, policies = 'flawed', f'bad-records policy "{policy}"'
        if duplicates:
            what += ' or repeat a video id'
            policies += f', duplicates policy "{duplicate_policy}"'
        return (f'{bad} of {records_read} records are {what} ({fraction:.2%}), more than '
                f'the allowed {max_fraction:.2%} ({policies}, max_bad_fraction).')
    return ''


def record_data_identity(examples, exec_properties) -> None:
    """Span and input fingerprint on the Examples, with or without TFX's driver.

    LocalDagRunner's ExampleGen driver, and Vertex AI's `preCacheCheck` hook,
    compute both before the executor runs. Open-source KFP 2.x runs no hook
    (the driver ignores `lifecycle.preCacheCheck`), so the executor computes
    them itself from `input_base` and the split patterns: lineage then shows
    which files made the Examples on every backend.
    """
    if exec_properties.get(utils.FINGERPRINT_PROPERTY_NAME):
        fingerprint = exec_properties[utils.FINGERPRINT_PROPERTY_NAME]
        span = int(exec_properties.get(utils.SPAN_PROPERTY_NAME) or 0)
    else:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                  input_config)
        fingerprint, span, _ = utils.calculate_splits_fingerprint_span_and_version(
            exec_properties[standard_component_specs.INPUT_BASE_KEY], input_config.splits)
        exec_properties[utils.FINGERPRINT_PROPERTY_NAME] = fingerprint
        exec_properties[utils.SPAN_PROPERTY_NAME] = span
    compiled = exec_properties.get('data_fingerprint')
    if compiled and compiled != data_fingerprint(fingerprint):
        logger.warning('The input files changed between compiling and running this task '
                       '(fingerprint %s then, %s now): the Examples hold the files of now',
                       compiled, data_fingerprint(fingerprint))
    examples.span = span
    examples.set_string_custom_property(utils.FINGERPRINT_PROPERTY_NAME, fingerprint)


def write_sample(sample, examples, summary: dict, split_names: List[str]) -> None:
    """The first records of the test split (else the last split) and the record
    check, in the small `sample` artifact the Report reads."""
    from components import io_utils
    split = splits.TEST if splits.TEST in split_names else split_names[-1]
    records = io_utils.split_records(examples.uri, split, SAMPLE_RECORDS)
    tf.io.gfile.makedirs(sample.uri)
    with tf.io.TFRecordWriter(os.path.join(sample.uri, SAMPLE_FILE), options='GZIP') as writer:
        for record in records:
            writer.write(record)
    artifact_files.write_json(sample.uri, artifact_files.BAD_RECORDS, summary)
    sample.set_string_custom_property('split', split)
    sample.set_int_custom_property('records', len(records))
    sample.set_string_custom_property('examples_uri', examples.uri)


def data_fingerprint(input_fingerprint: str) -> str:
    """A short digest of TFX's input fingerprint (every file's path, size and mtime)."""
    return hashlib.sha256(input_fingerprint.encode()).hexdigest()[:16]


def compute_data_fingerprint(input_base: str, input_config: example_gen_pb2.Input) -> str:
    """What the executor will compute, computed ahead (listing and stat of the files)."""
    fingerprint, _, _ = utils.calculate_splits_fingerprint_span_and_version(
        input_base, input_config.splits)
    return data_fingerprint(fingerprint)


class Executor(base_example_gen_executor.BaseExampleGenExecutor):

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        raise NotImplementedError('GenerateExamplesByBeam reads and checks the files itself')

    def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                               exec_properties: Dict[str, Any]) -> Dict[str, Any]:
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                                  input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                                  output_config)
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        split_names = utils.generate_output_split_names(input_config, output_config)
        unread = unread_files(input_base, [s.pattern for s in input_config.splits])
        # A bounded list: a data root may hold thousands of other files.
        self._unread_count, self._unread_files = len(unread), unread[:UNREAD_NAMES_KEPT]
        if unread:
            logger.warning('%d files of %s are read by no split, first: %s', len(unread),
                           input_base, ', '.join(self._unread_files))

        rule_text = exec_properties.get('split_rule')
        rule = splits.SplitRule.from_json(rule_text) if rule_text else None
        if output_config.split_config.splits:
            raise ValueError('YT8MExampleGen splits by its split_rule (yt8m/splits.py), '
                             'not by output_config hash buckets')
        input_names = tuple(split.name for split in input_config.splits)
        has_validate = splits.VALIDATE in input_names
        names = list(rule.output_splits(input_names) if rule else split_names)
        self._split_names, self._input_names = names, input_names
        # TFX's Do named the splits after the inputs; the writes that follow
        # look their folders up by the output names.
        self._examples.split_names = artifact_utils.encode_split_names(names)

        listed_files = []
        for rank, split in enumerate(input_config.splits):
            files = split_files(input_base, split.pattern)
            logger.info('Split %s: checking %d files (%s)', split.name, len(files),
                        split.pattern)
            listed_files += [(split.name, rank, path) for path in files]
        # One collection of files for both passes: a Flatten of record
        # collections would hold them all in memory under the DirectRunner.
        files = (pipeline
                 | 'Files' >> beam.Create(listed_files)
                 | 'SpreadFiles' >> beam.Reshuffle())
        checked = files | 'Check' >> beam.ParDo(CheckFile()).with_outputs(
            _PROBLEMS, _LONG, main='good')
        later = (checked.good
                 | 'GroupById' >> beam.GroupByKey()
                 | 'LaterCopies' >> beam.FlatMap(later_copies))
        flawed = checked[_PROBLEMS] | 'FlawedPlaces' >> beam.Map(left_out_place)
        left_out = beam.pvalue.AsDict((later, flawed) | 'LeftOut' >> beam.Flatten())
        written = files | 'Read' >> beam.ParDo(ReadKept(), left_out=left_out).with_outputs(
            _DUPLICATES, main='kept')
        kept, duplicates = written.kept, written[_DUPLICATES]
        parts = kept | 'Split' >> beam.Partition(
            output_split_index, len(names), rule, has_validate, names)
        goods = dict(zip(names, parts))

        self._add_problem_branch(pipeline, checked, duplicates, goods, exec_properties)
        for name, good in goods.items():
            # TFX's WriteSplit would shuffle every record first (see the module).
            _ = (good
                 | f'Records[{name}]' >> beam.Map(lambda item: item[2])
                 | f'Write[{name}]' >> beam.io.WriteToTFRecord(
                     os.path.join(artifact_utils.get_split_uri([self._examples], name),
                                  RECORDS_FILE),
                     file_name_suffix='.gz'))
        return {}

    def _add_problem_branch(self, pipeline, checked, duplicates, goods,
                            exec_properties) -> None:
        uri = self._examples.uri
        max_listed = int(exec_properties.get('max_listed') or DEFAULT_MAX_LISTED)
        problems = (checked[_PROBLEMS], duplicates) | 'AllProblems' >> beam.Flatten()
        long_videos = (checked[_LONG]
                       | 'CountLong' >> beam.combiners.Count.Globally())
        counts = {name: good | f'Count[{name}]' >> beam.combiners.Count.Globally()
                  for name, good in goods.items()}
        by_kind = (problems
                   | 'Kind' >> beam.Map(lambda item: item[0]['kind'])
                   | 'CountKinds' >> beam.combiners.Count.PerElement()
                   | 'KindsDict' >> beam.combiners.ToDict())
        listed = (problems
                  | 'Problem' >> beam.Map(lambda item: item[0])
                  | 'FirstProblems' >> beam.combiners.Top.Smallest(   # sorted ascending
                      max_listed,
                      key=lambda p: (p['file'], p['record'])))
        records = ([counts[name] | f'Keyed[{name}]' >> beam.Map(lambda n, s=name: (s, n))
                    for name in counts]
                   | 'AllCounts' >> beam.Flatten()
                   | 'CountsDict' >> beam.combiners.ToDict())
        _ = (pipeline
             | 'Summary' >> beam.Create([None])
             | 'WriteSummary' >> beam.Map(
                 write_summary, uri=uri,
                 listed=beam.pvalue.AsSingleton(listed),
                 by_kind=beam.pvalue.AsSingleton(by_kind),
                 records=beam.pvalue.AsSingleton(records),
                 long_videos=beam.pvalue.AsSingleton(long_videos)))
        if exec_properties.get('duplicates') == 'keep-first':
            _ = (duplicates
                 | 'DuplicateBytes' >> beam.Map(lambda item: item[1])
                 | 'QuarantineDuplicates' >> beam.io.WriteToTFRecord(
                     os.path.join(uri, artifact_files.QUARANTINE_DIR, 'duplicate'),
                     file_name_suffix='.tfrecord'))
        if exec_properties.get('bad_records') == 'skip':
            _ = (checked[_PROBLEMS]
                 | 'Readable' >> beam.Filter(lambda item: bool(item[1]))
                 | 'RawBytes' >> beam.Map(lambda item: item[1])
                 | 'Quarantine' >> beam.io.WriteToTFRecord(
                     os.path.join(uri, artifact_files.QUARANTINE_DIR, 'flawed'),
                     file_name_suffix='.tfrecord'))

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        policy = exec_properties.get('bad_records') or 'fail'
        if policy not in POLICIES:
            raise ValueError(f'bad_records must be one of {POLICIES}, got {policy!r}')
        duplicate_policy = exec_properties.get('duplicates') or 'fail'
        if duplicate_policy not in DUPLICATE_POLICIES:
            raise ValueError(f'duplicates must be one of {DUPLICATE_POLICIES}, '
                             f'got {duplicate_policy!r}')
        max_fraction = float(exec_properties.get('max_bad_fraction')
                             if exec_properties.get('max_bad_fraction') is not None
                             else DEFAULT_MAX_BAD_FRACTION)
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        self._examples = examples
        record_data_identity(examples, exec_properties)
        super().Do(input_dict, output_dict, exec_properties)

        summary = artifact_files.read_json(examples.uri, artifact_files.BAD_RECORDS)
        summary['unread_files'] = self._unread_files
        summary['unread_count'] = self._unread_count
        summary['duplicates'] = summary['by_kind'].get(DUPLICATE, 0)
        summary['good_records'] = {name: summary['good_records'].get(name, 0)
                                   for name in self._split_names}
        rule_text = exec_properties.get('split_rule')
        if rule_text:
            has_validate = splits.VALIDATE in self._input_names
            summary['split_rule'] = splits.SplitRule.from_json(rule_text).describe(has_validate)
            examples.set_string_custom_property('split_rule', summary['split_rule'])
        artifact_files.write_json(examples.uri, artifact_files.BAD_RECORDS, summary)
        examples.set_string_custom_property('unread_files', json.dumps(self._unread_files))
        examples.set_int_custom_property('unread_count', self._unread_count)
        quarantine = os.path.join(examples.uri, artifact_files.QUARANTINE_DIR)
        markdown = os.path.join(examples.uri, artifact_files.BAD_RECORDS_MARKDOWN)
        with tf.io.gfile.GFile(markdown, 'w') as f:
            f.write(render_markdown(summary, policy, quarantine, duplicate_policy))
        bad = summary['bad_records']
        examples.set_int_custom_property('bad_records', bad)
        examples.set_int_custom_property('records_read', summary['records_read'])
        examples.set_string_custom_property('bad_records_policy', policy)
        examples.set_string_custom_property('duplicates_policy', duplicate_policy)
        examples.set_int_custom_property('duplicate_records', summary['duplicates'])
        examples.set_string_custom_property(
            'split_sizes', json.dumps(summary['good_records']))
        examples.set_string_custom_property('bad_records_by_kind',
                                            json.dumps(summary['by_kind'], sort_keys=True))
        examples.set_int_custom_property('videos_truncated_to_300_frames',
                                         summary['videos_truncated_to_300_frames'])
        logger.info('Ingestion: %d records read, %d flawed %s, %d truncated to 300 frames',
                    summary['records_read'], bad, summary['by_kind'],
                    summary['videos_truncated_to_300_frames'])
        stop = stop_reason(bad, summary['records_read'], policy, max_fraction,
                           summary['duplicates'], duplicate_policy,
                           summary['by_kind'].get(GZIP_FILE, 0))
        if stop:
            for split in artifact_utils.decode_split_names(examples.split_names):
                split_uri = artifact_utils.get_split_uri([examples], split)
                if tf.io.gfile.exists(split_uri):
                    tf.io.gfile.rmtree(split_uri)
            listed = '\n  '.join(describe(p) for p in summary['listed'])
            raise BadDataError(f'{stop}\nProblems by kind: {summary["by_kind"]}. '
                               f'Full list: {markdown}\n  {listed}')
        sample = output_dict.get('sample')
        if sample:
            write_sample(artifact_utils.get_single_instance(sample), examples, summary,
                         self._split_names)
