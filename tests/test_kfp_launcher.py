"""tools.kfp_launcher on hand-made specs: order, hand-over and clear failures."""

import json
import sys

import pytest
import yaml

from tools import kfp_launcher


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


def test_each_task_s_own_peak_memory_is_measured(tmp_path):
    # `first` holds 300 MB; `second` holds nothing: the figure is per process.
    task = REPORTING_TASK + (
        "\nif executor_input['inputs']['artifacts'].get('data') is None:\n"
        "    import time\n"
        "    block = b'x' * (300 * 2 ** 20)\n"
        "    time.sleep(5 * kfp_launcher_poll)\n").replace(
        'kfp_launcher_poll', str(kfp_launcher.MEMORY_POLL_SECONDS))
    wire = {'inputs': {'artifacts': {'data': {'taskOutputArtifact': {
        'producerTask': 'first', 'outputArtifactKey': 'data'}}}}}
    spec, project = _spec(tmp_path, {'second': wire, 'first': {}}, [sys.executable, '-c', task])
    launcher = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project)
    launcher.run()
    assert launcher.peak_rss_bytes['first'] > 300 * 2 ** 20
    assert launcher.peak_rss_bytes['second'] < 200 * 2 ** 20


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


# Records what the task was handed: its inputs' types and its outputs' names.
HANDOVER_TASK = '''
import json, sys
executor_input = json.loads(sys.argv[1])
inputs = executor_input['inputs']['artifacts'].get('data', {}).get('artifacts', [])
planned = executor_input['outputs']['artifacts']['data']['artifacts'][0]
with open(executor_input['outputs']['outputFile'], 'w') as f:
    json.dump({'artifacts': {'data': {'artifacts': [dict(planned, metadata={
        'input_types': [a['type'] for a in inputs],
        'outputs': sorted(executor_input['outputs']['artifacts'])})]}}}, f)
'''
WIRE = {'inputs': {'artifacts': {'data': {'taskOutputArtifact': {
    'producerTask': 'first', 'outputArtifactKey': 'data'}}}}}


def test_open_source_kfp_hands_over_typeless_inputs_and_an_executor_logs_output(tmp_path):
    spec, project = _spec(tmp_path, {'second': WIRE, 'first': {}},
                          ['python', '-c', HANDOVER_TASK])
    produced = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project, backend='kfp').run()
    (second,) = produced['second']['data']
    # Lists come back from ML Metadata wrapped, as KFP's converter stores them.
    assert second['metadata']['input_types'] == {'list': [{'instanceSchema': ''}]}
    assert second['metadata']['outputs'] == {'list': ['data', 'executor-logs']}
    (logs,) = produced['second']['executor-logs']
    assert logs['type'] == {'schemaTitle': 'system.Artifact'}
    assert second['name'].isdigit()          # an MLMD id, as KFP names artifacts
    # Vertex AI hands the producer's type over and adds no output.
    produced = kfp_launcher.Launcher(spec, str(tmp_path / 'run_v'), project,
                                     backend='vertex').run()
    (second,) = produced['second']['data']
    assert second['metadata']['input_types'] == [{'schemaTitle': 'system.Artifact'}]
    assert second['metadata']['outputs'] == ['data']


# Writes fixed metadata of every JSON kind, and what it was handed.
METADATA_TASK = '''
import json, sys
executor_input = json.loads(sys.argv[1])
inputs = executor_input['inputs']['artifacts'].get('data', {}).get('artifacts', [])
planned = executor_input['outputs']['artifacts']['data']['artifacts'][0]
metadata = {'flag': True, 'count': 3, 'ratio': 0.5, 'ids': [1, 2], 'info': {'a': 'b'},
            'text': 'x', '_kfp_workspace': True, 'seen': inputs[0]['metadata'] if inputs else {}}
with open(executor_input['outputs']['outputFile'], 'w') as f:
    json.dump({'artifacts': {'data': {'artifacts': [dict(planned, metadata=metadata)]}}}, f)
'''


