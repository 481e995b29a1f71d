"""Per-component wall time of a local run, read from its ML Metadata store.

    python benchmarks/bench_pipeline.py [--metadata outputs/metadata/metadata.db]

Run `python local_runner.py --no-cache` first for a full (uncached) run. Each
execution's time is its ML Metadata create-to-last-update span.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import report  # noqa: E402
from tools import lineage  # noqa: E402


def component_rows(metadata_path: str):
    """(rows of component, state and seconds of the newest run, the run's name)."""
    store = lineage.open_store(metadata_path)
    runs = store.get_contexts_by_type('pipeline_run')
    run = max(runs, key=lambda c: c.create_time_since_epoch)
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
    names = lineage.node_names(store)
    rows = [{'component': names.get(e.id, e.type),
             'state': lineage.STATE_NAMES.get(e.last_known_state),
             'seconds': (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000}
            for e in executions]
    first = min(e.create_time_since_epoch for e in executions)
    last = max(e.last_update_time_since_epoch for e in executions)
    rows.append({'component': 'TOTAL (first start to last end)', 'seconds': (last - first) / 1000})
    return rows, run.name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--metadata', default='outputs/metadata/metadata.db')
    args = parser.parse_args()
    rows, run = component_rows(args.metadata)
    report('pipeline_components', ['component', 'state', 'seconds'], rows, {'run': run})


if __name__ == '__main__':
    main()
