"""Reads the pipeline's ML Metadata store: the latest run, and a model's lineage.

    python -m pipeline.lineage [--metadata outputs/metadata/metadata.db]

Prints, for the latest pipeline run, each component's execution and output
artifacts, then traces the newest pushed model back through the executions
and artifacts that produced it (Pusher <- Evaluator/Trainer <- Transform,
schema, examples <- ExampleGen).
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


def _node_names(store, executions) -> Dict[int, str]:
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
    names = _node_names(store, executions)
    lines = [f'Latest run: {run.name}']
    for execution in executions:
        lines.append(f'  {names.get(execution.id, execution.type):32s} '
                     f'{STATE_NAMES.get(execution.last_known_state, "?")}')
        events = store.get_events_by_execution_ids([execution.id])
        outputs = [e.artifact_id for e in events if e.type in OUTPUT_EVENTS]
        for artifact in store.get_artifacts_by_id(outputs):
            artifact_type = store.get_artifact_types_by_id([artifact.type_id])[0].name
            lines.append(f'      -> {artifact_type}: {artifact.uri}')
    return lines


def newest_artifact(store, type_name: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = store.get_artifacts_by_type(type_name)
    return max(artifacts, key=lambda a: a.id) if artifacts else None


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
        names = _node_names(store, [execution])
        lines.append(f'{indent}  <- {names.get(execution.id, execution.type)} '
                     f'(execution #{execution.id})')
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
    pushed = newest_artifact(store, 'PushedModel')
    if pushed is None:
        print('\nNo pushed model recorded.')
        return 0
    print('\nLineage of the newest pushed model:')
    print('\n'.join(trace(store, pushed.id)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
