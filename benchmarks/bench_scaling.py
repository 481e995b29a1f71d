"""Costs against data size: the whole local pipeline at three sizes, each 4x the last.

    python benchmarks/bench_scaling.py [--sizes 1000,4000,16000] [--preset tiny]
        [--output-root /tmp/bench_scaling] [--pipeline-arg=--families=dbof ...]

For each size, `local_runner.py --no-cache --videos N --preset P` runs in a
child process (the default generator, families and budget: 10 epochs, so
training grows with the data too), while this process samples the resident
memory of the runner and all its children every 0.5 s. Per component, from
ML Metadata's start and end times: its seconds, and the peak resident memory
of the process tree while it ran. Then, between consecutive sizes, each
component's ratio of seconds and of peak memory: linear costs give a seconds
ratio of at most 4 (fixed start-up costs make it less), and memory that
does not grow with the data a ratio near 1. A component is flagged when its
seconds grow more than 4 x 1.25 per 4x data, or its peak memory more than
1.5x. Writes results/scaling.json.

Data generation runs before the first component and is not counted.
`--pipeline-arg FLAG` (repeatable) passes a further pipeline flag to the
runner (e.g. `--pipeline-arg=--families=dbof --pipeline-arg=--distill=none`
for a shorter DAG at larger sizes); the results keep them in `command`.

`--per-process`: instead, each size's pipeline is compiled for Kubeflow
(`kubeflow_runner.py --target kfp`, the same preset and default budget) and
run task by task through `tools/kfp_launcher.py --backend kfp`, one process
per task as a cluster runs it; per task, its seconds and its own peak
resident memory (the launcher's `VmHWM` reading), which LocalDagRunner's
single process cannot tell apart. Writes results/scaling_per_process.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

import psutil  # noqa: E402

from benchmarks import bench_pipeline  # noqa: E402
from benchmarks.common import report  # noqa: E402
from tools import lineage  # noqa: E402

SAMPLE_SECONDS = 0.5
SECONDS_SLACK, MEMORY_LIMIT = 1.25, 1.5


class TreeMemory(threading.Thread):
    """Samples (time, resident bytes of a process and its children) until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                processes = [self.root] + self.root.children(recursive=True)
                total = 0
                for process in processes:
                    try:
                        total += process.memory_info().rss
                    except psutil.Error:
                        pass
                self.samples.append((time.time(), total))
            except psutil.Error:
                return
            self.stopped.wait(SAMPLE_SECONDS)


def component_windows(metadata_path: str):
    """(component, start s, end s) of the newest run's executions."""
    store = lineage.open_store(metadata_path)
    run = max(store.get_contexts_by_type('pipeline_run'), key=lambda c: c.create_time_since_epoch)
    names = lineage.node_names(store)
    return [(names.get(e.id, e.type), e.create_time_since_epoch / 1000,
             e.last_update_time_since_epoch / 1000)
            for e in store.get_executions_by_context(run.id)]


