"""Runner-level bad input and the Kubeflow v2 compile."""

import http.server
import json
import os
import re
import subprocess
import sys
import threading

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

import kubeflow_runner
import local_runner
from pipeline import kfp_spec
from pipeline.options import RunOptions


def test_unknown_family_fails_before_anything():
    with pytest.raises(ValueError, match=r"unknown model family 'resnet'"):
        RunOptions(families=('dbof', 'resnet'))
    with pytest.raises(ValueError, match=r"unknown model family 'gru2'"):
        RunOptions(distill=('gru2',))


def test_teacher_folds_reach_the_members_only_and_bad_values_are_refused():
    options = local_runner.parse_args(['--teacher-folds', '3', '--distill-lambda', '0.3']).options
    assert options.training_config('dbof').teacher_folds == 3
    assert options.training_config('dbof', student=True).teacher_folds == 0
    assert options.distill_lambda == 0.3
    # No students: no teacher, so no fold copies to train.
    assert RunOptions(distill=()).training_config('dbof').teacher_folds == 0
    with pytest.raises(ValueError, match='teacher_folds'):
        RunOptions(teacher_folds=1)
    with pytest.raises(ValueError, match='distill_lambda'):
        RunOptions(distill_lambda=1.5)


@pytest.mark.parametrize('runner,roots', [
    (local_runner, []),
    (kubeflow_runner, ['--pipeline-root', 'gs://b/root', '--data-root', 'gs://b/data'])])
def test_a_typo_in_a_training_option_fails_at_compile_time(runner, roots, capsys):
    """Every Trainer's and Distiller's TrainingConfig is built from the flags."""
    if runner is kubeflow_runner:
        with pytest.raises(SystemExit):
            runner.parse_args(roots + ['--training-option', 'ema_gama=0.01'])
        assert "unknown training options ['ema_gama']" in capsys.readouterr().err
    else:   # local_runner.main reports it with the log path (test_usual_mistakes_in_the_flags)
        args = runner.parse_args(['--training-option', 'ema_gama=0.01'])
        assert "unknown training options ['ema_gama']" in args.options_error
    options = runner.parse_args(roots + ['--training-option', 'ema_gamma=0.01',
                                         '--training-option', 'eval_examples=512']).options
    assert options.training_config('dbof').ema_gamma == 0.01
    assert options.training_config('netvlad').eval_examples == 512


def _stops_before_the_run(capsys, argv, message):
    """Exit code 2, the cause in one line on stderr, and the path of a log that holds it."""
    assert local_runner.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and 'Traceback' not in err, err
    log_path = re.search(r'Full log: (\S+)', err).group(1)
    assert message in open(log_path).read()


def test_data_root_without_matching_files(tmp_path, capsys):
    (tmp_path / 'notes.txt').write_text('not data')
    out = ['--output-root', str(tmp_path / 'out')]
    _stops_before_the_run(capsys, ['--data-root', str(tmp_path), *out], 'no train files')
    _stops_before_the_run(capsys, ['--data-root', str(tmp_path / 'missing'), *out],
                          'does not exist')


