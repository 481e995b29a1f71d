"""YT8MExampleGen executor: every record checked at ingestion, in the Beam job.

Reads each input file in a worker (files spread with a Reshuffle, so the
check scales with the runner like ImportExampleGen's reading does), checks
its framing and every record with `yt8m.integrity`, and routes:

* good records (bytes) to the output splits, as ImportExampleGen would write
  them (GZIP TFRecords of SequenceExamples); with one input split, the
  train/eval partition is a hash of the video id, as configured;
* flawed records to the problem branch: their raw bytes go to
  `<examples>/Quarantine/` (skip policy), and the problems, counted by kind
  and listed up to `max_listed`, go to `<examples>/bad_records.json` and
  `bad_records.md`.

After the Beam job, the policy decides:
* `fail` (default): any flaw stops the run here, before any Trainer, with an
  error listing every problem found (up to the limit);
* `skip`: the run goes on without the flawed records, unless they exceed
  `max_bad_fraction` of all records (default 1%).
A stopped run removes its output splits, so no artifact that looks valid is
left. Nothing under the input base is ever written.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import json
import logging
import os
from typing import Any, Dict, List, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from yt8m import features, integrity

logger = logging.getLogger(__name__)

POLICIES = ('fail', 'skip')
DEFAULT_MAX_BAD_FRACTION = 0.01
DEFAULT_MAX_LISTED = 100
SUMMARY_FILE = 'bad_records.json'
MARKDOWN_FILE = 'bad_records.md'
QUARANTINE_DIR = 'Quarantine'
_PROBLEMS = 'problems'
_LONG = 'long_videos'


class BadDataError(ValueError):
    """The input holds flawed records and the policy says stop."""


class CheckFile(beam.DoFn):
    """One file in; (video id, record) out, flaws to the `problems` output."""

    def __init__(self, split: str):
        self.split = split

    def process(self, path: str):
        try:
            for index, offset, data, problem in integrity.framed_records(path):
                if problem is None:
                    kind, message, video_id, frames = integrity.find_problem(data)
                    if kind is not None:
                        problem = integrity.Problem(path, index, offset, kind, message,
                                                    video_id)
                if problem is not None:
                    yield beam.pvalue.TaggedOutput(
                        _PROBLEMS, (dict(dataclasses.asdict(problem), split=self.split), data))
                    continue
                if frames > features.MAX_FRAMES:
                    yield beam.pvalue.TaggedOutput(_LONG, video_id)
                yield video_id, data
        except integrity.BrokenFile as err:
            yield beam.pvalue.TaggedOutput(
                _PROBLEMS, (dict(dataclasses.asdict(err.problem), split=self.split), b''))


def split_files(input_base: str, pattern: str) -> List[str]:
    files = sorted(tf.io.gfile.glob(os.path.join(input_base, pattern)))
    if not files:
        raise FileNotFoundError(f'{input_base}: no file matches {pattern!r}')
    return files


def hash_partition(item: Tuple[str, bytes], num_partitions: int, buckets: List[int]) -> int:
    """ExampleGen's hash split, keyed on the video id (stable across re-encodings)."""
    bucket = int(hashlib.sha256(item[0].encode('utf-8')).hexdigest(), 16) % buckets[-1]
    return bisect.bisect(buckets, bucket)


def write_summary(_, uri: str, listed: List[dict], by_kind: Dict[str, int],
                  records: Dict[str, int], long_videos: int) -> None:
    """bad_records.json; `listed` is already the first `max_listed` problems in order."""
    bad = sum(by_kind.values())
    summary = {'records_read': sum(records.values()) + bad, 'good_records': records,
               'bad_records': bad, 'by_kind': by_kind,
               'videos_truncated_to_300_frames': long_videos, 'listed': listed}
    tf.io.gfile.makedirs(uri)
    with tf.io.gfile.GFile(os.path.join(uri, SUMMARY_FILE), 'w') as f:
        json.dump(summary, f, indent=1)


def describe(problem: dict) -> str:
    return integrity.Problem(**{k: v for k, v in problem.items() if k != 'split'}).describe()


def render_markdown(summary: dict, policy: str, quarantine: str) -> str:
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
    if policy == 'skip' and summary['bad_records']:
        lines += ['', f'Readable flawed records are kept, unchanged, in `{quarantine}`.']
    return '\n'.join(lines) + '\n'


