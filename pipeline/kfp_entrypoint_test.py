"""The task entrypoint repairs what open-source KFP hands over, and leaves Vertex's alone."""

import json

import pytest

from pipeline import kfp_entrypoint

EXAMPLES = {'instanceSchema': 'title: tfx.Examples\ntype: object\n'}
SCORES = {'instanceSchema': 'title: yt8m.TeacherScores\ntype: object\n'}
INPUTS_SPEC = {'artifacts': {'examples': {'artifactType': EXAMPLES}}}


def _executor_input(input_type):
    return {'inputs': {'artifacts': {'examples': {'artifacts': [
                {'name': '17', 'uri': 'gs://b/examples', 'type': input_type,
                 'metadata': {'split_names': '["train", "eval"]'}}]}}},
            'outputs': {'artifacts': {
                'teacher_scores': {'artifacts': [{'uri': 'gs://b/scores', 'type': SCORES}]},
                'executor-logs': {'artifacts': [{'uri': 'gs://b/logs',
                                                 'type': {'schemaTitle': 'system.Artifact'}}]}},
                        'outputFile': '/tmp/kfp_outputs/output_metadata.json'}}


def test_typeless_inputs_get_their_declared_type_and_kfp_outputs_are_dropped():
    executor_input = _executor_input({'instanceSchema': ''})   # as KFP 2.5's driver sends it
    changes = kfp_entrypoint.repair_executor_input(
        executor_input, INPUTS_SPEC, kfp_entrypoint.custom_class_paths())
    (examples,) = executor_input['inputs']['artifacts']['examples']['artifacts']
    assert examples['type'] == EXAMPLES and examples['metadata']['split_names']
    outputs = executor_input['outputs']['artifacts']
    assert sorted(outputs) == ['teacher_scores']
    assert outputs['teacher_scores']['artifacts'][0]['type'] == {
        'schemaTitle': 'components.artifacts.TeacherScores'}
    assert len(changes) == 2


def test_typed_inputs_pass_unchanged_as_vertex_sends_them():
    executor_input = _executor_input(EXAMPLES)
    executor_input['outputs']['artifacts'].pop('executor-logs')
    changes = kfp_entrypoint.repair_executor_input(
        executor_input, INPUTS_SPEC, kfp_entrypoint.custom_class_paths())
    assert changes == []
    assert executor_input['inputs']['artifacts']['examples']['artifacts'][0]['type'] == EXAMPLES


def test_a_typeless_input_the_task_does_not_declare_is_named():
    with pytest.raises(ValueError, match="input 'examples' arrived without a type"):
        kfp_entrypoint.repair_executor_input(_executor_input({}), {'artifacts': {}}, {})


def test_the_repaired_input_parses_as_tfx_parses_it():
    """TFX 1.16's own parser takes what the repair leaves (it fails on the typeless one)."""
    from kfp.pipeline_spec import pipeline_spec_pb2
    from google.protobuf import json_format
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    raw = _executor_input({'instanceSchema': ''})
    parsed = json_format.ParseDict(raw, pipeline_spec_pb2.ExecutorInput())
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'get'"):
        utils.parse_raw_artifact_dict(parsed.inputs.artifacts)
    argv = kfp_entrypoint.repaired_argv([
        '--executor_class_path', 'x.Executor',
        '--json_serialized_invocation_args', json.dumps(raw),
        '--json_serialized_inputs_spec_args', json.dumps(INPUTS_SPEC)])
    repaired = json_format.ParseDict(json.loads(argv[3]), pipeline_spec_pb2.ExecutorInput())
    (examples,) = utils.parse_raw_artifact_dict(repaired.inputs.artifacts)['examples']
    assert examples.TYPE_NAME == 'Examples' and examples.uri == 'gs://b/examples'
    (scores,) = utils.parse_raw_artifact_dict(repaired.outputs.artifacts)['teacher_scores']
    assert scores.TYPE_NAME == 'yt8m.TeacherScores'


def test_outputs_planned_in_the_bucket_are_written_on_the_volume():
    executor_input = {'outputs': {'artifacts': {
        'examples': {'artifacts': [{'uri': 'gs://b/root/run-1/YT8MExampleGen/examples'}]},
        'other': {'artifacts': [{'uri': 'gs://elsewhere/x'}]}}}}
    changes = kfp_entrypoint.outputs_onto_volume(executor_input, 'gs://b/root/', '/mnt/yt8m')
    artifacts = executor_input['outputs']['artifacts']
    assert artifacts['examples']['artifacts'][0]['uri'] == '/mnt/yt8m/run-1/YT8MExampleGen/examples'
    assert artifacts['other']['artifacts'][0]['uri'] == 'gs://elsewhere/x'
    assert len(changes) == 1


def test_every_project_type_imports_by_its_title_without_the_entrypoint():
    """TFX code that runs outside the entrypoint (Vertex AI's ExampleGen hook)
    imports an artifact class by its title, `yt8m.VideoSample`."""
    from tfx.utils import import_utils
    from components import artifacts
    for cls in artifacts.BY_CLASS_NAME.values():
        assert import_utils.import_class_by_path(cls.TYPE_NAME) is cls
