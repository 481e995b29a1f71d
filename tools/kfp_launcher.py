"""Runs a compiled Kubeflow v2 spec task by task, the way a KFP backend would.

    python -m tools.kfp_launcher yt8m_pipeline.yaml --run-root /tmp/kfp_run \
        --project-dir /path/to/project/copy --backend kfp [--cache-dir /tmp/kfp_cache]

A spec that compiles can still fail on a cluster: an executor that cannot be
imported in the pod, an artifact type that does not round-trip, a parameter
form the backend does not resolve, a path only the compiling machine has.
This module executes the YAML itself, with no TFX orchestration code of ours,
as one of two backends hands tasks over:

`--backend kfp`: open-source Kubeflow Pipelines, copied from its source at
kubeflow/pipelines 2.5.0 (the file is named at each behaviour below):
  * task and template names are validated as Argo validates them;
  * input artifacts arrive typeless (`instanceSchema: ""`), named by their
    MLMD id, their properties in `metadata`;
  * every task gets the extra `executor-logs` output (`system.Artifact`);
  * no `lifecycle.preCacheCheck` hook runs;
  * every output goes through ML Metadata before a consumer sees it
    (`tools.kfp_metadata`: a real MLMD store, KFP's value conversions), and
    its name is its MLMD id;
  * inputs under gs://, s3:// or minio:// are downloaded into the pod first,
    on every KFP version (component/launcher_v2.go `downloadArtifacts`): the
    launcher counts the bytes of every such input per task (`input_bytes`;
    the run root stands for the bucket); an input on a mounted volume
    (`pvcMount`, from `volumes`) is not copied;
  * each task's environment is the image's, the container's `env`, and the
    Kubernetes Secrets that the platform document maps into it
    (`secretAsEnv`, from `secrets`); nothing of an object store's settings
    (AWS_*, S3_*) comes from the machine that runs the launcher;
  * the cache key is KFP's (cacheutils/cache.go): input artifact ids,
    parameter values, output specs, image and unfilled command; a task whose
    `cachingOptions.enableCache` is on and whose key was seen in --cache-dir
    is not run, its earlier outputs are reused.
`--backend vertex`: Vertex AI Pipelines' hand-over: typed inputs, the
  ExampleGen's preCacheCheck hook runs first and its artifact metadata is
  applied to the outputs; no cache.

Common to both: tasks in dependency order (`dependentTasks` and artifact
producers); `parameterValues` from `runtimeValue.constant` only (the legacy
`constantValue` fails, as in the driver), checked against `parameterType`;
output URIs fresh under the run root; the task's exact container `command`
and `args` with `{{$}}` replaced, in a fresh process with the image's
environment (`ENV`, `WORKDIR` of the Dockerfile, the project at
--project-dir instead of /pipeline).

What it cannot show: pods, images, a remote MLMD, retries; see docs/KUBEFLOW.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence

import yaml

from pipeline import kfp_entrypoint
from pipeline.configs import CONTAINER_PROJECT_DIR
from tools import kfp_metadata

logger = logging.getLogger('kfp_launcher')

BACKENDS = ('kfp', 'vertex')
# argoproj/argo-workflows v3.5.14 (KFP 2.5.0's go.mod), workflow/validate/
# validate.go, validateWorkflowFieldNames: template and DAG task names; KFP's
# DAGs use `depends`, which also forbids a leading digit. At most 128 chars.
ARGO_NAME = re.compile(r'^[a-zA-Z0-9][-a-zA-Z0-9]*$')
ARGO_NAME_MAX = 128
# component/launcher_v2.go LocalPathForURI: the URIs KFP downloads into a pod.
BUCKET_SCHEMES = ('gs://', 's3://', 'minio://', 'oci://')
# Environment variables an object store's clients read (pipeline/filesystems.py).
STORE_VARIABLE_PREFIXES = ('AWS_', 'S3_')
# backend/src/v2/driver/driver.go (2.5.0): the output added to every task
# when logs are published (--publish_logs, default "true").
EXECUTOR_LOGS = 'executor-logs'
MEMORY_POLL_SECONDS = 0.1

_KIND_OF_TYPE = {  # parameterType -> accepted google.protobuf.Value kinds
    'STRING': {str}, 'NUMBER_INTEGER': {int, float}, 'NUMBER_DOUBLE': {int, float},
    'BOOLEAN': {bool}, 'LIST': {list}, 'STRUCT': {dict}}


class LaunchError(RuntimeError):
    """A task could not be launched or failed; names the task."""


def topological_order(tasks: Dict[str, dict]) -> List[str]:
    """Task names so that every producer comes before its consumers."""
    def upstream(name):
        task = tasks[name]
        found = set(task.get('dependentTasks', []))
        for spec in task.get('inputs', {}).get('artifacts', {}).values():
            if 'taskOutputArtifact' in spec:
                found.add(spec['taskOutputArtifact']['producerTask'])
        return sorted(found)

    order, state = [], {}

    def visit(name, path):
        if state.get(name) == 'done':
            return
        if state.get(name) == 'visiting':
            raise LaunchError(f'dependency cycle: {" -> ".join(path + [name])}')
        if name not in tasks:
            raise LaunchError(f'{path[-1]} depends on unknown task {name!r}')
        state[name] = 'visiting'
        for parent in upstream(name):
            visit(parent, path + [name])
        state[name] = 'done'
        order.append(name)

    for name in sorted(tasks):
        visit(name, [])
    return order


def check_argo_names(spec: dict) -> None:
    """Refuses, as Argo's validation does when KFP creates the run, names it would reject.

    KFP's Argo compiler (backend/src/v2/compiler/argocompiler/dag.go, 2.5.0)
    uses pipeline-spec task names unchanged as DAG task names, adds a
    `<name>-driver` task each, and names templates after components.
    """
    names = []
    for name in spec['root']['dag']['tasks']:
        names += [name, f'{name}-driver']
    names += list(spec['components'])
    bad = sorted({name for name in names
                  if not ARGO_NAME.match(name) or name[0].isdigit() or len(name) > ARGO_NAME_MAX})
    if bad:
        raise LaunchError(f'Argo refuses these task/template names (it accepts '
                          f'{ARGO_NAME.pattern}, no leading digit with depends): {bad}')


def cache_fingerprint(executor_input: dict, container: dict) -> str:
    """KFP's cache key (backend/src/v2/cacheutils/cache.go, GenerateCacheKey, 2.5.0).

    Input artifacts count by name (their MLMD id), parameters by value,
    outputs by name, type and metadata (URIs wiped), the container by image
    and its command and args before placeholders are filled.
    """
    inputs = executor_input['inputs']
    key = {
        'inputArtifactNames': {
            name: {'artifactNames': [artifact['name'] for artifact in listing['artifacts']]}
            for name, listing in inputs.get('artifacts', {}).items()},
        'inputParameterValues': inputs.get('parameterValues', {}),
        'outputArtifactsSpec': {
            name: {k: v for k, v in listing['artifacts'][0].items() if k != 'uri'}
            for name, listing in executor_input['outputs']['artifacts'].items()},
        'outputParametersSpec': {},
        'containerSpec': {'image': container.get('image', ''),
                          'cmdArgs': list(container.get('command', [])) +
                          list(container.get('args', []))}}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def tree_bytes(uri: str) -> int:
    """Bytes under an artifact URI (local or any TF filesystem)."""
    if '://' not in uri:
        return sum(os.path.getsize(os.path.join(folder, name))
                   for folder, _, files in os.walk(uri) for name in files)
    import tensorflow as tf
    return sum(tf.io.gfile.stat(os.path.join(folder, name)).length
               for folder, _, files in tf.io.gfile.walk(uri) for name in files)


def high_water_rss(pid: int) -> int:
    """Peak resident bytes of process `pid` so far (Linux `VmHWM`), 0 when unknown.

    What a pod's memory limit must hold. Read from /proc while the task runs:
    a child's `ru_maxrss` (wait4) would count the launcher's own memory,
    which Linux carries over from fork across exec.
    """
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def parameter_values(task_name: str, task: dict, component: dict) -> Dict[str, Any]:
    """`parameterValues` as the KFP 2 driver resolves them (constants only here)."""
    definitions = component.get('inputDefinitions', {}).get('parameters', {})
    values = {}
    for name, spec in task.get('inputs', {}).get('parameters', {}).items():
        runtime = spec.get('runtimeValue')
        if runtime is None:
            raise LaunchError(f'{task_name}: parameter {name!r} is not a runtime constant '
                              f'({sorted(spec)}); pipeline parameters are not supported here')
        if 'constant' not in runtime:
            raise LaunchError(
                f'{task_name}: parameter {name!r} uses {sorted(runtime)}; the KFP 2 backend '
                'resolves only runtimeValue.constant (compile with pipeline spec schema 2.1)')
        value = runtime['constant']
        expected = definitions.get(name, {}).get('parameterType')
        if expected not in _KIND_OF_TYPE:
            raise LaunchError(f'{task_name}: parameter {name!r} has no known parameterType '
                              f'({definitions.get(name)})')
        if type(value) not in _KIND_OF_TYPE[expected] or (
                expected != 'BOOLEAN' and isinstance(value, bool)):
            raise LaunchError(f'{task_name}: parameter {name!r} type mismatch: expect '
                              f'{expected}, got {type(value).__name__}')
        values[name] = value
    return values


def input_artifacts(task_name: str, task: dict, produced: Dict[str, dict],
                    typeless: bool = False) -> Dict[str, dict]:
    """The task's input artifacts: its producers' outputs as the backend recorded them.

    `typeless`: as open-source KFP hands them over (backend/src/v2/metadata/
    client.go, 2.5.0: upstream artifacts are read back with `Schema: "", //
    TODO(Bobgy): figure out how to get schema`, and ToRuntimeArtifact sets
    `type.instanceSchema` to it).
    """
    artifacts = {}
    for name, spec in task.get('inputs', {}).get('artifacts', {}).items():
        if 'taskOutputArtifact' not in spec:
            raise LaunchError(f'{task_name}: input artifact {name!r} is not a task output '
                              f'({sorted(spec)})')
        producer = spec['taskOutputArtifact']['producerTask']
        key = spec['taskOutputArtifact']['outputArtifactKey']
        try:
            listing = [dict(artifact) for artifact in produced[producer][key]]
        except KeyError:
            raise LaunchError(f'{task_name}: {producer} produced no artifact {key!r}') from None
        if typeless:
            for artifact in listing:
                artifact['type'] = {'instanceSchema': ''}
        artifacts[name] = {'artifacts': listing}
    return artifacts


def output_artifacts(task_dir: str, component: dict, with_executor_logs: bool = False
                     ) -> Dict[str, dict]:
    """Planned outputs: declared type, a fresh URI, no name (MLMD assigns it on publishing)."""
    outputs = {}
    for key, spec in component.get('outputDefinitions', {}).get('artifacts', {}).items():
        outputs[key] = {'artifacts': [{
            'name': '', 'type': spec['artifactType'],
            'uri': os.path.join(task_dir, key), 'metadata': {}}]}
    if with_executor_logs:   # driver.go (2.5.0): added to every task, publish_logs on
        outputs[EXECUTOR_LOGS] = {'artifacts': [{
            'name': '', 'type': {'schemaTitle': 'system.Artifact'},
            'uri': os.path.join(task_dir, EXECUTOR_LOGS), 'metadata': {}}]}
    return outputs


def substitute(arguments: Sequence[str], executor_input: dict, task_name: str) -> List[str]:
    serialized = json.dumps(executor_input)
    result = []
    for argument in arguments:
        argument = argument.replace('{{$}}', serialized)
        leftover = re.search(r'\{\{\$[^}]*\}\}', argument)
        if leftover:
            raise LaunchError(f'{task_name}: placeholder {leftover.group(0)} is not supported')
        result.append(argument)
    return result


def reported_artifacts(output_file: str) -> Dict[str, dict]:
    """{output key: first artifact} of an `ExecutorOutput` file ({} if none was written)."""
    if not os.path.exists(output_file):
        return {}
    with open(output_file) as f:
        listing = json.load(f).get('artifacts', {})
    return {key: (value.get('artifacts') or [{}])[0] for key, value in listing.items()}


def image_environment(dockerfile: str, project_dir: str) -> Dict[str, str]:
    """The final stage's `ENV` of the Dockerfile, with /pipeline mapped to project_dir."""
    env: Dict[str, str] = {}
    with open(dockerfile) as f:
        text = f.read().replace('\\\n', ' ')
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        if words[0].upper() == 'FROM':
            env = {}                   # a new stage starts from its base image
        elif words[0].upper() == 'ENV' and len(words) == 2:
            for pair in shlex.split(words[1]):
                name, _, value = pair.partition('=')
                env[name] = value.replace(CONTAINER_PROJECT_DIR, project_dir)
    return env


