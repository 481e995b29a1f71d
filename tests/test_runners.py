"""Runner-level bad input and the Kubeflow v2 compile."""

import http.server
import json
import os
import re
import subprocess
import sys
import threading

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
        'Trainer.dbof': {'gpu_type': 'nvidia-tesla-t4', 'gpu_count': 2},
        'EnsembleBuilder': {'memory_gb': 48}}))
    output = root / 'pipeline.yaml'
    kubeflow_runner.main(SHARED_FLAGS + [
        '--output', str(output), '--image', 'example.com/yt8m:1',
        '--pipeline-root', 'gs://bucket/yt8m', '--data-root', 'gs://bucket/frame',
        '--resources', str(resources)])
    return output


def test_kubeflow_v2_spec_compiles_and_is_runnable(compiled, tmp_path):
    output = compiled
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
    # The pod entrypoint rebuilds custom artifact types from their schema title
    # (tfx kubeflow_v2_entrypoint_utils._retrieve_class_path): import them the
    # same way, in a fresh process.
    titles = sorted(set(re.findall(r'title: (yt8m\.\w+)', output.read_text())))
    assert titles == ['yt8m.RunReport', 'yt8m.TeacherScores']
    code = ('import sys; from tfx.utils import import_utils; '
            'print(*[import_utils.import_class_by_path(t).TYPE_NAME for t in sys.argv[1:]])')
    imported = subprocess.run([sys.executable, '-c', code, *titles], capture_output=True,
                              text=True, check=True, cwd=tmp_path)
    assert imported.stdout.split() == titles


def test_every_task_resolves_as_the_kfp2_driver_resolves_it(compiled):
    """Schema 2.1: every parameter is a typed `runtimeValue.constant`, the only
    form the KFP 2 backend's driver resolves; the legacy form is refused."""
    from pipeline import kfp_launcher
    spec = yaml.safe_load(compiled.read_text())
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
    trainer = spec['components']['Trainer.dbof']
    custom_config = json.loads(kfp_launcher.parameter_values(
        'Trainer.dbof', tasks['Trainer.dbof'], trainer)['custom_config'])
    assert custom_config['ema_steps'] == 7 and custom_config['learning_rate'] == 0.002
    legacy = {'inputs': {'parameters': {'run_fn': {'runtimeValue': {
        'constantValue': {'stringValue': 'trainer.run_fn.run_fn'}}}}}}
    with pytest.raises(kfp_launcher.LaunchError, match='resolves only runtimeValue.constant'):
        kfp_launcher.parameter_values('Trainer.dbof', legacy, trainer)
    wrong_type = {'inputs': {'parameters': {'run_fn': {'runtimeValue': {'constant': 3}}}}}
    with pytest.raises(kfp_launcher.LaunchError, match='type mismatch: expect STRING'):
        kfp_launcher.parameter_values('Trainer.dbof', wrong_type, trainer)


def test_launcher_takes_the_images_environment(tmp_path):
    from pipeline import configs, kfp_launcher
    env = kfp_launcher.image_environment(os.path.join(configs.PROJECT_DIR, 'Dockerfile'),
                                         str(tmp_path))
    assert env['TF_USE_LEGACY_KERAS'] == '1' and env['PYTHONPATH'] == str(tmp_path)


def test_pushes_wait_for_every_model_to_be_judged(tmp_path):
    """A run that fails on the way pushes nothing: each Pusher follows every BlessingGate."""
    from pipeline.pipeline import create_pipeline
    pipeline = create_pipeline(
        pipeline_root=str(tmp_path / 'root'), data_root=str(tmp_path / 'data'),
        serving_model_dir=str(tmp_path / 'serving'), report_dir=str(tmp_path / 'report'),
        families=('dbof', 'netvlad'), distill_families=('dbof',))
    nodes = {node.id: node for node in pipeline.components}
    gates = {name for name in nodes if name.startswith('BlessingGate.')}
    pushers = [node for name, node in nodes.items() if name.startswith('Pusher.')]
    assert len(gates) == len(pushers) == 4
    for pusher in pushers:
        assert gates <= {node.id for node in pusher.upstream_nodes}, pusher.id
    # Every custom component carries the code fingerprint (its cache key sees edits).
    from components import code_version
    from pipeline import configs
    stamped = [node for node in pipeline.components
               if code_version.KEY in node.spec.PARAMETERS]
    assert {node.id.split('.')[0] for node in stamped} >= {
        'YT8MExampleGen', 'ValidationGate', 'LabelPrior', 'BaselineLookup', 'BlessingGate',
        'Quantizer', 'EnsembleBuilder', 'Report'}
    for node in stamped:
        assert node.exec_properties[code_version.KEY] == configs.code_fingerprint(), node.id


def test_both_runners_take_one_configuration(compiled):
    """The same flags mean the same pipeline, locally and compiled for Kubeflow."""
    local = local_runner.parse_args(SHARED_FLAGS)
    kubeflow = kubeflow_runner.parse_args(SHARED_FLAGS + ['--output', 'unused.yaml'])
    assert local.options == kubeflow.options
    assert local.options.preset == 'seed' and local.options.bad_records == 'skip'
    spec = yaml.safe_load(compiled.read_text())
    tasks = spec['root']['dag']['tasks']

    def container(name):
        label = spec['components'][tasks[name]['componentRef']['name']]['executorLabel']
        return spec['deploymentSpec']['executors'][label]['container']
    # Per-node resources: the file's entries over the defaults (pipeline/resources.py).
    trainer = container('Trainer.dbof')['resources']
    assert trainer['cpuLimit'] == 8 and trainer['memoryLimit'] == 32
    assert trainer['accelerator'] == {'type': 'nvidia-tesla-t4', 'count': '2'}
    assert container('EnsembleBuilder')['resources']['memoryLimit'] == 48
    assert 'resources' not in container('StatisticsGen')

    def task_inputs(name):
        return json.dumps(tasks[name]['inputs'])
    assert '\\"preset\\": \\"seed\\"' in task_inputs('Trainer.dbof')
    assert '\\"distribution\\": \\"mirrored\\"' in task_inputs('Trainer.dbof')
    assert '\\"ema_steps\\": 7' in task_inputs('Trainer.dbof')
    assert 'float16' in task_inputs('Quantizer.dbof')
    assert '5000000' in task_inputs('EnsembleBuilder')
    assert 'skip' in task_inputs('YT8MExampleGen') and '0.05' in task_inputs('YT8MExampleGen')
    assert 'logistic' in task_inputs('Distiller.student_1')


class _KfpApiStub(http.server.BaseHTTPRequestHandler):
    """Just enough of the KFP v2beta1 REST API for kfp.Client to submit a run."""
    requests: list = []

    def _reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

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

    def log_message(self, *args):
        pass


def test_submit_sends_the_compiled_spec_unchanged_with_its_root(compiled, tmp_path):
    output = tmp_path / 'pipeline.yaml'
    output.write_bytes(compiled.read_bytes())
    written = output.read_bytes()
    spec = yaml.safe_load(written)
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
    assert run['pipeline_spec'] == spec
    assert run['runtime_config']['pipeline_root'] == 'gs://bucket/yt8m'
    assert run['runtime_config'].get('parameters', {}) == {}