def test_unwritable_output_root(tmp_path, capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    _stops_before_the_run(capsys, ['--output-root', str(blocker / 'out')],
                          'output root is not writable')


@pytest.mark.parametrize('flags,message', [
    (['--families', 'dbof,resnet'], "unknown model family 'resnet'"),
    (['--preset', 'huge'], "unknown preset 'huge'"),
    (['--epochs', '0'], 'epochs must be > 0'),
    (['--batch-size', '0'], 'batch_size must be >= 1'),
    (['--training-option', 'ema_gama=0.01'], "unknown training options ['ema_gama']"),
])
def test_usual_mistakes_in_the_flags(tmp_path, capsys, flags, message):
    _stops_before_the_run(capsys, [*flags, '--output-root', str(tmp_path / 'out')], message)


def test_out_of_memory_names_the_preset_and_batch_size_to_lower():
    import tensorflow as tf
    from pipeline import console
    error = tf.errors.ResourceExhaustedError(None, None, 'OOM when allocating tensor')
    assert console.failure_message('Trainer-netvlad', error, 64, 'seed') == (
        'Trainer-netvlad failed: out of memory; lower --batch-size (now 64) or choose a '
        'smaller --preset (now seed).')


def test_beam_arguments_pass_through():
    args = local_runner.parse_args(['--families', 'dbof', '--', '--runner=DirectRunner'])
    assert args.beam_args == ['--runner=DirectRunner'] and args.options.families == ('dbof',)


# One compile serves every spec test (a compile costs ~15 s on 2 cores): the
# run options are shared with local_runner.py, the rest is Kubeflow's own.
SHARED_FLAGS = ['--families', 'dbof,netvlad', '--preset', 'seed', '--quantization', 'float16',
                '--size-budget-bytes', '5000000', '--choose-subset', '--ema-steps', '7',
                '--bad-records', 'skip', '--max-bad-fraction', '0.05',
                '--distribution', 'mirrored', '--distill', 'logistic,dbof',
                '--train-examples', '640', '--learning-rate', '0.002']


@pytest.fixture(scope='module')
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp('kfp')
    resources = root / 'resources.json'
    resources.write_text(json.dumps({
        'Trainer-dbof': {'gpu_type': 'nvidia-tesla-t4', 'gpu_count': 2},
        'EnsembleBuilder': {'memory_gb': 48}}))
    output = root / 'pipeline.yaml'
    kubeflow_runner.main(SHARED_FLAGS + [
        '--output', str(output), '--image', 'example.com/yt8m:1',
        '--pipeline-root', 'gs://bucket/yt8m', '--data-root', 'gs://bucket/frame',
        '--resources', str(resources), '--no-data-fingerprint', *STORE_FLAGS])
    return output


# MinIO as stock KFP installs it: its Secret and the keys it names; and a
# ReadWriteMany volume for the artifacts.
STORE_FLAGS = ['--object-store-endpoint', 'http://minio-service.kubeflow:9000',
               '--object-store-secret', 'mlpipeline-minio-artifact',
               '--object-store-secret-keys', 'accesskey,secretkey',
               '--artifact-volume', 'yt8m-artifacts:/mnt/yt8m']


def test_kubeflow_v2_spec_compiles_and_is_runnable(compiled, tmp_path):
    output = compiled
    spec_dict = kfp_spec.load(str(output))[0]
    spec = json_format.ParseDict(spec_dict, pipeline_spec_pb2.PipelineSpec(),
                                 ignore_unknown_fields=True)
    tasks = spec.root.dag.tasks
    assert {'Trainer-dbof', 'Trainer-netvlad', 'Evaluator-dbof', 'Pusher-netvlad',
            'Transform', 'Report', 'Quantizer-dbof', 'EnsembleBuilder', 'Pusher-ensemble',
            'TeacherScorer-ensemble', 'Distiller-student-1', 'Distiller-student-2',
            'Pusher-student-2'} <= set(tasks)
    # One scoring of the teacher, which both students read.
    for student in ('Distiller-student-1', 'Distiller-student-2'):
        assert list(tasks[student].inputs.artifacts['teacher_scores'].task_output_artifact
                    .producer_task.split()) == ['TeacherScorer-ensemble'], student
    executors = spec.deployment_spec['executors']
    for name, task in tasks.items():
        component = spec.components[task.component_ref.name]
        assert component.executor_label in executors, name
        container = executors[component.executor_label]['container']
        assert container['image'] == 'example.com/yt8m:1', name
    # Open-source KFP v2 cannot run TFX Resolver nodes (importer tasks are fine).
    assert not any('resolver' in name.lower() for name in tasks)
    assert json.dumps(spec_dict).count('LatestBlessedModel') == 0
    # Every task runs the image's entrypoint, which maps the project's type
    # titles to their classes before TFX's entrypoint imports them by path
    # (kubeflow_v2_entrypoint_utils._retrieve_class_path): import them the
    # same way, in a fresh process.
    for name, task in tasks.items():
        label = spec.components[task.component_ref.name].executor_label
        assert spec_dict['deploymentSpec']['executors'][label]['container']['command'] == [
            'python', '-m', 'pipeline.kfp_entrypoint'], name
    titles = sorted(set(re.findall(r'title: (yt8m\.\w+)', output.read_text())))
    assert titles == ['yt8m.RunReport', 'yt8m.TeacherScores', 'yt8m.VideoSample']
    code = ('import sys; from tfx.utils import import_utils; '
            'from pipeline.kfp_entrypoint import custom_class_paths; paths = custom_class_paths(); '
            'print(*[import_utils.import_class_by_path(paths[t]).TYPE_NAME for t in sys.argv[1:]])')
    imported = subprocess.run([sys.executable, '-c', code, *titles], capture_output=True,
                              text=True, check=True, cwd=tmp_path)
    assert imported.stdout.split() == titles


def test_every_task_resolves_as_the_kfp2_driver_resolves_it(compiled):
    """Schema 2.1: every parameter is a typed `runtimeValue.constant`, the only
    form the KFP 2 backend's driver resolves; the legacy form is refused."""
    from tools import kfp_launcher
    spec = kfp_spec.load(str(compiled))[0]
    assert spec['schemaVersion'] == '2.1.0'
    tasks = spec['root']['dag']['tasks']
    order = kfp_launcher.topological_order(tasks)
    assert sorted(order) == sorted(tasks)
    for name in order:
        task = tasks[name]
        component = spec['components'][task['componentRef']['name']]
        values = kfp_launcher.parameter_values(name, task, component)
        assert set(values) == set(task.get('inputs', {}).get('parameters', {})), name
        for producer in task.get('dependentTasks', []):
            assert order.index(producer) < order.index(name), (producer, name)
    trainer = spec['components']['Trainer-dbof']
    custom_config = json.loads(kfp_launcher.parameter_values(
        'Trainer-dbof', tasks['Trainer-dbof'], trainer)['custom_config'])
    assert custom_config['ema_steps'] == 7 and custom_config['learning_rate'] == 0.002
    legacy = {'inputs': {'parameters': {'run_fn': {'runtimeValue': {
        'constantValue': {'stringValue': 'trainer.run_fn.run_fn'}}}}}}
    with pytest.raises(kfp_launcher.LaunchError, match='resolves only runtimeValue.constant'):
        kfp_launcher.parameter_values('Trainer-dbof', legacy, trainer)
    wrong_type = {'inputs': {'parameters': {'run_fn': {'runtimeValue': {'constant': 3}}}}}
    with pytest.raises(kfp_launcher.LaunchError, match='type mismatch: expect STRING'):
        kfp_launcher.parameter_values('Trainer-dbof', wrong_type, trainer)


def test_launcher_takes_the_images_environment(tmp_path):
    from pipeline import configs
    from tools import kfp_launcher
    env = kfp_launcher.image_environment(os.path.join(configs.PROJECT_DIR, 'Dockerfile'),
                                         str(tmp_path))
    assert env['TF_USE_LEGACY_KERAS'] == '1' and env['PYTHONPATH'] == str(tmp_path)


def test_pushes_wait_for_every_model_to_be_judged(tmp_path):
    """A run that fails on the way pushes nothing: each Pusher follows every BlessingGate."""
    from pipeline.options import PipelinePaths, RunOptions
    from pipeline.pipeline import create_pipeline
    pipeline = create_pipeline(
        PipelinePaths(pipeline_root=str(tmp_path / 'root'), data_root=str(tmp_path / 'data'),
                      serving_model_dir=str(tmp_path / 'serving'),
                      report_dir=str(tmp_path / 'report')),
        RunOptions(families=('dbof', 'netvlad'), distill=('dbof',), train_examples=1000))
    nodes = {node.id: node for node in pipeline.components}
    gates = {name for name in nodes if name.startswith('BlessingGate-')}
    pushers = [node for name, node in nodes.items() if name.startswith('Pusher-')]
    assert len(gates) == len(pushers) == 5   # dbof, netvlad, ensemble, student_1, final
    for pusher in pushers:
        assert gates <= {node.id for node in pusher.upstream_nodes}, pusher.id
    # Every custom component carries the code fingerprint (its cache key sees edits).
    from components import code_version
    from pipeline import configs
    stamped = [node for node in pipeline.components
               if code_version.KEY in node.spec.PARAMETERS]
    assert {node.id.split('-')[0] for node in stamped} >= {
        'YT8MExampleGen', 'ValidationGate', 'LabelPrior', 'BaselineLookup', 'BlessingGate',
        'Quantizer', 'EnsembleBuilder', 'Report'}
    for node in stamped:
        assert node.exec_properties[code_version.KEY] == configs.code_fingerprint(), node.id


def test_both_runners_take_one_configuration(compiled):
    """The same flags mean the same pipeline, locally and compiled for Kubeflow."""
    local = local_runner.parse_args(SHARED_FLAGS)
    kubeflow = kubeflow_runner.parse_args(SHARED_FLAGS + [
        '--output', 'unused.yaml', '--pipeline-root', 'gs://b/root', '--data-root', 'gs://b/d'])
    assert local.options == kubeflow.options
    assert local.options.preset == 'seed' and local.options.bad_records == 'skip'
    spec, platform = kfp_spec.load(str(compiled))
    tasks = spec['root']['dag']['tasks']

    def container(name):
        label = spec['components'][tasks[name]['componentRef']['name']]['executorLabel']
        return spec['deploymentSpec']['executors'][label]['container']
    # Per-node resources: the file's entries over the defaults (pipeline/resources.py).
    trainer = container('Trainer-dbof')['resources']
    assert trainer['cpuLimit'] == 8 and trainer['memoryLimit'] == 32
    # A GPU in open-source KFP's form: the Kubernetes resource, the model as a node selector.
    assert trainer['accelerator'] == {'type': 'nvidia.com/gpu', 'count': '2'}
    selectors = {label: config['nodeSelector'] for label, config in
                 platform['platforms']['kubernetes']['deploymentSpec']['executors'].items()
                 if 'nodeSelector' in config}
    assert selectors == {'Trainer-dbof_executor': {'labels': {
        'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4'}}}
    assert container('EnsembleBuilder')['resources']['memoryLimit'] == 48
    assert 'resources' not in container('StatisticsGen')

    def task_inputs(name):
        return json.dumps(tasks[name]['inputs'])
    assert '\\"preset\\": \\"seed\\"' in task_inputs('Trainer-dbof')
    assert '\\"distribution\\": \\"mirrored\\"' in task_inputs('Trainer-dbof')
    assert '\\"ema_steps\\": 7' in task_inputs('Trainer-dbof')
    assert 'float16' in task_inputs('Quantizer-dbof')
    assert '5000000' in task_inputs('EnsembleBuilder')
    assert 'skip' in task_inputs('YT8MExampleGen') and '0.05' in task_inputs('YT8MExampleGen')
    assert 'logistic' in task_inputs('Distiller-student-1')


class _JsonApiStub(http.server.BaseHTTPRequestHandler):
    """A REST API stub: records every request, answers JSON."""
    requests: list = []

    def _reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _KfpApiStub(_JsonApiStub):
    """Just enough of the KFP v2beta1 REST API for kfp.Client to submit a run."""
    requests: list = []

    def do_GET(self):
        self.requests.append(('GET', self.path, None))
        if 'healthz' in self.path:
            self._reply({'multi_user': False})
        elif '/experiments' in self.path:
            self._reply({'experiments': [], 'total_size': 0})
        else:
            self._reply({'run_id': 'run-1', 'display_name': 'x'})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])) or b'{}')
        self.requests.append(('POST', self.path, body))
        if '/experiments' in self.path:
            self._reply({'experiment_id': 'exp-1', 'display_name': body.get('display_name')})
        else:
            self._reply({'run_id': 'run-1', 'display_name': body.get('display_name'),
                         'experiment_id': 'exp-1'})


