"""Runner-level bad input and the Kubeflow v2 compile."""

import json

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_runner
import local_runner
from pipeline.pipeline import check_families


def test_unknown_family_fails_before_anything():
    with pytest.raises(ValueError, match=r"unknown model families \['resnet'\]"):
        check_families(['dbof', 'resnet'])


def test_data_root_without_matching_files(tmp_path):
    (tmp_path / 'notes.txt').write_text('not data')
    with pytest.raises(FileNotFoundError, match='no train files'):
        local_runner.main(['--data-root', str(tmp_path), '--output-root', str(tmp_path / 'out')])
    with pytest.raises(FileNotFoundError, match='does not exist'):
        local_runner.main(['--data-root', str(tmp_path / 'missing'),
                           '--output-root', str(tmp_path / 'out')])


def test_unwritable_output_root(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(PermissionError, match='output root is not writable'):
        local_runner.main(['--output-root', str(blocker / 'out')])


def test_beam_arguments_pass_through():
    args = local_runner.parse_args(['--families', 'dbof', '--', '--runner=DirectRunner'])
    assert args.beam_args == ['--runner=DirectRunner'] and args.families == ['dbof']


def test_kubeflow_v2_spec_compiles_and_is_runnable(tmp_path):
    output = tmp_path / 'pipeline.yaml'
    kubeflow_runner.main(['--output', str(output), '--image', 'example.com/yt8m:1',
                          '--families', 'dbof,netvlad', '--distill', 'logistic,dbof'])
    with open(output) as f:
        spec_dict = yaml.safe_load(f)
    spec = json_format.ParseDict(spec_dict, pipeline_spec_pb2.PipelineSpec(),
                                 ignore_unknown_fields=True)
    tasks = spec.root.dag.tasks
    assert {'Trainer.dbof', 'Trainer.netvlad', 'Evaluator.dbof', 'Pusher.netvlad',
            'Transform', 'Report', 'Quantizer.dbof', 'EnsembleBuilder', 'Pusher.ensemble',
            'Distiller.student_1', 'Distiller.student_2', 'Pusher.student_2'} <= set(tasks)
    executors = spec.deployment_spec['executors']
    for name, task in tasks.items():
        component = spec.components[task.component_ref.name]
        assert component.executor_label in executors, name
        container = executors[component.executor_label]['container']
        assert container['image'] == 'example.com/yt8m:1', name
    # Open-source KFP v2 cannot run TFX Resolver nodes (importer tasks are fine).
    assert not any('resolver' in name.lower() for name in tasks)
    assert json.dumps(spec_dict).count('LatestBlessedModel') == 0