def run_size(videos: int, preset: str, output_root: str, pipeline_args=()) -> dict:
    root = os.path.join(output_root, str(videos))
    command = [sys.executable, os.path.join(PROJECT, 'local_runner.py'), '--no-cache',
               '--videos', str(videos), '--preset', preset, '--output-root', root,
               *pipeline_args]
    started = time.time()
    with open(os.path.join(output_root, f'{videos}.log'), 'w') as log:
        process = subprocess.Popen(command, cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeMemory(process.pid)
        sampler.start()
        code = process.wait()
        sampler.stopped.set()
        sampler.join()
    if code != 0:
        raise SystemExit(f'local_runner.py exited with {code} at {videos} videos; '
                         f'log {output_root}/{videos}.log')
    metadata = os.path.join(root, 'metadata', 'metadata.db')
    components = {}
    for name, start, end in component_windows(metadata):
        during = [rss for at, rss in sampler.samples if start <= at <= end]
        components[name] = {'seconds': round(end - start, 2),
                            'peak_rss_gb': round(max(during) / 1e9, 3) if during else None}
    rows, _ = bench_pipeline.component_rows(metadata)
    return {'videos': videos, 'runner_seconds': round(time.time() - started, 1),
            'pipeline_seconds': rows[-1]['seconds'],
            'peak_rss_gb': round(max(rss for _, rss in sampler.samples) / 1e9, 3),
            'components': components}


def run_size_per_process(videos: int, preset: str, output_root: str,
                         pipeline_args=()) -> dict:
    """The compiled spec at `videos`, one process per task (see the module)."""
    import local_runner
    import kubeflow_runner
    from tools import kfp_launcher
    root = os.path.join(output_root, f'per_process_{videos}')
    data_root = local_runner.ensure_default_data(root, videos)
    spec = os.path.join(root, 'spec.yaml')
    kubeflow_runner.main(['--target', 'kfp', '--output', spec, '--image', 'yt8m-tfx:bench',
                          '--project-dir', PROJECT, '--allow-local-roots',
                          '--pipeline-root', os.path.join(root, 'pipeline_root'),
                          '--data-root', data_root, '--preset', preset, *pipeline_args])
    launcher = kfp_launcher.Launcher(spec, os.path.join(root, 'run'), PROJECT, backend='kfp')
    started = time.time()
    launcher.run()
    components = {task: {'seconds': round(seconds, 2),
                         'peak_rss_gb': round(launcher.peak_rss_bytes.get(task, 0) / 1e9, 3)}
                  for task, seconds in launcher.timings.items()}
    return {'videos': videos, 'runner_seconds': round(time.time() - started, 1),
            'pipeline_seconds': round(sum(c['seconds'] for c in components.values()), 1),
            'peak_rss_gb': max(c['peak_rss_gb'] for c in components.values()),
            'components': components}


def growth_rows(runs):
    """One row per component: seconds and peak memory at each size, and their growth."""
    rows = []
    for name in sorted(runs[0]['components'], key=lambda n: -runs[-1]['components']
                       .get(n, {}).get('seconds', 0)):
        row = {'component': name}
        for run in runs:
            measured = run['components'].get(name, {})
            row[f's_{run["videos"]}'] = measured.get('seconds')
            row[f'gb_{run["videos"]}'] = measured.get('peak_rss_gb')
        flags = []
        for small, large in zip(runs, runs[1:]):
            a, b = small['components'].get(name), large['components'].get(name)
            if not a or not b:
                continue
            factor = large['videos'] / small['videos']
            seconds = b['seconds'] / a['seconds'] if a['seconds'] >= 1 else None
            memory = (b['peak_rss_gb'] / a['peak_rss_gb']
                      if a['peak_rss_gb'] and b['peak_rss_gb'] else None)
            row[f'time_x_{large["videos"]}'] = round(seconds, 2) if seconds else None
            row[f'mem_x_{large["videos"]}'] = round(memory, 2) if memory else None
            if seconds and seconds > factor * SECONDS_SLACK:
                flags.append(f'time x{seconds:.1f} for data x{factor:g}')
            if memory and memory > MEMORY_LIMIT:
                flags.append(f'memory x{memory:.1f}')
        row['flag'] = '; '.join(flags)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--sizes', default='1000,4000,16000')
    parser.add_argument('--preset', default='tiny')
    parser.add_argument('--output-root', default='/tmp/bench_scaling')
    parser.add_argument('--results-name', default=None,
                        help='default: scaling, or scaling_per_process')
    parser.add_argument('--per-process', action='store_true',
                        help='one process per task, through the compiled Kubeflow spec')
    parser.add_argument('--pipeline-arg', action='append', default=[], metavar='FLAG',
                        help='a further pipeline flag for the runner (repeatable), '
                             'e.g. --pipeline-arg=--families=dbof')
    args = parser.parse_args()
    args.results_name = args.results_name or (
        'scaling_per_process' if args.per_process else 'scaling')
    measure = run_size_per_process if args.per_process else run_size
    os.makedirs(args.output_root, exist_ok=True)
    runs = []
    for videos in (int(size) for size in args.sizes.split(',')):
        runs.append(measure(videos, args.preset, args.output_root, args.pipeline_arg))
        print({key: value for key, value in runs[-1].items() if key != 'components'},
              flush=True)
        rows = growth_rows(runs)
        columns = ['component'] + [f'{kind}_{run["videos"]}' for run in runs
                                   for kind in ('s', 'gb')]
        columns += [f'{kind}_x_{run["videos"]}' for run in runs[1:]
                    for kind in ('time', 'mem')] + ['flag']
        report(args.results_name, columns, rows, {
            'runs': [{key: value for key, value in run.items() if key != 'components'}
                     for run in runs],
            'preset': args.preset, 'per_process': args.per_process,
            'memory': ('each task\'s own peak (VmHWM)' if args.per_process else
                       f'process tree, sampled every {SAMPLE_SECONDS} s'),
            'flag_rule': f'seconds ratio > data ratio x {SECONDS_SLACK}, or peak memory '
                         f'ratio > {MEMORY_LIMIT} (components under 1 s not timed)',
            'command': ' '.join(['python benchmarks/bench_scaling.py', *sys.argv[1:]])})


if __name__ == '__main__':
    main()
