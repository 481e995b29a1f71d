"""Small real component inputs for tests and benchmarks (no pipeline run).

`make_inputs(root, num_videos)` writes generated YouTube-8M records as an
Examples artifact (GZIP TFRecords under Split-train/Split-select/Split-test, SequenceExample
payload), runs the project's `preprocessing_fn` once through TFT Beam into a
TransformGraph artifact, and exports an untrained-or-given teacher with the
serving contract into a Model artifact.
"""

from __future__ import annotations

import os
from typing import Optional

import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components import artifact_files
from yt8m import splits, synthetic

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'yt8m', 'schema.pbtxt')


def artifact(cls, uri):
    instance = cls()
    instance.uri = str(uri)
    os.makedirs(instance.uri, exist_ok=True)
    return instance


def _copy_records(sources, target_dir, keep=lambda record: True) -> int:
    os.makedirs(target_dir, exist_ok=True)
    count = 0
    with tf.io.TFRecordWriter(os.path.join(target_dir, 'data.gz'), options='GZIP') as writer:
        for record in tf.data.TFRecordDataset(sources):
            if keep(record.numpy()):
                writer.write(record.numpy())
                count += 1
    return count


def _split_of(record: bytes) -> str:
    video_id = tf.train.SequenceExample.FromString(record).context.feature['id']
    return splits.SplitRule().assign(video_id.bytes_list.value[0].decode(), splits.VALIDATE,
                                     has_validate=True)


def make_examples(root: str, num_videos: int, seed: int = 0, top_classes: int = 20):
    """Generated videos as an Examples artifact: ~80% train; the ~10% validate
    videos cut into select and test by the pipeline's hash rule."""
    data = os.path.join(root, 'raw')
    files = synthetic.generate(data, num_videos, seed=seed, top_classes=top_classes)
    examples = artifact(standard_artifacts.Examples, os.path.join(root, 'examples'))
    examples.split_names = '["train", "select", "test"]'
    examples.set_string_custom_property('payload_format', 'FORMAT_TF_SEQUENCE_EXAMPLE')
    counts = {splits.TRAIN: _copy_records(files['train'],
                                          os.path.join(examples.uri, 'Split-train'))}
    for split in (splits.SELECT, splits.TEST):
        counts[split] = _copy_records(
            files['validate'], os.path.join(examples.uri, f'Split-{split}'),
            keep=lambda record, split=split: _split_of(record) == split)
    # The counts YT8MExampleGen's Beam job writes (a Trainer's --epochs reads them).
    artifact_files.write_json(examples.uri, artifact_files.BAD_RECORDS,
                              {'good_records': counts, 'bad_records': 0})
    return examples


def make_transform_graph(root: str, examples) -> 'standard_artifacts.TransformGraph':
    """Runs `trainer.preprocessing.preprocessing_fn` through TFT Beam (DirectRunner)."""
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx.utils import io_utils
    from tfx_bsl.public import tfxio

    from trainer.preprocessing import preprocessing_fn

    graph = artifact(standard_artifacts.TransformGraph, os.path.join(root, 'transform_graph'))
    schema = io_utils.parse_pbtxt_file(SCHEMA_FILE, schema_pb2.Schema())
    source = tfxio.TFSequenceExampleRecord(
        file_pattern=os.path.join(examples.uri, 'Split-train', '*'),
        telemetry_descriptors=['distiller_test'], schema=schema)
    with beam.Pipeline(argv=['--direct_num_workers=1']) as pipeline, tft_beam.Context(
            temp_dir=os.path.join(root, 'tft_tmp')):
        raw = pipeline | source.BeamSource()
        transform_fn = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(
            preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(graph.uri)
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               os.path.join(graph.uri, 'metadata'))
    return graph


def export_teacher(root: str, transform_graph, family: str = 'dbof', preset: str = 'tiny',
                   model: Optional[object] = None, name: str = 'teacher'):
    """A Model artifact holding `model` (default: a fresh family/preset) with the contract."""
    import tensorflow_transform as tft

    from models import registry
    from trainer.export import export_serving_model

    teacher = artifact(standard_artifacts.Model, os.path.join(root, name))
    if model is None:
        tf.random.set_seed(0)
        model = registry.build_model(family, preset)
    export_serving_model(model, tft.TFTransformOutput(transform_graph.uri)
                         .transform_features_layer(),
                         path_utils.serving_model_dir(teacher.uri))
    return teacher
