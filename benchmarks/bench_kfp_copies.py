"""Bytes that open-source KFP's launcher copies into pods, per task, under both designs.

    python benchmarks/bench_kfp_copies.py [--root /tmp/bench_kfp_copies] [--count-only]

KFP's launcher (kubeflow/pipelines 2.5.0 `launcher_v2.go`
`downloadArtifacts`, unchanged through 2.17) downloads every input artifact
whose URI is in a bucket into the pod before the executor starts; an input
on a mounted volume is read in place. This benchmark compiles the cluster
checks' spec (`tests/cluster/remote_roots`: 600 videos, DBoF tiny, one
student) twice, with the pipeline root in the bucket (today's default) and
with `--artifact-volume`, runs each task by task through
`tools/kfp_launcher.py --backend kfp` (outputs round-tripped through ML
Metadata as KFP does), and writes, per task, the bytes the launcher copies
and the bytes the task reads in place, with each task's seconds and peak
resident memory (its own process, as a pod's memory limit sees it). It also counts, from the default
spec (`kubeflow_runner.py`'s defaults, compiled, not run), the tasks that
read the Examples: each of them copies the whole Examples without a volume.
`--count-only` does that count alone (a compile, seconds) and writes
results/kfp_default_spec_inputs.json, for when the DAG changes.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import yaml  # noqa: E402

import kubeflow_runner  # noqa: E402
from benchmarks.common import report  # noqa: E402
from tests.cluster import remote_roots  # noqa: E402
from tools import kfp_launcher  # noqa: E402
from yt8m import synthetic  # noqa: E402

VOLUME_CLAIM = 'yt8m-artifacts'
RELEASE_EXAMPLES_BYTES = 1.5e12   # docs/SCALING.md: the release's frame-level TFRecords


def compile_spec(root, project, data_root, name, *flags):
    spec_file = os.path.join(root, f'{name}.yaml')
    kubeflow_runner.main(['--target', 'kfp', '--output', spec_file, '--image', 'yt8m-tfx:bench',
                          '--project-dir', project, '--allow-local-roots',
                          '--pipeline-root', os.path.join(root, f'root_{name}'),
                          '--data-root', data_root, *flags])
    return spec_file


def run_design(root, project, spec_file, name, volumes=None):
    """{task: {'copied': bytes, 'in_place': bytes, 'inputs': keys}} and seconds."""
    launcher = kfp_launcher.Launcher(spec_file, os.path.join(root, f'run_{name}'), project,
                                     backend='kfp', volumes=volumes or {})
    started = time.perf_counter()
    launcher.run()
    seconds = time.perf_counter() - started
    tasks = {}
    for task, read in launcher.read_bytes.items():
        copied = sum(launcher.input_bytes[task].values())
        tasks[task] = {'copied': copied, 'in_place': sum(read.values()) - copied,
                       'inputs': sorted(read), 'seconds': launcher.timings.get(task),
                       'peak_rss_mb': launcher.peak_rss_bytes.get(task, 0) / 2 ** 20}
    return tasks, seconds


def examples_consumers(root, project, data_root):
    """Tasks of the default spec that take the ExampleGen's `examples` output."""
    spec_file = compile_spec(root, project, data_root, 'default')
    with open(spec_file) as f:
        tasks = next(yaml.safe_load_all(f))['root']['dag']['tasks']
    return sorted(name for name, task in tasks.items()
                  if any(source.get('taskOutputArtifact', {}) == {
                      'producerTask': 'YT8MExampleGen', 'outputArtifactKey': 'examples'}
                      for source in task.get('inputs', {}).get('artifacts', {}).values())), \
        len(tasks)


def count_default_spec(root, project, data_root) -> None:
    """The default spec's tasks that read the Examples, and what that copies at the release."""
    consumers, default_tasks = examples_consumers(root, project, data_root)
    rows = [{'task': task} for task in consumers]
    report('kfp_default_spec_inputs', ['task'], rows, {
        'default_spec_tasks': default_tasks,
        'examples_consumers': len(consumers),
        'release_examples_copied_bytes_bucket_root': len(consumers) * RELEASE_EXAMPLES_BYTES,
        'command': ' '.join(['python benchmarks/bench_kfp_copies.py', *sys.argv[1:]])})
    print(f'{len(consumers)} of {default_tasks} default-spec tasks read the Examples')


def main() -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', default=None, help='work folder (default: a temporary one)')
    parser.add_argument('--count-only', action='store_true',
                        help='only count the default spec\'s tasks that read the Examples')
    args = parser.parse_args()
    root = args.root or tempfile.mkdtemp(prefix='bench_kfp_copies_')
    shutil.rmtree(root, ignore_errors=True)
    project = os.path.join(root, 'image', 'pipeline')
    remote_roots.copy_as_in_image(project)
    data_root = os.path.join(root, 'data')
    synthetic.generate(data_root, **remote_roots.DATA)
    if args.count_only:
        count_default_spec(root, project, data_root)
        return

    bucket_spec = compile_spec(root, project, data_root, 'bucket', *remote_roots.RUN_FLAGS)
    volume_spec = compile_spec(root, project, data_root, 'volume', *remote_roots.RUN_FLAGS,
                               '--artifact-volume', f'{VOLUME_CLAIM}:/mnt/yt8m')
    bucket, bucket_seconds = run_design(root, project, bucket_spec, 'bucket')
    volume, volume_seconds = run_design(root, project, volume_spec, 'volume',
                                        {VOLUME_CLAIM: os.path.join(root, 'volume')})
    rows = [{'task': task, 'inputs': ','.join(bucket[task]['inputs']) or '-',
             'copied_bucket_root': bucket[task]['copied'],
             'copied_artifact_volume': volume[task]['copied'],
             'read_in_place_artifact_volume': volume[task]['in_place'],
             'seconds': bucket[task]['seconds'], 'peak_rss_mb': bucket[task]['peak_rss_mb']}
            for task in bucket]
    consumers, default_tasks = examples_consumers(root, project, data_root)
    examples_bytes = next(row['copied_bucket_root'] for row in rows
                          if row['task'] == 'StatisticsGen')
    extra = {
        'spec': {'data': remote_roots.DATA, 'flags': remote_roots.RUN_FLAGS},
        'tasks': len(rows),
        'examples_bytes': examples_bytes,
        'total_copied_bucket_root': sum(r['copied_bucket_root'] for r in rows),
        'total_copied_artifact_volume': sum(r['copied_artifact_volume'] for r in rows),
        'run_seconds': {'bucket_root': bucket_seconds, 'artifact_volume': volume_seconds},
        'default_spec_tasks': default_tasks,
        'default_spec_examples_consumers': consumers,
        'release_examples_copied_bytes_bucket_root': len(consumers) * RELEASE_EXAMPLES_BYTES,
        'kfp_source': 'kubeflow/pipelines 2.5.0 backend/src/v2/component/launcher_v2.go '
                      'downloadArtifacts'}
    report('kfp_copies', ['task', 'inputs', 'copied_bucket_root', 'copied_artifact_volume',
                          'read_in_place_artifact_volume', 'seconds', 'peak_rss_mb'], rows, extra)
    print(f'{len(consumers)} of {default_tasks} default-spec tasks read the Examples; at the '
          f'release ({RELEASE_EXAMPLES_BYTES / 1e12:.1f} TB) without a volume KFP copies '
          f'{len(consumers) * RELEASE_EXAMPLES_BYTES / 1e12:.1f} TB into pods per run, '
          'with the volume none')


if __name__ == '__main__':
    main()
