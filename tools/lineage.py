"""Reads the pipeline's ML Metadata store: the latest run, and a model's lineage.

    python -m tools.lineage [--metadata outputs/metadata/metadata.db]

Prints, for the latest pipeline run, each component's execution and output
artifacts; then, for the newest model that was really pushed (a PushedModel
whose `pushed` flag is 1: a Pusher that declined leaves an artifact too), a
card answering a user's questions: where it was pushed, the data it came
from (input base, span, input fingerprint, flawed records), the code version
(project version and code fingerprint), its hyper-parameters, the
Evaluator's metrics and the blessing, and the data checks that ran
(StatisticsGen, ExampleValidator, ValidationGate); last, the full trace back
through the executions and artifacts that produced it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional, Sequence, Set

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
STATE_NAMES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


def open_store(path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def node_names(store) -> Dict[int, str]:
    """Execution id -> the pipeline node (component id) that ran it."""
    names = {}
    for context in store.get_contexts_by_type('node'):
        for execution in store.get_executions_by_context(context.id):
            names[execution.id] = context.name.split('.', 1)[-1]
    return names


def latest_run_report(store) -> List[str]:
    runs = store.get_contexts_by_type('pipeline_run')
    if not runs:
        return ['no pipeline run recorded']
    run = max(runs, key=lambda c: c.create_time_since_epoch)
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
    names = node_names(store)
    lines = [f'Latest run: {run.name}']
    for execution in executions:
        lines.append(f'  {names.get(execution.id, execution.type):32s} '
                     f'{STATE_NAMES.get(execution.last_known_state, "?")}')
        for artifact in _outputs(store, execution.id):
            artifact_type = store.get_artifact_types_by_id([artifact.type_id])[0].name
            lines.append(f'      -> {artifact_type}: {artifact.uri}')
    return lines


def _value(value: metadata_store_pb2.Value):
    kind = value.WhichOneof('value')
    return getattr(value, kind) if kind else None


def _properties(message) -> Dict[str, object]:
    merged = {name: _value(v) for name, v in message.custom_properties.items()}
    merged.update({name: _value(v) for name, v in message.properties.items()})
    return merged


def newest_pushed_model(store) -> Optional[metadata_store_pb2.Artifact]:
    """The newest PushedModel that was pushed (flag `pushed` = 1) and is live."""
    pushed = [a for a in store.get_artifacts_by_type('PushedModel')
              if _properties(a).get('pushed') == 1
              and a.state == metadata_store_pb2.Artifact.LIVE]
    return max(pushed, key=lambda a: a.id) if pushed else None


def _events(store, artifact_id: int, kinds) -> List[metadata_store_pb2.Event]:
    return [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type in kinds]


def _inputs(store, execution_id: int) -> Dict[str, metadata_store_pb2.Artifact]:
    """Input key -> artifact of one execution."""
    result = {}
    for event in store.get_events_by_execution_ids([execution_id]):
        if event.type in INPUT_EVENTS and event.path.steps:
            key = event.path.steps[0].key
            result[key] = store.get_artifacts_by_id([event.artifact_id])[0]
    return result


def _producer(store, artifact_id: int) -> Optional[metadata_store_pb2.Execution]:
    ids = [e.execution_id for e in _events(store, artifact_id, OUTPUT_EVENTS)]
    return store.get_executions_by_id(ids)[0] if ids else None


def _consumers(store, artifact_id: int) -> List[metadata_store_pb2.Execution]:
    ids = [e.execution_id for e in _events(store, artifact_id, INPUT_EVENTS)]
    return store.get_executions_by_id(ids) if ids else []


def _outputs(store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
    ids = [e.artifact_id for e in store.get_events_by_execution_ids([execution_id])
           if e.type in OUTPUT_EVENTS]
    return store.get_artifacts_by_id(ids) if ids else []


def _node(store, execution) -> str:
    return node_names(store).get(execution.id, execution.type)


def data_checks(store, examples_id: int) -> List[str]:
    """States of StatisticsGen -> ExampleValidator -> ValidationGate downstream of the examples."""
    found, frontier = {}, [examples_id]
    for _ in range(3):
        following = []
        for artifact_id in frontier:
            for execution in _consumers(store, artifact_id):
                name = _node(store, execution)
                if name in ('StatisticsGen', 'ExampleValidator', 'ValidationGate'):
                    found[execution.id] = (f'{name} '
                                           f'{STATE_NAMES.get(execution.last_known_state, "?")}')
                    following += [a.id for a in _outputs(store, execution.id)]
        frontier = following
    return [line for _, line in sorted(found.items())]


def model_card(store, pushed: metadata_store_pb2.Artifact) -> List[str]:
    """What a user asks of a pushed model: where, from which data and code, how good."""
    import json
    pusher = _producer(store, pushed.id)
    inputs = _inputs(store, pusher.id)
    model, blessing = inputs.get('model'), inputs.get('model_blessing')
    flags = _properties(pushed)
    lines = [f'Pushed model: {flags.get("pushed_destination")} '
             f'(version {flags.get("pushed_version")}, by {_node(store, pusher)})']
    producer = _producer(store, model.id)
    lines.append(f'  model: {model.uri} (from {_node(store, producer)}, '
                 f'execution #{producer.id})')
    exec_properties = _properties(producer)
    config = {}
    for key in ('custom_config', 'training_config'):
        if exec_properties.get(key):
            config.update(json.loads(exec_properties[key]))
    for key in ('quantization', 'weighting',
                'size_budget_bytes', 'choose_subset'):
        if key in exec_properties:
            config[key] = exec_properties[key]
    if exec_properties.get('code_fingerprint'):   # custom components (components/code_version.py)
        config.setdefault('code_fingerprint', exec_properties['code_fingerprint'])
    code = {k: config.pop(k) for k in ('code_fingerprint', 'project_version') if k in config}
    lines.append(f'  code: {code or "(not recorded by this producer)"}')
    if config:
        lines.append(f'  hyper-parameters: {json.dumps(config, sort_keys=True)}')
    examples = [a for a in _walk_up(store, model.id)
                if store.get_artifact_types_by_id([a.type_id])[0].name == 'Examples']
    for example in examples[:1]:
        props = _properties(example)
        generator = _producer(store, example.id)
        input_base = _properties(generator).get('input_base') if generator else None
        lines.append(f'  data: {input_base} (span {props.get("span")}, input fingerprint '
                     f'{props.get("input_fingerprint")}); examples {example.uri}')
        if 'records_read' in props:
            lines.append(f'  records: {props.get("records_read")} read, '
                         f'{props.get("bad_records")} flawed '
                         f'(policy {props.get("bad_records_policy")}: '
                         f'{props.get("bad_records_by_kind")})')
        if props.get('split_sizes'):
            lines.append(f'  splits: {props.get("split_sizes")} (videos); rule: '
                         f'{props.get("split_rule", "the input splits")}; repeated video ids: '
                         f'{props.get("duplicate_records", 0)} '
                         f'(policy {props.get("duplicates_policy")})')
        lines.append(f'  data checks: {", ".join(data_checks(store, example.id)) or "none"}')
    if blessing is not None:
        verdict = _properties(blessing)
        lines.append(f'  blessing: blessed={verdict.get("blessed")} '
                     f'({verdict.get("reason", "")})')
        gate = _producer(store, blessing.id)
        evaluation = _inputs(store, gate.id).get('evaluation') if gate else None
        if evaluation is not None:
            from components.tfma_metrics import candidate_metrics
            metrics = candidate_metrics(evaluation.uri)
            lines.append('  metrics: ' + ', '.join(f'{k}={v:.4f}'
                                                  for k, v in sorted(metrics.items())))
    return lines


def _walk_up(store, artifact_id: int) -> List[metadata_store_pb2.Artifact]:
    """Every artifact upstream of one, nearest first (breadth-first)."""
    seen, order, frontier = {artifact_id}, [], [artifact_id]
    while frontier:
        following = []
        for current in frontier:
            execution = _producer(store, current)
            if execution is None:
                continue
            for artifact in _inputs(store, execution.id).values():
                if artifact.id not in seen:
                    seen.add(artifact.id)
                    order.append(artifact)
                    following.append(artifact.id)
        frontier = following
    return order


def trace(store, artifact_id: int, depth: int = 0, seen: Optional[Set[int]] = None) -> List[str]:
    """Lines of the tree of executions and artifacts upstream of an artifact."""
    seen = set() if seen is None else seen
    artifact = store.get_artifacts_by_id([artifact_id])[0]
    artifact_type = store.get_artifact_types_by_id([artifact.type_id])[0].name
    indent = '  ' * depth
    lines = [f'{indent}{artifact_type} #{artifact.id}: {artifact.uri}']
    if artifact_id in seen:
        return [lines[0] + ' (see above)']
    seen.add(artifact_id)
    producers = [e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
                 if e.type in OUTPUT_EVENTS]
    for execution in store.get_executions_by_id(producers):
        lines.append(f'{indent}  <- {_node(store, execution)} (execution #{execution.id})')
        inputs = [e.artifact_id for e in store.get_events_by_execution_ids([execution.id])
                  if e.type in INPUT_EVENTS]
        for input_id in sorted(set(inputs)):
            lines += trace(store, input_id, depth + 2, seen)
    return lines


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--metadata', default='outputs/metadata/metadata.db')
    args = parser.parse_args(argv)
    import os
    if not os.path.exists(args.metadata):
        raise SystemExit(f'{args.metadata}: no ML Metadata store (run local_runner.py first)')
    store = open_store(args.metadata)
    print('\n'.join(latest_run_report(store)))
    pushed = newest_pushed_model(store)
    if pushed is None:
        print('\nNo model was pushed (no PushedModel with pushed=1).')
        return 0
    print()
    print('\n'.join(model_card(store, pushed)))
    print('\nLineage of that pushed model:')
    print('\n'.join(trace(store, pushed.id)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