class Launcher:
    """Executes one compiled spec under a local run root, as `backend` would."""

    def __init__(self, spec_file: str, run_root: str, project_dir: str,
                 backend: str = 'vertex', cache_dir: Optional[str] = None,
                 secrets: Optional[Dict[str, Dict[str, str]]] = None,
                 volumes: Optional[Dict[str, str]] = None):
        """`secrets`: the cluster's Kubernetes Secrets (name -> key -> value) that
        the platform document's `secretAsEnv` entries read; `volumes`: its
        PersistentVolumeClaims (name -> a local folder standing for the volume)
        that `pvcMount` entries mount."""
        if backend not in BACKENDS:
            raise LaunchError(f'unknown backend {backend!r}; use one of {BACKENDS}')
        with open(spec_file) as f:   # the pipeline spec; a platform spec may follow
            docs = [doc for doc in yaml.safe_load_all(f) if doc]
        self.spec = docs[0]
        self.platform = (docs[1].get('platforms', {}).get('kubernetes', {})
                         .get('deploymentSpec', {}).get('executors', {})) if len(docs) > 1 else {}
        self.secrets = secrets or {}
        self.volumes = volumes or {}
        self.backend = backend
        if backend == 'kfp':
            check_argo_names(self.spec)
        self.run_root = os.path.abspath(run_root)
        self.project_dir = os.path.abspath(project_dir)
        self.run_name = f"{self.spec['pipelineInfo']['name']}-{uuid.uuid4().hex[:8]}"
        self.cache = ArtifactCache(cache_dir) if backend == 'kfp' and cache_dir else None
        # A pod gets no object-store settings from the machine that submits:
        # only what the image, the spec's `env` and its Secrets give it.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('PYTHON',) + STORE_VARIABLE_PREFIXES)}
        env.update(image_environment(os.path.join(self.project_dir, 'Dockerfile'),
                                     self.project_dir))
        # `python` in the task's command is this interpreter (the locked venv).
        env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
        self.env = env
        self.produced: Dict[str, Dict[str, list]] = {}
        self.timings: Dict[str, float] = {}
        self.cached: List[str] = []
        # Bytes of each task's input artifacts: what KFP's launcher copies into
        # the pod first when they live under gs://, s3:// or minio://.
        self.input_bytes: Dict[str, Dict[str, int]] = {}
        # Bytes of each task's input artifacts wherever they live (copied or
        # read in place from a mounted volume).
        self.read_bytes: Dict[str, Dict[str, int]] = {}
        # Each task's peak resident memory (its own process; hook and executor),
        # read every MEMORY_POLL_SECONDS: a peak in the last moment is missed.
        self.peak_rss_bytes: Dict[str, int] = {}
        # KFP's metadata store: on disk beside the cache (ids go on across
        # runs, as one cluster's MLMD), else in memory for this run.
        self.metadata = kfp_metadata.Store(
            os.path.join(cache_dir, 'mlmd.sqlite') if cache_dir else None
        ) if backend == 'kfp' else None

    def executor_input(self, name: str, task: dict, component: dict, task_dir: str) -> dict:
        kfp = self.backend == 'kfp'
        return {
            'inputs': {'parameterValues': parameter_values(name, task, component),
                       'artifacts': input_artifacts(name, task, self.produced, typeless=kfp)},
            'outputs': {'artifacts': output_artifacts(task_dir, component,
                                                      with_executor_logs=kfp),
                        'outputFile': os.path.join(task_dir, 'executor_output.json')}}

    def copied(self, uri: str) -> bool:
        """Whether KFP's launcher downloads this input into the pod (`LocalPathForURI`:
        bucket schemes only; here the run root stands for the bucket)."""
        return uri.startswith(BUCKET_SCHEMES) or uri.startswith(self.run_root + os.sep)

    def task_environment(self, name: str, label: str, container: dict) -> Dict[str, str]:
        """The image's environment, then the container's `env`, then the Secrets the
        platform document maps into it (KFP alone: Vertex AI reads one document)."""
        env = dict(self.env)
        env.update({var['name']: var.get('value', '') for var in container.get('env', [])})
        if self.backend != 'kfp':
            return env
        config = self.platform.get(label, {})
        for mount in config.get('pvcMount', []):
            claim = mount.get('constant')
            if claim not in self.volumes:   # the pod would stay Pending
                raise LaunchError(f'{name}: persistentvolumeclaim "{claim}" not found')
            # The volume appears at its mount path: here, at the claim's folder.
            env = {key: value.replace(mount['mountPath'], self.volumes[claim], 1)
                   if value.startswith(mount['mountPath']) else value
                   for key, value in env.items()}
        if kfp_entrypoint.BUCKET_ROOT_ENV in env:   # this run root stands for the bucket
            env[kfp_entrypoint.BUCKET_ROOT_ENV] = self.run_root
        for entry in config.get('secretAsEnv', []):
            secret = self.secrets.get(entry['secretName'])
            if secret is None:    # the pod would not start (CreateContainerConfigError)
                raise LaunchError(f'{name}: secret "{entry["secretName"]}" not found')
            for pair in entry.get('keyToEnv', []):
                if pair['secretKey'] not in secret:
                    raise LaunchError(f'{name}: couldn\'t find key {pair["secretKey"]} in '
                                      f'Secret {entry["secretName"]}')
                env[pair['envVar']] = secret[pair['secretKey']]
        return env

    def _execute(self, name: str, command: List[str], log_file: str,
                 env: Dict[str, str]) -> None:
        with open(log_file, 'ab') as log:
            process = subprocess.Popen(command, cwd=self.project_dir, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
            peak = 0
            while process.poll() is None:
                peak = max(peak, high_water_rss(process.pid))
                time.sleep(MEMORY_POLL_SECONDS)
        self.peak_rss_bytes[name] = max(self.peak_rss_bytes.get(name, 0), peak)
        if process.returncode != 0:
            with open(log_file, errors='replace') as f:
                tail = f.read()[-4000:]
            raise LaunchError(f'task {name} exited with {process.returncode}; '
                              f'log {log_file}:\n{tail}')

    def run_task(self, name: str) -> None:
        task = self.spec['root']['dag']['tasks'][name]
        if 'triggerPolicy' in task or 'iteratorPolicy' in task:
            raise LaunchError(f'{name}: conditions and loops are not supported')
        component = self.spec['components'][task['componentRef']['name']]
        container = self.spec['deploymentSpec']['executors'][
            component['executorLabel']]['container']
        task_dir = os.path.join(self.run_root, self.run_name, name)
        os.makedirs(task_dir, exist_ok=True)
        executor_input = self.executor_input(name, task, component, task_dir)
        inputs = executor_input['inputs']['artifacts']
        sizes = {key: [(tree_bytes(a['uri']), self.copied(a['uri'])) for a in listing['artifacts']]
                 for key, listing in inputs.items()}   # each input's tree walked once
        self.input_bytes[name] = {key: sum(size for size, copied in pairs if copied)
                                  for key, pairs in sizes.items()}
        self.read_bytes[name] = {key: sum(size for size, _ in pairs)
                                 for key, pairs in sizes.items()}
        started = time.time()
        fingerprint = None
        if self.cache is not None and task.get('cachingOptions', {}).get('enableCache'):
            fingerprint = cache_fingerprint(executor_input, container)
            hit = self.cache.get(fingerprint)
            if hit is not None:
                self.produced[name] = hit
                self.cached.append(name)
                self.timings[name] = time.time() - started
                logger.info('%-28s cached', name)
                return
        log_file = os.path.join(task_dir, 'task.log')
        env = self.task_environment(name, component['executorLabel'], container)
        hook = container.get('lifecycle', {}).get('preCacheCheck')
        if hook and self.backend == 'vertex':   # open-source KFP runs no hook
            self._execute(name, hook['command'] + substitute(hook['args'], executor_input, name),
                          log_file, env)
            self._apply_hook_output(executor_input)
        self._execute(name, container['command'] + substitute(
            container['args'], executor_input, name), log_file, env)
        self.produced[name] = self._collect_outputs(executor_input)
        self._publish(name, log_file)
        if fingerprint is not None:   # launcher_v2.go: the entry is written after success
            self.cache.put(fingerprint, self.produced[name])
        self.timings[name] = time.time() - started
        logger.info('%-28s done in %5.1f s', name, self.timings[name])

    def _publish(self, name: str, log_file: str) -> None:
        """Names each output as the backend's metadata store does, and uploads the log.

        KFP: recorded in ML Metadata and read back (`tools.kfp_metadata`),
        named by the MLMD artifact id; Vertex AI: a resource name.
        """
        session = kfp_metadata.session_info(self.run_root)
        for key, listing in self.produced[name].items():
            for index, artifact in enumerate(listing):
                if self.backend == 'vertex':
                    artifact['name'] = f'{self.run_name}/{name}/{key}'
                else:
                    try:
                        listing[index] = self.metadata.record(key, artifact, session)
                    except kfp_metadata.MetadataError as err:
                        raise LaunchError(f'{name}: output {key!r} cannot be recorded in '
                                          f'ML Metadata: {err}') from None
        logs = self.produced[name].get(EXECUTOR_LOGS)
        if logs:
            os.makedirs(os.path.dirname(logs[0]['uri']) or '.', exist_ok=True)
            with open(log_file, 'rb') as source, open(logs[0]['uri'], 'wb') as target:
                target.write(source.read())

    @staticmethod
    def _apply_hook_output(executor_input: dict) -> None:
        """The hook's artifact metadata (span, input fingerprint) onto the outputs,
        as the service updates the task's artifacts before the executor runs;
        its parameters stay in the output file, where the executor reads them."""
        reported = reported_artifacts(executor_input['outputs']['outputFile'])
        for key, listing in executor_input['outputs']['artifacts'].items():
            listing['artifacts'][0]['metadata'].update(reported.get(key, {}).get('metadata', {}))

    @staticmethod
    def _collect_outputs(executor_input: dict) -> Dict[str, list]:
        """Output artifacts as the launcher records them: the executor output's
        URI and metadata over the planned artifact (type kept)."""
        reported = reported_artifacts(executor_input['outputs']['outputFile'])
        outputs = {}
        for key, listing in executor_input['outputs']['artifacts'].items():
            artifact = dict(listing['artifacts'][0])
            updates = reported.get(key, {})
            artifact['uri'] = updates.get('uri', artifact['uri'])
            artifact['metadata'] = updates.get('metadata', {})
            outputs[key] = [artifact]
        return outputs

    def run(self) -> Dict[str, Dict[str, list]]:
        tasks = self.spec['root']['dag']['tasks']
        order = topological_order(tasks)
        logger.info('Run %s (%s): %d tasks under %s', self.run_name, self.backend, len(order),
                    self.run_root)
        for index, name in enumerate(order, 1):
            logger.info('[%d/%d] %s', index, len(order), name)
            self.run_task(name)
        return self.produced


class ArtifactCache:
    """The backend's cache across runs: fingerprint -> outputs (as read back from MLMD)."""

    def __init__(self, folder: str):
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, 'cache.json')
        self.entries = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.entries = json.load(f)

    def get(self, fingerprint: str) -> Optional[Dict[str, list]]:
        return self.entries.get('outputs', {}).get(fingerprint)

    def put(self, fingerprint: str, outputs: Dict[str, list]) -> None:
        self.entries.setdefault('outputs', {})[fingerprint] = outputs
        self._save()

    def _save(self) -> None:
        with open(self.path + '.tmp', 'w') as f:
            json.dump(self.entries, f)
        os.replace(self.path + '.tmp', self.path)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('spec', help='compiled spec (kubeflow_runner.py --output)')
    parser.add_argument('--run-root', required=True, help='task folders and logs land here')
    parser.add_argument('--project-dir', required=True,
                        help='the project as the image holds it (compile with the same '
                             '--project-dir)')
    parser.add_argument('--backend', choices=BACKENDS, default='kfp',
                        help='hand tasks over as open-source KFP 2.5 (kfp) or Vertex AI does')
    parser.add_argument('--cache-dir', help='kfp: keep the cache here across runs')
    parser.add_argument('--volume', action='append', default=[], metavar='CLAIM=DIR',
                        help='kfp: a PersistentVolumeClaim the spec mounts, as a local folder')
    parser.add_argument('--secrets', metavar='JSON_FILE',
                        help='kfp: the Kubernetes Secrets the spec maps into tasks, '
                             '{"name": {"key": "value"}}')
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    args = parse_args(argv)
    secrets = None
    if args.secrets:
        with open(args.secrets) as f:
            secrets = json.load(f)
    volumes = dict(item.split('=', 1) for item in args.volume)
    launcher = Launcher(args.spec, args.run_root, args.project_dir, backend=args.backend,
                        cache_dir=args.cache_dir, secrets=secrets, volumes=volumes)
    launcher.run()
    logger.info('All %d tasks succeeded (%.0f s; %d from the cache)', len(launcher.timings),
                sum(launcher.timings.values()), len(launcher.cached))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
