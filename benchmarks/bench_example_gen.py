"""YT8MExampleGen alone at three data sizes, each 4x the last: seconds and peak memory.

    python benchmarks/bench_example_gen.py [--sizes 1000,4000,16000]
        [--output-root /tmp/bench_example_gen]

For each size the default generator writes the data (not timed), then the
ExampleGen's executor runs in its own process with the pipeline's own input
config and split rule (train, select, test), on Beam's DirectRunner as
LocalDagRunner runs it. This process reads the child's peak resident memory
(`VmHWM`, as tools/kfp_launcher.py does) while it runs. Between consecutive
sizes: the ratio of seconds (linear: at most 4) and of peak memory (bounded:
near 1). Writes results/example_gen_scaling.json.

The whole pipeline at three sizes is bench_scaling.py --per-process; this
one isolates the ingestion step, whose memory grew with the data before it
read its files in two passes (docs/SCALING.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT)

from benchmarks import common  # noqa: E402
from tools import kfp_launcher  # noqa: E402


def run_example_gen(data_root: str, output: str) -> dict:
    """The executor on `data_root`, as the default pipeline configures it (child process)."""
    from tfx.dsl.components.base import base_beam_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils
    from components.yt8m_example_gen import executor
    from pipeline import options as run_options
    from pipeline import pipeline as pipeline_def

    examples = standard_artifacts.Examples()
    examples.uri = output
    input_config = pipeline_def.example_gen_input_config(has_validate_files=True)
    rule = run_options.RunOptions().split_rule
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=[])
    executor.Executor(context).Do({}, {'examples': [examples]}, {
        'input_base': data_root,
        'input_config': proto_utils.proto_to_json(input_config),
        'output_config': proto_utils.proto_to_json(example_gen_pb2.Output()),
        'output_data_format': example_gen_pb2.FORMAT_TF_SEQUENCE_EXAMPLE,
        'output_file_format': example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        'bad_records': 'fail', 'max_bad_fraction': 0.01, 'max_listed': 100,
        'duplicates': 'fail', 'split_rule': rule.to_json()})
    return json.loads(examples.get_string_custom_property('split_sizes'))


def measure(videos: int, output_root: str) -> dict:
    root = os.path.join(output_root, str(videos))
    data_root = subprocess.run(
        [sys.executable, '-c', 'import sys, local_runner; '
         f'print(local_runner.ensure_default_data({root!r}, {videos}))'],
        cwd=PROJECT, check=True, capture_output=True, text=True).stdout.split()[-1]
    output = os.path.join(root, 'examples')
    subprocess.run(['rm', '-rf', output], check=True)
    log_file = os.path.join(root, 'example_gen.log')
    started, peak = time.time(), 0
    with open(log_file, 'w') as log:
        child = subprocess.Popen([sys.executable, __file__, '--child', data_root, output],
                                 cwd=PROJECT, stdout=log, stderr=subprocess.STDOUT)
        while child.poll() is None:
            peak = max(peak, kfp_launcher.high_water_rss(child.pid))
            time.sleep(kfp_launcher.MEMORY_POLL_SECONDS)
    if child.returncode:
        raise SystemExit(f'the ExampleGen failed at {videos} videos; log {log_file}')
    with open(log_file) as log:
        sizes = json.loads([line for line in log if line.startswith('SPLIT_SIZES ')][-1][12:])
    data_bytes = sum(os.path.getsize(os.path.join(data_root, name))
                     for name in os.listdir(data_root))
    return {'videos': videos, 'data_gb': round(data_bytes / 1e9, 3),
            'seconds': round(time.time() - started, 1),
            'peak_rss_gb': round(peak / 1e9, 3), 'split_sizes': sizes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--sizes', default='1000,4000,16000')
    parser.add_argument('--output-root', default='/tmp/bench_example_gen')
    parser.add_argument('--child', nargs=2, metavar=('DATA_ROOT', 'OUTPUT'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print('SPLIT_SIZES ' + json.dumps(run_example_gen(*args.child)), flush=True)
        return
    rows = []
    for videos in (int(size) for size in args.sizes.split(',')):
        row = measure(videos, args.output_root)
        if rows:
            row['seconds_ratio'] = round(row['seconds'] / rows[-1]['seconds'], 2)
            row['memory_ratio'] = round(row['peak_rss_gb'] / rows[-1]['peak_rss_gb'], 2)
        rows.append(row)
        print(f'{videos} videos: {row["seconds"]} s, peak {row["peak_rss_gb"]} GB', flush=True)
    common.report('example_gen_scaling',
                  ['videos', 'data_gb', 'seconds', 'peak_rss_gb', 'seconds_ratio',
                   'memory_ratio'], rows, {'runner': 'DirectRunner (LocalDagRunner\'s)'})


if __name__ == '__main__':
    main()