def test_every_task_reaches_the_object_store_through_the_spec_and_its_secret(compiled):
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    spec, platform = kfp_spec.load(str(compiled))
    configs = platform['platforms']['kubernetes']['deploymentSpec']['executors']
    assert set(configs) == set(spec['deploymentSpec']['executors'])
    for label, config in configs.items():
        # kfp-kubernetes' own proto reads it back, unknown fields refused.
        parsed = json_format.ParseDict(config, k8s.KubernetesExecutorConfig())
        (secret,) = parsed.secret_as_env
        assert secret.secret_name == 'mlpipeline-minio-artifact'
        assert {(m.secret_key, m.env_var) for m in secret.key_to_env} == {
            ('accesskey', 'AWS_ACCESS_KEY_ID'), ('secretkey', 'AWS_SECRET_ACCESS_KEY')}
        env = {var['name']: var['value']
               for var in spec['deploymentSpec']['executors'][label]['container']['env']}
        assert env['AWS_ENDPOINT_URL'] == env['S3_ENDPOINT'] == 'http://minio-service.kubeflow:9000'
        assert env['S3_USE_HTTPS'] == '0'
        # The artifact volume: mounted everywhere, outputs written there.
        (mount,) = parsed.pvc_mount
        assert (mount.constant, mount.mount_path) == ('yt8m-artifacts', '/mnt/yt8m')
        assert env['YT8M_VOLUME_ROOT'] == '/mnt/yt8m'
        assert env['YT8M_BUCKET_ROOT'] == spec['defaultPipelineRoot']
    # A field KFP's protos do not know is refused at compile time.
    bad = json.loads(json.dumps(platform))
    next(iter(bad['platforms']['kubernetes']['deploymentSpec']['executors'].values()))[
        'secretAsEnvironment'] = []
    with pytest.raises(kfp_spec.SpecError, match="does not parse with KFP's protos"):
        kfp_spec.check_documents([spec, bad])
    with pytest.raises(SystemExit):   # Vertex AI takes no Kubernetes Secret
        kubeflow_runner.parse_args(['--target', 'vertex', '--pipeline-root', 'gs://b/r',
                                    '--data-root', 'gs://b/d', *STORE_FLAGS])


