"""The curated schema on real YouTube-8M bytes, through the real components.

YT8MExampleGen (train files only: select and test held out by a hash of `id`),
StatisticsGen, ImportSchemaGen, ExampleValidator and ValidationGate run on the
committed real records; no anomaly may stop the run.
"""

import glob
import shutil

from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from pipeline import configs
from pipeline.options import PipelinePaths, RunOptions
from pipeline.pipeline import data_validation_nodes
from tests.records import REAL_DIR


def test_real_records_pass_the_curated_schema(tmp_path):
    data_root = tmp_path / 'data'
    data_root.mkdir()
    for index, path in enumerate(sorted(REAL_DIR.glob('*.tfrecord'))):
        # The release names its shards train*.tfrecord; the redistributor did not.
        shutil.copy(path, data_root / f'train{index:04d}.tfrecord')
    paths = PipelinePaths(pipeline_root=str(tmp_path / 'root'), data_root=str(data_root),
                          serving_model_dir='', report_dir='', has_validate_files=False,
                          schema_file=configs.SCHEMA_FILE)
    data = data_validation_nodes(paths, RunOptions())
    LocalDagRunner().run(tfx_pipeline.Pipeline(
        pipeline_name='real_records', pipeline_root=str(tmp_path / 'root'),
        components=data.nodes,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(tmp_path / 'metadata.db')),
        beam_pipeline_args=['--direct_num_workers=1']))
    splits = glob.glob(str(tmp_path / 'root' / 'YT8MExampleGen' / 'examples' / '*' / 'Split-*'))
    assert {p.rsplit('-', 1)[-1] for p in splits} == {'train', 'select', 'test'}
