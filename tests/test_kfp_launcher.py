"""pipeline.kfp_launcher on hand-made specs: order, hand-over and clear failures."""

import sys

import pytest
import yaml

from pipeline import kfp_launcher


def _spec(tmp_path, tasks, command, args=('{{$}}',)):
    """A spec whose every task runs one container command of component 'step'."""
    spec = {
        'pipelineInfo': {'name': 'toy'},
        'root': {'dag': {'tasks': {
            name: {'componentRef': {'name': 'step'}, 'taskInfo': {'name': name}, **task}
            for name, task in tasks.items()}}},
        'components': {'step': {
            'executorLabel': 'step_executor',
            'inputDefinitions': {'artifacts': {'data': {'artifactType': {
                'schemaTitle': 'system.Artifact'}}}},
            'outputDefinitions': {'artifacts': {'data': {'artifactType': {
                'schemaTitle': 'system.Artifact'}}}}}},
        'deploymentSpec': {'executors': {'step_executor': {'container': {
            'image': 'toy', 'command': list(command), 'args': list(args)}}}}}
    path = tmp_path / 'spec.yaml'
    path.write_text(yaml.safe_dump(spec))
    project = tmp_path / 'project'
    project.mkdir()
    (project / 'Dockerfile').write_text('FROM python:3.10-slim\nENV TOY_HOME=/pipeline/toy\n')
    return str(path), str(project)


# Writes an ExecutorOutput that reports its input's metadata plus one, and the env.
REPORTING_TASK = '''
import json, os, sys
executor_input = json.loads(sys.argv[1])
inputs = executor_input['inputs']['artifacts'].get('data', {}).get('artifacts', [])
count = inputs[0]['metadata']['count'] + 1 if inputs else 1
planned = executor_input['outputs']['artifacts']['data']['artifacts'][0]
with open(executor_input['outputs']['outputFile'], 'w') as f:
    json.dump({'artifacts': {'data': {'artifacts': [dict(planned, metadata={
        'count': count, 'toy_home': os.environ['TOY_HOME']})]}}}, f)
'''


def test_tasks_run_in_order_and_hand_their_artifacts_on(tmp_path):
    wire = {'inputs': {'artifacts': {'data': {'taskOutputArtifact': {
        'producerTask': 'first', 'outputArtifactKey': 'data'}}}}}
    spec, project = _spec(tmp_path, {'second': wire, 'first': {}},
                          ['python', '-c', REPORTING_TASK])
    produced = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project).run()
    (second,) = produced['second']['data']
    assert second['metadata'] == {'count': 2, 'toy_home': f'{project}/toy'}


def test_a_failing_task_names_itself_and_its_log_and_stops_the_run(tmp_path):
    fail = 'import sys; print("disk full"); sys.exit(3)'
    spec, project = _spec(tmp_path, {'first': {}, 'second': {'dependentTasks': ['first']}},
                          [sys.executable, '-c', fail])
    launcher = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project)
    with pytest.raises(kfp_launcher.LaunchError,
                       match=r'(?s)task first exited with 3; log .*first/task.log.*disk full'):
        launcher.run()
    assert 'second' not in launcher.produced


def test_cycles_unknown_tasks_and_placeholders_are_refused(tmp_path):
    with pytest.raises(kfp_launcher.LaunchError, match='dependency cycle: a -> b -> a'):
        kfp_launcher.topological_order({'a': {'dependentTasks': ['b']},
                                        'b': {'dependentTasks': ['a']}})
    with pytest.raises(kfp_launcher.LaunchError, match="a depends on unknown task 'ghost'"):
        kfp_launcher.topological_order({'a': {'dependentTasks': ['ghost']}})
    spec, project = _spec(tmp_path, {'first': {}}, ['python'],
                          args=["{{$.inputs.parameters['x']}}"])
    with pytest.raises(kfp_launcher.LaunchError, match=r"first: placeholder \{\{\$\.inputs"):
        kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project).run()
    assert kfp_launcher.reported_artifacts(str(tmp_path / 'no_output.json')) == {}
