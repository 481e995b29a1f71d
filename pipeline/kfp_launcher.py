"""Runs a compiled Kubeflow v2 spec task by task, the way the KFP 2 launcher does.

    python -m pipeline.kfp_launcher yt8m_pipeline.yaml --run-root /tmp/kfp_run \
        --project-dir /path/to/project/copy

A spec that compiles can still fail on a cluster: an executor that cannot be
imported in the pod, an artifact type that does not round-trip, a parameter
form the backend does not resolve, a path only the compiling machine has.
This module executes the YAML itself, with no TFX orchestration code of ours:

  * tasks in dependency order (`dependentTasks` and artifact producers);
  * per task, an `ExecutorInput` built as the KFP 2 driver builds it:
    `parameterValues` from `runtimeValue.constant` (the legacy
    `constantValue` fails, as in the driver), checked against the
    component's `parameterType`; input artifacts are the producers' output
    artifacts as their executor output reported them (URI and metadata, the
    custom properties); output URIs are fresh, under the run root;
  * the task's exact container `command` and `args` with `{{$}}` replaced,
    in a fresh process with the image's environment (`ENV`, `WORKDIR` of the
    Dockerfile, the project at --project-dir instead of /pipeline);
  * a `lifecycle.preCacheCheck` hook (the FileBasedExampleGen driver) first,
    with the same executor input, its artifact metadata then applied to the
    outputs, as Vertex AI Pipelines does (open-source KFP skips the hook:
    `--no-hooks`).

What it cannot show: pods, images, a remote MLMD, caching, retries; see the
README's Kubeflow section.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from typing import Any, Dict, List, Sequence

import yaml

from pipeline.configs import CONTAINER_PROJECT_DIR

logger = logging.getLogger('kfp_launcher')

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


def input_artifacts(task_name: str, task: dict, produced: Dict[str, dict]) -> Dict[str, dict]:
    artifacts = {}
    for name, spec in task.get('inputs', {}).get('artifacts', {}).items():
        if 'taskOutputArtifact' not in spec:
            raise LaunchError(f'{task_name}: input artifact {name!r} is not a task output '
                              f'({sorted(spec)})')
        producer = spec['taskOutputArtifact']['producerTask']
        key = spec['taskOutputArtifact']['outputArtifactKey']
        try:
            artifacts[name] = {'artifacts': produced[producer][key]}
        except KeyError:
            raise LaunchError(f'{task_name}: {producer} produced no artifact {key!r}') from None
    return artifacts


def output_artifacts(task_dir: str, run_name: str, task_name: str,
                     component: dict) -> Dict[str, dict]:
    outputs = {}
    for key, spec in component.get('outputDefinitions', {}).get('artifacts', {}).items():
        outputs[key] = {'artifacts': [{
            'name': f'{run_name}/{task_name}/{key}',
            'type': spec['artifactType'],
            'uri': os.path.join(task_dir, key),
            'metadata': {}}]}
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
    """Executes one compiled spec under a local run root."""

    def __init__(self, spec_file: str, run_root: str, project_dir: str,
                 run_hooks: bool = True):
        with open(spec_file) as f:
            self.spec = yaml.safe_load(f)
        self.run_root = os.path.abspath(run_root)
        self.project_dir = os.path.abspath(project_dir)
        self.run_name = f"{self.spec['pipelineInfo']['name']}-{uuid.uuid4().hex[:8]}"
        self.run_hooks = run_hooks
        env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
        env.update(image_environment(os.path.join(self.project_dir, 'Dockerfile'),
                                     self.project_dir))
        # `python` in the task's command is this interpreter (the locked venv).
        env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
        self.env = env
        self.produced: Dict[str, Dict[str, list]] = {}
        self.timings: Dict[str, float] = {}

    def executor_input(self, name: str, task: dict, component: dict, task_dir: str) -> dict:
        return {
            'inputs': {'parameterValues': parameter_values(name, task, component),
                       'artifacts': input_artifacts(name, task, self.produced)},
            'outputs': {'artifacts': output_artifacts(task_dir, self.run_name, name, component),
                        'outputFile': os.path.join(task_dir, 'executor_output.json')}}

    def _execute(self, name: str, command: List[str], log_file: str) -> None:
        with open(log_file, 'ab') as log:
            process = subprocess.run(command, cwd=self.project_dir, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT)
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
        log_file = os.path.join(task_dir, 'task.log')
        started = time.time()
        hook = container.get('lifecycle', {}).get('preCacheCheck')
        if hook and self.run_hooks:
            self._execute(name, hook['command'] + substitute(hook['args'], executor_input, name),
                          log_file)
            self._apply_hook_output(executor_input)
        self._execute(name, container['command'] + substitute(
            container['args'], executor_input, name), log_file)
        self.produced[name] = self._collect_outputs(executor_input)
        self.timings[name] = time.time() - started
        logger.info('%-28s done in %5.1f s', name, self.timings[name])

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
        URI and metadata over the planned artifact (name and type kept)."""
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
        logger.info('Run %s: %d tasks under %s', self.run_name, len(order), self.run_root)
        for index, name in enumerate(order, 1):
            logger.info('[%d/%d] %s', index, len(order), name)
            self.run_task(name)
        return self.produced


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('spec', help='compiled spec (kubeflow_runner.py --output)')
    parser.add_argument('--run-root', required=True, help='task folders and logs land here')
    parser.add_argument('--project-dir', required=True,
                        help='the project as the image holds it (compile with the same '
                             '--project-dir)')
    parser.add_argument('--no-hooks', action='store_true',
                        help='skip lifecycle.preCacheCheck hooks')
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    args = parse_args(argv)
    launcher = Launcher(args.spec, args.run_root, args.project_dir, run_hooks=not args.no_hooks)
    launcher.run()
    logger.info('All %d tasks succeeded (%.0f s)', len(launcher.timings),
                sum(launcher.timings.values()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