def test_kfp_hands_on_what_ml_metadata_keeps_of_a_producers_metadata(tmp_path):
    spec, project = _spec(tmp_path, {'second': WIRE, 'first': {}},
                          ['python', '-c', METADATA_TASK])
    produced = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project, backend='kfp').run()
    seen = produced['second']['data'][0]['metadata']['seen']['struct']
    session = json.loads(seen.pop('store_session_info'))
    assert session == {'Provider': 'file', 'Params': {'fromEnv': 'true'}}
    # converter.go: bool -> int, numbers -> double, list and struct wrapped; the
    # workspace flag is not kept; the output's name is added.
    assert seen == {'flag': 1, 'count': 3, 'ratio': 0.5, 'ids': {'list': [1, 2]},
                    'info': {'struct': {'a': 'b'}}, 'text': 'x', 'seen': {'struct': {}},
                    'display_name': 'data'}
    # KFP stores no null: recording the output fails, naming task and output.
    null_task = METADATA_TASK.replace("'text': 'x'", "'text': None")
    (tmp_path / 'null').mkdir()
    spec, project = _spec(tmp_path / 'null', {'first': {}}, ['python', '-c', null_task])
    with pytest.raises(kfp_launcher.LaunchError,
                       match=r"first: output 'data' cannot be recorded in ML Metadata: "
                             r"metadata 'text': unknown/unsupported value type NoneType"):
        kfp_launcher.Launcher(spec, str(tmp_path / 'null' / 'run'), project, backend='kfp').run()


def test_argo_refuses_dotted_and_underscored_task_names(tmp_path):
    spec, project = _spec(tmp_path, {'Trainer.dbof': {}, 'student_1': {}, 'Trainer-dbof': {}},
                          ['python', '-c', 'pass'])
    with pytest.raises(kfp_launcher.LaunchError,
                       match=r"Argo refuses .*\['Trainer\.dbof', 'Trainer\.dbof-driver', "
                             r"'student_1', 'student_1-driver'\]"):
        kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project, backend='kfp')


def test_the_kfp_cache_reuses_a_task_only_when_its_key_is_unchanged(tmp_path):
    cached = {'cachingOptions': {'enableCache': True}}
    spec, project = _spec(tmp_path, {'first': dict(cached), 'second': {**WIRE, **cached},
                                     'live': {'cachingOptions': {'enableCache': False}}},
                          ['python', '-c', HANDOVER_TASK])
    cache = str(tmp_path / 'cache')
    first_run = kfp_launcher.Launcher(spec, str(tmp_path / 'run1'), project, 'kfp', cache)
    first_run.run()
    assert first_run.cached == []
    again = kfp_launcher.Launcher(spec, str(tmp_path / 'run2'), project, 'kfp', cache)
    again.run()
    assert sorted(again.cached) == ['first', 'second']      # 'live' opted out: it ran
    assert again.produced['second'] == first_run.produced['second']
    # A changed container command changes the key: every task runs again.
    edited = yaml.safe_load(open(spec))
    edited['deploymentSpec']['executors']['step_executor']['container']['command'][0] = 'python3'
    changed = tmp_path / 'changed.yaml'
    changed.write_text(yaml.safe_dump(edited))
    third = kfp_launcher.Launcher(str(changed), str(tmp_path / 'run3'), project, 'kfp', cache)
    third.run()
    assert third.cached == []


# Reports the object-store settings it was started with.
ENV_TASK = '''
import json, os, sys
executor_input = json.loads(sys.argv[1])
planned = executor_input['outputs']['artifacts']['data']['artifacts'][0]
seen = {k: v for k, v in os.environ.items() if k.startswith(('AWS_', 'S3_'))}
with open(executor_input['outputs']['outputFile'], 'w') as f:
    json.dump({'artifacts': {'data': {'artifacts': [dict(planned, metadata={'env': seen})]}}}, f)
'''


