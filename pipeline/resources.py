"""CPU, memory and GPU per Kubeflow task, from defaults and an optional JSON file.

TFX 1.16 passes a KFP v2 `ResourceSpec` attached with
`component.with_platform_config(...)` into the task's container spec (see
tfx/orchestration/kubeflow/v2/step_builder.py); this module builds those
specs. A table maps a node id (`Trainer.netvlad`) or its kind (`Trainer`) to
`{"cpu": 8, "memory_gb": 32, "gpu_type": "nvidia-tesla-t4", "gpu_count": 1}`;
the node id wins over its kind. Requests equal limits, so a task gets what
it asks for or is not scheduled.

Defaults are sized for the seed preset (benchmarks/results/final_artifact_seed.json:
quantizing a seed NetFV peaks at 14.5 GB; serving the six-member seed ensemble
at 7.4 GB).
"""

from __future__ import annotations

import json
from typing import Dict, Iterable, Optional

from kfp.pipeline_spec import pipeline_spec_pb2

ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec

DEFAULT_RESOURCES: Dict[str, Dict] = {
    'Trainer': {'cpu': 8, 'memory_gb': 32},
    'Distiller': {'cpu': 8, 'memory_gb': 32},
    'Quantizer': {'cpu': 4, 'memory_gb': 24},
    'EnsembleBuilder': {'cpu': 4, 'memory_gb': 24},
    'Evaluator': {'cpu': 4, 'memory_gb': 16},
}
_KEYS = {'cpu', 'memory_gb', 'gpu_type', 'gpu_count'}


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
            table[name] = {**table.get(name.split('.')[0], {}), **entry}
    return table


def resource_spec(entry: Dict) -> ResourceSpec:
    spec = ResourceSpec()
    if 'cpu' in entry:
        spec.cpu_limit = spec.cpu_request = float(entry['cpu'])
    if 'memory_gb' in entry:
        spec.memory_limit = spec.memory_request = float(entry['memory_gb'])
    if entry.get('gpu_count'):
        if not entry.get('gpu_type'):
            raise ValueError(f'gpu_count without gpu_type in {entry}')
        spec.accelerator.type = entry['gpu_type']
        spec.accelerator.count = int(entry['gpu_count'])
    return spec


def apply(components: Iterable, table: Dict[str, Dict]) -> None:
    """Attaches each node's ResourceSpec (node id first, then its kind)."""
    for node in components:
        entry = table.get(node.id, table.get(node.id.split('.')[0]))
        if entry:
            node.with_platform_config(resource_spec(entry))