def test_a_spec_compiled_for_kfp_is_not_submitted_to_vertex(compiled):
    """Its GPU is `nvidia.com/gpu` and it has a platform document: Vertex would fail on both."""
    assert kfp_spec.targets_it_suits(kfp_spec.load(str(compiled))) == ('kfp',)
    with pytest.raises(SystemExit, match='compiled for --target kfp'):
        kubeflow_runner.main(['--submit-spec', str(compiled), '--target', 'vertex',
                              '--project', 'p', '--region', 'us-central1'])


def test_submit_sends_the_compiled_spec_unchanged_with_its_root(compiled, tmp_path):
    output = tmp_path / 'pipeline.yaml'
    output.write_bytes(compiled.read_bytes())
    written = output.read_bytes()
    spec = kfp_spec.load(str(output))[0]
    assert spec['defaultPipelineRoot'] == 'gs://bucket/yt8m'
    server = http.server.HTTPServer(('127.0.0.1', 0), _KfpApiStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _KfpApiStub.requests = []
        kubeflow_runner.main(['--submit-spec', str(output),
                              '--host', f'http://127.0.0.1:{server.server_port}'])
    finally:
        server.shutdown()
    assert output.read_bytes() == written          # submitting does not recompile
    (run,) = [body for method, path, body in _KfpApiStub.requests
              if method == 'POST' and path.endswith('/runs')]
    # With a platform config (the GPU node selector), kfp.Client sends both.
    # (compared as protos: `enableCache: false` travels as the proto default, {})
    sent = json_format.ParseDict(run['pipeline_spec']['pipeline_spec'],
                                 pipeline_spec_pb2.PipelineSpec())
    assert sent == json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    assert run['pipeline_spec']['platform_spec']['platforms']['kubernetes']
    assert run['runtime_config']['pipeline_root'] == 'gs://bucket/yt8m'
    assert run['runtime_config'].get('parameters', {}) == {}


class _VertexApiStub(_JsonApiStub):
    """Vertex AI's REST pipelineJobs.create and the GCS bucket lookup, as aiplatform calls them."""
    requests: list = []

    def do_GET(self):
        self.requests.append(('GET', self.path, None))
        if self.path.startswith('/storage/v1/b/'):
            self._reply({'name': self.path.split('/')[4].split('?')[0], 'projectNumber': '42'})
        else:
            self._reply({'name': self.path.split('?')[0][len('/v1/'):],
                         'state': 'PIPELINE_STATE_RUNNING'})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])) or b'{}')
        self.requests.append(('POST', self.path, body))
        job_id = self.path.split('pipelineJobId=')[1].split('&')[0]
        self._reply({**body, 'name': f"{self.path.split('?')[0][len('/v1/'):]}/{job_id}",
                     'state': 'PIPELINE_STATE_PENDING'})