def test_a_kfp_task_takes_the_store_from_the_spec_and_its_secret_not_from_here(
        tmp_path, monkeypatch):
    spec, project = _spec(tmp_path, {'first': {}}, ['python', '-c', ENV_TASK])
    docs = [yaml.safe_load(open(spec))]
    docs[0]['deploymentSpec']['executors']['step_executor']['container']['env'] = [
        {'name': 'AWS_ENDPOINT_URL', 'value': 'http://minio:9000'}]
    docs.append({'platforms': {'kubernetes': {'deploymentSpec': {'executors': {
        'step_executor': {'secretAsEnv': [{'secretName': 'minio', 'keyToEnv': [
            {'secretKey': 'accesskey', 'envVar': 'AWS_ACCESS_KEY_ID'},
            {'secretKey': 'secretkey', 'envVar': 'AWS_SECRET_ACCESS_KEY'}]}]}}}}}})
    with open(spec, 'w') as f:
        yaml.safe_dump_all(docs, f)
    # The machine that runs the launcher has keys of its own: no pod sees them.
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'outer')
    monkeypatch.setenv('S3_ENDPOINT', 'http://outer:9000')
    secrets = {'minio': {'accesskey': 'minio-user', 'secretkey': 'minio-pass'}}
    produced = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project, backend='kfp',
                                     secrets=secrets).run()
    assert produced['first']['data'][0]['metadata']['env'] == {'struct': {
        'AWS_ENDPOINT_URL': 'http://minio:9000', 'AWS_ACCESS_KEY_ID': 'minio-user',
        'AWS_SECRET_ACCESS_KEY': 'minio-pass'}}
    # A Secret the cluster does not have: the pod would not start.
    with pytest.raises(kfp_launcher.LaunchError, match='first: secret "minio" not found'):
        kfp_launcher.Launcher(spec, str(tmp_path / 'run2'), project, backend='kfp').run()


def test_a_mounted_volume_is_mapped_and_inputs_on_it_are_not_copied(tmp_path):
    from pipeline.kfp_entrypoint import BUCKET_ROOT_ENV, VOLUME_ROOT_ENV
    spec, project = _spec(tmp_path, {'second': WIRE, 'first': {}}, ['python', '-c', ENV_TASK])
    docs = [yaml.safe_load(open(spec))]
    docs[0]['deploymentSpec']['executors']['step_executor']['container']['env'] = [
        {'name': VOLUME_ROOT_ENV, 'value': '/mnt/yt8m'},
        {'name': BUCKET_ROOT_ENV, 'value': 'gs://b/root'}]
    docs.append({'platforms': {'kubernetes': {'deploymentSpec': {'executors': {
        'step_executor': {'pvcMount': [{'constant': 'yt8m-artifacts',
                                        'mountPath': '/mnt/yt8m'}]}}}}}})
    with open(spec, 'w') as f:
        yaml.safe_dump_all(docs, f)
    volume = tmp_path / 'volume'
    launcher = kfp_launcher.Launcher(spec, str(tmp_path / 'run'), project, backend='kfp',
                                     volumes={'yt8m-artifacts': str(volume)})
    component = launcher.spec['deploymentSpec']['executors']['step_executor']['container']
    env = launcher.task_environment('first', 'step_executor', component)
    assert env[VOLUME_ROOT_ENV] == str(volume)             # the mount, here
    assert env[BUCKET_ROOT_ENV] == launcher.run_root       # the bucket, here
    # Only what KFP downloads counts: bucket URIs, or the run root standing for it.
    assert launcher.copied('gs://b/x') and launcher.copied(launcher.run_root + '/t/o')
    assert not launcher.copied(str(volume / 'run' / 'first' / 'data'))
    with pytest.raises(kfp_launcher.LaunchError,
                       match='first: persistentvolumeclaim "yt8m-artifacts" not found'):
        kfp_launcher.Launcher(spec, str(tmp_path / 'run2'), project, backend='kfp').run()
