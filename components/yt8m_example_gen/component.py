"""YT8MExampleGen: ImportExampleGen for YouTube-8M files, with every record checked.

ImportExampleGen reads TFRecords with Beam's reader, which loses the file a
record came from: a truncated file fails with a byte dump, and a record with
a wrong frame size passes ingestion and fails an hour later in a Trainer,
naming nothing. This ExampleGen reads each file itself and checks framing,
CRCs and the frame-level format of every record (`yt8m.integrity`), so each
flaw is named by file, record index, byte offset and video id before any
Trainer starts. The policy for flawed records is `bad_records`:

* 'fail' (default): stop, listing every flaw found (up to `max_listed`);
* 'skip': leave them out, keep their bytes in `<examples>/Quarantine/`, count
  them on the Examples artifact (`bad_records`, `bad_records_by_kind`), and
  stop anyway when they exceed `max_bad_fraction` of the records (1%).

A video id read twice (in two splits, a leak that would inflate every
figure; or twice in one split) is caught too, both places named; the policy
is `duplicates`: 'fail' (default) or 'keep-first' (the later copies are
quarantined and counted like flawed records). With a `split_rule` the input
splits `train` and `validate` become train, select and test by a stable hash
of the video id (`yt8m/splits.py`).

It is a FileBasedExampleGen, so the driver's span/version/fingerprint
handling of `input_base` (and so the lineage of the data) is unchanged.
"""

from __future__ import annotations

from typing import Optional

from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import channel, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import code_version
from components.artifacts import VideoSample
from components.yt8m_example_gen import executor
from yt8m import splits


class YT8MExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        'bad_records': ExecutionParameter(type=str),
        'max_bad_fraction': ExecutionParameter(type=float),
        'max_listed': ExecutionParameter(type=int),
        # Repeated video ids: 'fail' (default) or 'keep-first'.
        'duplicates': ExecutionParameter(type=str, optional=True),
        # yt8m.splits.SplitRule as JSON: the inputs (train, validate) become
        # train, select and test by a hash of the video id. None: the output
        # splits are the input splits.
        'split_rule': ExecutionParameter(type=str, optional=True),
        # The input files' fingerprint when the pipeline was compiled for a
        # backend that runs no driver hook (open-source KFP): a parameter, so
        # part of the backend's cache key; new data then never hits the cache.
        'data_fingerprint': ExecutionParameter(type=str, optional=True),
        **code_version.PARAMETERS,
    }
    OUTPUTS = {
        **standard_component_specs.FileBasedExampleGenSpec.OUTPUTS,
        # A few test videos and bad_records.json, for the Report.
        'sample': ChannelParameter(type=VideoSample),
    }


class YT8MExampleGen(FileBasedExampleGen):
    SPEC_CLASS = YT8MExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, input_base: str, input_config: example_gen_pb2.Input,
                 split_rule: Optional[splits.SplitRule] = None,
                 bad_records: str = 'fail',
                 max_bad_fraction: float = executor.DEFAULT_MAX_BAD_FRACTION,
                 max_listed: int = executor.DEFAULT_MAX_LISTED,
                 duplicates: str = 'fail',
                 data_fingerprint: Optional[str] = None):
        if bad_records not in executor.POLICIES:
            raise ValueError(f'bad_records must be one of {executor.POLICIES}, '
                             f'got {bad_records!r}')
        if duplicates not in executor.DUPLICATE_POLICIES:
            raise ValueError(f'duplicates must be one of {executor.DUPLICATE_POLICIES}, '
                             f'got {duplicates!r}')
        if not 0 <= max_bad_fraction <= 1:
            raise ValueError(f'max_bad_fraction must be in [0, 1], got {max_bad_fraction}')
        spec = YT8MExampleGenSpec(
            input_base=input_base, input_config=input_config,
            output_config=example_gen_pb2.Output(),
            split_rule=split_rule.to_json() if split_rule else None, duplicates=duplicates,
            output_data_format=example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            bad_records=bad_records, max_bad_fraction=float(max_bad_fraction),
            max_listed=int(max_listed), data_fingerprint=data_fingerprint,
            examples=channel.Channel(type=standard_artifacts.Examples),
            sample=channel.Channel(type=VideoSample))
        # Skip FileBasedExampleGen.__init__ (it builds its own spec).
        super(FileBasedExampleGen, self).__init__(spec=spec)