def stop_reason(bad: int, records_read: int, policy: str, max_fraction: float) -> str:
    """Why the run must stop here ('' to go on), by the bad-records policy."""
    if bad and policy == 'fail':
        return (f'{bad} flawed record(s) in the input; the run stops before training '
                '(bad-records policy "fail"; "skip" leaves them out and quarantines them).')
    fraction = bad / max(records_read, 1)
    if fraction > max_fraction:
        return (f'{bad} of {records_read} records are flawed ({fraction:.2%}), more than '
                f'the allowed {max_fraction:.2%} (bad-records policy "skip", '
                'max_bad_fraction).')
    return ''


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

        checked = {}
        for split in input_config.splits:
            files = split_files(input_base, split.pattern)
            logger.info('Split %s: checking %d files (%s)', split.name, len(files),
                        split.pattern)
            checked[split.name] = (
                pipeline
                | f'Files[{split.name}]' >> beam.Create(files)
                | f'SpreadFiles[{split.name}]' >> beam.Reshuffle()
                | f'Check[{split.name}]' >> beam.ParDo(CheckFile(split.name)).with_outputs(
                    _PROBLEMS, _LONG, main='good'))

        goods = {}
        if output_config.split_config.splits:
            buckets, total = [], 0
            for split in output_config.split_config.splits:
                total += split.hash_buckets
                buckets.append(total)
            (only,) = checked.values()
            parts = only.good | 'SplitById' >> beam.Partition(hash_partition, len(buckets),
                                                              buckets)
            goods = dict(zip(split_names, parts))
        else:
            goods = {name: checked[name].good for name in split_names}

        self._add_problem_branch(pipeline, checked, goods, exec_properties)
        return {name: good | f'Records[{name}]' >> beam.Map(lambda item: item[1])
                for name, good in goods.items()}

    def _add_problem_branch(self, pipeline, checked, goods, exec_properties) -> None:
        uri = self._examples_uri
        max_listed = int(exec_properties.get('max_listed') or DEFAULT_MAX_LISTED)
        problems = ([c[_PROBLEMS] for c in checked.values()]
                    | 'AllProblems' >> beam.Flatten())
        long_videos = ([c[_LONG] for c in checked.values()]
                       | 'AllLongVideos' >> beam.Flatten()
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
        if exec_properties.get('bad_records') == 'skip':
            _ = (problems
                 | 'Readable' >> beam.Filter(lambda item: bool(item[1]))
                 | 'RawBytes' >> beam.Map(lambda item: item[1])
                 | 'Quarantine' >> beam.io.WriteToTFRecord(
                     os.path.join(uri, QUARANTINE_DIR, 'flawed'),
                     file_name_suffix='.tfrecord'))

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        policy = exec_properties.get('bad_records') or 'fail'
        if policy not in POLICIES:
            raise ValueError(f'bad_records must be one of {POLICIES}, got {policy!r}')
        max_fraction = float(exec_properties.get('max_bad_fraction')
                             if exec_properties.get('max_bad_fraction') is not None
                             else DEFAULT_MAX_BAD_FRACTION)
        examples = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.EXAMPLES_KEY])
        self._examples_uri = examples.uri
        super().Do(input_dict, output_dict, exec_properties)

        with tf.io.gfile.GFile(os.path.join(examples.uri, SUMMARY_FILE)) as f:
            summary = json.load(f)
        quarantine = os.path.join(examples.uri, QUARANTINE_DIR)
        markdown = os.path.join(examples.uri, MARKDOWN_FILE)
        with tf.io.gfile.GFile(markdown, 'w') as f:
            f.write(render_markdown(summary, policy, quarantine))
        bad = summary['bad_records']
        examples.set_int_custom_property('bad_records', bad)
        examples.set_int_custom_property('records_read', summary['records_read'])
        examples.set_string_custom_property('bad_records_policy', policy)
        examples.set_string_custom_property('bad_records_by_kind',
                                            json.dumps(summary['by_kind'], sort_keys=True))
        examples.set_int_custom_property('videos_truncated_to_300_frames',
                                         summary['videos_truncated_to_300_frames'])
        logger.info('Ingestion: %d records read, %d flawed %s, %d truncated to 300 frames',
                    summary['records_read'], bad, summary['by_kind'],
                    summary['videos_truncated_to_300_frames'])
        stop = stop_reason(bad, summary['records_read'], policy, max_fraction)
        if stop:
            for split in artifact_utils.decode_split_names(examples.split_names):
                split_uri = artifact_utils.get_split_uri([examples], split)
                if tf.io.gfile.exists(split_uri):
                    tf.io.gfile.rmtree(split_uri)
            listed = '\n  '.join(describe(p) for p in summary['listed'])
            raise BadDataError(f'{stop}\nProblems by kind: {summary["by_kind"]}. '
                               f'Full list: {markdown}\n  {listed}')