def test_vertex_target_compiles_its_own_gpu_form_and_submits_a_pipeline_job(
        tmp_path, monkeypatch):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.aiplatform.utils import resource_manager_utils
    resources = tmp_path / 'resources.json'
    resources.write_text(json.dumps({'Trainer': {'gpu_type': 'nvidia-tesla-t4',
                                                 'gpu_count': 1}}))
    output = tmp_path / 'vertex.yaml'
    kubeflow_runner.main([
        '--target', 'vertex', '--output', str(output), '--families', 'dbof', '--distill', 'none',
        '--pipeline-root', 'gs://bucket/yt8m', '--data-root', 'gs://bucket/frame',
        '--train-examples', '64', '--resources', str(resources)])
    (spec,) = kfp_spec.load(str(output))            # no Kubernetes platform config
    trainer = spec['deploymentSpec']['executors']['Trainer-dbof_executor']['container']
    assert trainer['resources']['accelerator'] == {'type': 'NVIDIA_TESLA_T4', 'count': '1'}
    # The ExampleGen keeps its cache (Vertex runs its fingerprinting hook), the lookup not.
    tasks = spec['root']['dag']['tasks']
    assert tasks['YT8MExampleGen']['cachingOptions'] == {'enableCache': True}
    assert tasks['BaselineLookup-dbof']['cachingOptions'] == {'enableCache': False}

    server = http.server.HTTPServer(('127.0.0.1', 0), _VertexApiStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f'http://127.0.0.1:{server.server_port}'
    monkeypatch.setenv('STORAGE_EMULATOR_HOST', endpoint)
    # The bucket-squatting check asks Resource Manager for the project's number.
    monkeypatch.setattr(resource_manager_utils, 'get_project_number', lambda *a, **k: 42)
    try:
        _VertexApiStub.requests = []
        name = kubeflow_runner.submit_vertex(
            str(output), 'proj', 'europe-west4', service_account='sa@proj.iam',
            labels={'team': 'video'}, credentials=AnonymousCredentials(), api_endpoint=endpoint)
    finally:
        server.shutdown()
    (create,) = [(path, body) for method, path, body in _VertexApiStub.requests
                 if method == 'POST']
    path, body = create
    assert path.startswith('/v1/projects/proj/locations/europe-west4/pipelineJobs?pipelineJobId=')
    assert name.startswith('projects/proj/locations/europe-west4/pipelineJobs/yt8m-')
    assert body['serviceAccount'] == 'sa@proj.iam' and body['labels'] == {'team': 'video'}
    assert body['runtimeConfig']['gcsOutputDirectory'] == 'gs://bucket/yt8m'
    # Each task's own cache setting travels unchanged (PipelineJob would overwrite it).
    sent = body['pipelineSpec']['root']['dag']['tasks']
    assert sent['BaselineLookup-dbof']['cachingOptions'] == {'enableCache': False}
    assert sent['Trainer-dbof']['cachingOptions'] == {'enableCache': True}


def test_local_roots_are_refused_for_a_cluster_target(tmp_path, capsys):
    for target in ('kfp', 'vertex'):
        with pytest.raises(SystemExit, match=r'--pipeline-root /tmp/root.*cannot reach a path'):
            kubeflow_runner.main(['--target', target, '--output', str(tmp_path / 's.yaml'),
                                  '--pipeline-root', '/tmp/root', '--data-root', 'gs://b/d'])
    with pytest.raises(SystemExit, match=r'--data-root s3://b/d.*cannot reach'):
        kubeflow_runner.main(['--target', 'vertex', '--output', str(tmp_path / 's.yaml'),
                              '--pipeline-root', 'gs://b/r', '--data-root', 's3://b/d'])


def test_the_kfp_data_fingerprint_lists_the_release_splits(tmp_path):
    """What `--target kfp` computes before compiling (the ExampleGen's cache key on KFP)."""
    import kubeflow_runner
    from pipeline.options import PipelinePaths
    from tests.records import make_record, write_records
    write_records(tmp_path / 'train0000.tfrecord', [make_record(b'a')])
    write_records(tmp_path / 'validate0000.tfrecord', [make_record(b'b')])
    paths = PipelinePaths(pipeline_root=str(tmp_path / 'root'), data_root=str(tmp_path),
                          serving_model_dir='', report_dir='')
    first = kubeflow_runner._with_data_fingerprint(paths).data_fingerprint
    write_records(tmp_path / 'validate0001.tfrecord', [make_record(b'c')])
    assert first and kubeflow_runner._with_data_fingerprint(paths).data_fingerprint != first


def test_a_task_whose_driver_name_argo_refuses_is_refused():
    """KFP adds a driver task `<task>-driver`: 122 characters pass alone, not with it."""
    name = 'T' + 'a' * (kfp_spec.ARGO_NAME_MAX - len(kfp_spec.DRIVER_SUFFIX))
    spec = {'root': {'dag': {'tasks': {name: {}}}}, 'components': {}}
    with pytest.raises(kfp_spec.SpecError, match=f'{name}-driver'):
        kfp_spec.check_task_names(spec)
    kfp_spec.check_task_names({'root': {'dag': {'tasks': {name[:-1]: {}}}}, 'components': {}})


def test_a_fingerprinted_kfp_spec_says_where_users_see_it_that_the_ui_may_serve_old_data(
        tmp_path):
    spec_file = tmp_path / 'spec.yaml'
    for cacheable in (True, False):
        kfp_spec.dump([{'pipelineInfo': {'name': 'p'}, 'root': {'dag': {'tasks': {
            'YT8MExampleGen': {'componentRef': {'name': 'c'},
                               'taskInfo': {'name': 'YT8MExampleGen'}}}}},
            'components': {'c': {'executorLabel': 'e'}},
            'deploymentSpec': {'executors': {'e': {'container': {'image': 'i'}}}}}],
            str(spec_file))
        spec = kfp_spec.finish_spec(str(spec_file), 'kfp', 'gs://b/root',
                                    example_gen_cacheable=cacheable)
        assert (spec['pipelineInfo'].get('description') == kfp_spec.STALE_CACHE_WARNING) \
            == cacheable
