"""Shared output of the benchmarks: a printed table and a JSON file."""

from __future__ import annotations

import json
import os
import platform
from typing import Dict, List, Sequence

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')


def print_table(columns: Sequence[str], rows: List[Dict]) -> None:
    widths = [max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns]
    print('  '.join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print('  '.join(_cell(row.get(c)).ljust(w) for c, w in zip(columns, widths)))


def report(name: str, columns: Sequence[str], rows: List[Dict], extra: Dict = None) -> str:
    """Prints the table and writes it, with `extra`, to results/<name>.json."""
    print_table(columns, rows)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    path = os.path.join(RESULTS_DIR, f'{name}.json')
    with open(path, 'w') as f:
        json.dump({'machine': {'cpus': os.cpu_count(), 'python': platform.python_version()},
                   'rows': rows, **(extra or {})}, f, indent=1)
    print(f'wrote {path}')
    return path


def _cell(value) -> str:
    if isinstance(value, float):
        return f'{value:.4g}'
    return '-' if value is None else str(value)
