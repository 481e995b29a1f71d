"""CPU, memory and GPU per Kubeflow task, from defaults and an optional JSON file.

TFX 1.16 passes a KFP v2 `ResourceSpec` attached with
`component.with_platform_config(...)` into the task's container spec (see
tfx/orchestration/kubeflow/v2/step_builder.py); this module builds those
specs. A table maps a node id (`Trainer-netvlad`) or its kind (`Trainer`) to
`{"cpu": 8, "memory_gb": 32, "gpu_type": "nvidia-tesla-t4", "gpu_count": 1}`;
the node id wins over its kind. Requests equal limits, so a task gets what
it asks for or is not scheduled.

A GPU is written in each backend's own form (`gpu_type` is the GKE
accelerator name, lower case with dashes):

* open-source KFP: KFP 2.5's Argo compiler copies `accelerator.type`
  verbatim into the pod's resource limits (`backend/src/v2/compiler/
  argocompiler/container.go`), so it must be the Kubernetes resource name,
  `nvidia.com/gpu`; the GPU model goes into a node selector of the spec's
  Kubernetes platform config (`gpu_node_selectors`), the only place the
  backend takes one from;
* Vertex AI: `accelerator.type` is the AcceleratorType enum name,
  `NVIDIA_TESLA_T4`, and Vertex picks the machine.

Defaults are sized for the seed preset (benchmarks/results/final_artifact_seed.json:
quantizing a seed NetFV peaks at 14.5 GB; serving the six-member seed ensemble
at 7.4 GB).
"""

from __future__ import annotations

import json
import re
from typing import Dict, Iterable, Optional

from kfp.pipeline_spec import pipeline_spec_pb2

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

DEFAULT_RESOURCES: Dict[str, Dict] = {
    'Trainer': {'cpu': 8, 'memory_gb': 32},
    'TeacherScorer': {'cpu': 8, 'memory_gb': 32},
    'Distiller': {'cpu': 8, 'memory_gb': 32},
    'Quantizer': {'cpu': 4, 'memory_gb': 24},
    'EnsembleBuilder': {'cpu': 4, 'memory_gb': 24},
    'Evaluator': {'cpu': 4, 'memory_gb': 16},
}
_KEYS = {'cpu', 'memory_gb', 'gpu_type', 'gpu_count'}
TARGETS = ('kfp', 'vertex')
# The Kubernetes extended resource of NVIDIA's device plugin.
K8S_GPU_RESOURCE = 'nvidia.com/gpu'
# The node label GKE puts on GPU nodes (other clusters: --gpu-node-label).
DEFAULT_GPU_NODE_LABEL = 'cloud.google.com/gke-accelerator'
_GPU_TYPE = re.compile(r'^[a-z0-9]+(-[a-z0-9]+)*$')


def load_table(path: Optional[str]) -> Dict[str, Dict]:
    """DEFAULT_RESOURCES, updated by the JSON file's entries (if any)."""
    table = {kind: dict(entry) for kind, entry in DEFAULT_RESOURCES.items()}
    if path:
        with open(path) as f:
            given = json.load(f)
        for name, entry in given.items():
            unknown = set(entry) - _KEYS
            if unknown:
                raise ValueError(f'{path}: {name}: unknown keys {sorted(unknown)}; '
                                 f'use {sorted(_KEYS)}')
            table[name] = {**table.get(name.split('-')[0], {}), **entry}
    return table


def accelerator_type(gpu_type: str, target: str) -> str:
    """`nvidia-tesla-t4` as the backend names it: nvidia.com/gpu (KFP) or NVIDIA_TESLA_T4 (Vertex)."""
    if not _GPU_TYPE.match(gpu_type):
        raise ValueError(f'gpu_type {gpu_type!r}: use the accelerator name in lower case with '
                         "dashes, e.g. 'nvidia-tesla-t4' or 'nvidia-l4'")
    if target == 'vertex':
        return gpu_type.upper().replace('-', '_')
    if target == 'kfp':
        return K8S_GPU_RESOURCE
    raise ValueError(f'unknown target {target!r}; use one of {TARGETS}')


def resource_spec(entry: Dict, target: str = 'kfp') -> ResourceSpec:
    spec = ResourceSpec()
    if 'cpu' in entry:
        spec.cpu_limit = spec.cpu_request = float(entry['cpu'])
    if 'memory_gb' in entry:
        spec.memory_limit = spec.memory_request = float(entry['memory_gb'])
    if entry.get('gpu_count'):
        if not entry.get('gpu_type'):
            raise ValueError(f'gpu_count without gpu_type in {entry}')
        spec.accelerator.type = accelerator_type(entry['gpu_type'], target)
        spec.accelerator.count = int(entry['gpu_count'])
    return spec


def entry_for(node_id: str, table: Dict[str, Dict]) -> Optional[Dict]:
    return table.get(node_id, table.get(node_id.split('-')[0]))


def apply(components: Iterable, table: Dict[str, Dict], target: str = 'kfp') -> None:
    """Attaches each node's ResourceSpec (node id first, then its kind)."""
    for node in components:
        entry = entry_for(node.id, table)
        if entry:
            node.with_platform_config(resource_spec(entry, target))


def gpu_node_selectors(node_ids: Iterable[str], table: Dict[str, Dict],
                       label: str = DEFAULT_GPU_NODE_LABEL) -> Dict[str, Dict[str, str]]:
    """Node id -> node selector labels, for each node that asks for a GPU (KFP target)."""
    selectors = {}
    for node_id in node_ids:
        entry = entry_for(node_id, table) or {}
        if entry.get('gpu_count'):
            selectors[node_id] = {label: entry['gpu_type']}
    return selectors
