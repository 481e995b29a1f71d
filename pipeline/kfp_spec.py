"""What TFX's v2 compiler leaves out of a spec that must run on a real backend.

`KubeflowV2DagRunner` writes a pipeline spec that is valid, but that
open-source KFP 2.x cannot run as is (see docs/KUBEFLOW.md, read against
kubeflow/pipelines 2.5.0). `kubeflow_runner.py` compiles, then calls
`finish_spec` here, which:

* names the pipeline root (`defaultPipelineRoot`), refusing local paths for a
  cluster target: no pod can read the compiling machine's /tmp;
* runs every task through the image's `pipeline.kfp_entrypoint`, which
  repairs what the open-source driver hands over (typeless inputs, the extra
  `executor-logs` output) before TFX's own entrypoint;
* turns the cache off for tasks whose result depends on more than their
  inputs: BaselineLookup reads the live serving folder (a cached lookup
  would hide a newer pushed model), and the ExampleGen when the input files
  could not be fingerprinted at compile time;
* adds the Kubernetes platform config (GPU node selectors) for the KFP target.

Task names are the node ids (`Trainer-dbof`), valid Argo names
(pipeline/pipeline.py); this module checks them again on the final spec.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

TFX_ENTRYPOINT_MODULE = 'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor'
PROJECT_ENTRYPOINT_MODULE = 'pipeline.kfp_entrypoint'
# Argo's name rule (argoproj/argo-workflows v3.5, workflow/validate/validate.go,
# validateWorkflowFieldNames): templates and DAG tasks, at most 128 characters.
# KFP uses `depends`, so a name may not start with a digit either.
ARGO_NAME = re.compile(r'^[a-zA-Z][-a-zA-Z0-9]*$')
ARGO_NAME_MAX = 128
# KFP's Argo compiler adds a driver task `<task>-driver` beside every task
# (backend/src/v2/compiler/argocompiler/dag.go, `task`): that name must pass too.
DRIVER_SUFFIX = '-driver'
# Remote filesystems the image can read (tf.io.gfile and Beam).
CLUSTER_SCHEMES = {'kfp': ('gs://', 's3://'), 'vertex': ('gs://',)}
# Node kinds whose task must never come from the cache.
UNCACHEABLE_KINDS = ('BaselineLookup',)
EXAMPLE_GEN_TASK = 'YT8MExampleGen'


class SpecError(ValueError):
    """The compiled spec would be refused, or would misbehave, on its target."""


def targets_it_suits(docs: List[dict]) -> Tuple[str, ...]:
    """The targets a compiled spec (`load`'s documents) can be submitted to.

    A Kubernetes platform document or an `nvidia.com/gpu` accelerator is
    open-source KFP's alone (Vertex's loader reads one YAML document, and
    takes accelerator enum names such as NVIDIA_TESLA_T4, which KFP's Argo
    compiler would pass to Kubernetes as a resource name).
    """
    accelerators = {(executor.get('container') or {}).get('resources', {})
                    .get('accelerator', {}).get('type')
                    for executor in docs[0].get('deploymentSpec', {}).get('executors', {}).values()}
    accelerators.discard(None)
    if len(docs) > 1 or any('/' in kind for kind in accelerators):
        return ('kfp',)
    if accelerators:
        return ('vertex',)
    return tuple(CLUSTER_SCHEMES)


def load(spec_file: str) -> List[dict]:
    """The YAML documents of a spec file: the pipeline spec, then any platform spec."""
    with open(spec_file) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def dump(docs: List[dict], spec_file: str) -> None:
    with open(spec_file, 'w') as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)


def check_roots(target: str, roots: Dict[str, str]) -> None:
    """Cluster targets need roots every pod can reach (gs://; s3:// on KFP)."""
    schemes = CLUSTER_SCHEMES[target]
    local = {name: root for name, root in roots.items() if root and not root.startswith(schemes)}
    if local:
        listed = ', '.join(f'--{name.replace("_", "-")} {root}' for name, root in local.items())
        raise SpecError(f'{listed}: a {target} task cannot reach a path of this machine; give '
                        f'{" or ".join(schemes)} roots (or --allow-local-roots to run the spec '
                        'here with tools/kfp_launcher.py)')


def check_task_names(spec: dict) -> None:
    """Every task and component name, and each task's driver, is a valid Argo name."""
    tasks = list(spec['root']['dag']['tasks'])
    names = tasks + [task + DRIVER_SUFFIX for task in tasks] + list(spec['components'])
    bad = [name for name in names if not ARGO_NAME.match(name) or len(name) > ARGO_NAME_MAX]
    if bad:
        raise SpecError(f'names Argo refuses (it accepts {ARGO_NAME.pattern}): {sorted(bad)}')


def use_project_entrypoint(spec: dict) -> int:
    """Every TFX executor container runs pipeline.kfp_entrypoint; returns how many."""
    changed = 0
    for executor in spec['deploymentSpec']['executors'].values():
        container = executor.get('container') or {}
        command = container.get('command') or []
        if TFX_ENTRYPOINT_MODULE in command:
            container['command'] = [PROJECT_ENTRYPOINT_MODULE if part == TFX_ENTRYPOINT_MODULE
                                    else part for part in command]
            changed += 1
    return changed


def disable_cache(spec: dict, task_names: Iterable[str]) -> None:
    tasks = spec['root']['dag']['tasks']
    for name in task_names:
        tasks[name]['cachingOptions'] = {'enableCache': False}


def uncacheable_tasks(spec: dict, example_gen_cacheable: bool) -> List[str]:
    names = [name for name in spec['root']['dag']['tasks']
             if name.split('-')[0] in UNCACHEABLE_KINDS]
    if not example_gen_cacheable:
        names.append(EXAMPLE_GEN_TASK)
    return names


def node_selector_platform(spec: dict, selectors: Dict[str, Dict[str, str]]) -> Optional[dict]:
    """A KFP Kubernetes platform spec with the node selectors, or None without any."""
    if not selectors:
        return None
    tasks = spec['root']['dag']['tasks']
    executors = {}
    for node_id, labels in selectors.items():
        component = spec['components'][tasks[node_id]['componentRef']['name']]
        executors[component['executorLabel']] = {'nodeSelector': {'labels': dict(labels)}}
    return {'platforms': {'kubernetes': {'deploymentSpec': {'executors': executors}}}}


def finish_spec(spec_file: str, target: str, pipeline_root: str, example_gen_cacheable: bool,
                gpu_node_selectors: Optional[Dict[str, Dict[str, str]]] = None) -> dict:
    """Rewrites `spec_file` in place for `target`; returns the pipeline spec."""
    (spec,) = load(spec_file)[:1]
    spec['defaultPipelineRoot'] = pipeline_root
    check_task_names(spec)
    use_project_entrypoint(spec)
    disable_cache(spec, uncacheable_tasks(spec, example_gen_cacheable))
    docs = [spec]
    platform = node_selector_platform(spec, gpu_node_selectors or {}) if target == 'kfp' else None
    if platform:
        docs.append(platform)
    dump(docs, spec_file)
    return spec
