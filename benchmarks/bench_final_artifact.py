"""The final artifact at a given preset: member sizes, the subset under 1 GB, its cost.

    python benchmarks/bench_final_artifact.py [--preset seed]
        [--families dbof,lstm,gru,netvlad,netfv,nextvlad] [--videos 128]
        [--batch-size 32] [--budget-bytes 1000000000] [--mode uniform]

For every family it builds the model at `--preset` (untrained weights: sizes
and speeds do not depend on them), exports it with the pipeline's serving
contract, quantizes it with the Quantizer's own code and measures both
SavedModels. Then it runs the EnsembleBuilder executor over the quantized
members with `choose_subset` and the 1 GB budget, as `--choose-subset` does
in the pipeline (no eval split is given, so the builder keeps the smallest
members first, i.e. the most members that fit), and compares the size
estimate made before the build (the members' sum) with the bytes written.
Last, in a fresh process per model, it measures load time, inference
videos/s on this machine's cores and the process's peak memory for each
chosen member and for the ensemble; the ensemble's rate is set against the
rate its members' own costs imply, 1 / sum(1 / rate_i).

Every step runs in its own process, so each peak-memory figure is that
step's own (Python and TensorFlow included, about 0.6 GB).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import print_table, report  # noqa: E402

SEED_FAMILIES = 'dbof,lstm,gru,netvlad,netfv,nextvlad'


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def export_member(family: str, preset: str, root: str, mode: str) -> dict:
    """Float32 export and quantized copy of one untrained member."""
    from components.quantizer.executor import quantize_saved_model
    from components import io_utils
    from models.registry import build_model
    from trainer.export import export_serving_model
    from trainer.preprocessing import transform_videos

    float_dir = os.path.join(root, family, 'Format-Serving')
    quantized_dir = os.path.join(root, f'{family}_quantized', 'Format-Serving')
    started = time.perf_counter()
    model = build_model(family, preset)
    params = model.count_params()
    export_serving_model(model, transform_videos, float_dir)
    export_seconds = time.perf_counter() - started
    del model
    started = time.perf_counter()
    quantized = quantize_saved_model(float_dir, quantized_dir, family, preset, mode=mode)
    return {'family': family, 'params': params,
            'float32_bytes': io_utils.tree_bytes(float_dir),
            'quantized_bytes': io_utils.tree_bytes(quantized_dir),
            'quantized_vars': f"{quantized['num_quantized']}/{quantized['num_variables']}",
            'export_s': round(export_seconds, 1),
            'quantize_s': round(time.perf_counter() - started, 1),
            'peak_rss_bytes': _peak_rss_bytes(),
            'quantized_dir': quantized_dir}


def build_ensemble(names, model_dirs, root: str, budget: int) -> dict:
    """The EnsembleBuilder executor over the members, choose_subset on."""
    from tfx.types import standard_artifacts
    from components import artifact_files
    from components.ensemble import executor

    members = []
    for directory in model_dirs:
        artifact = standard_artifacts.Model()
        artifact.uri = os.path.dirname(directory)
        members.append(artifact)
    output = standard_artifacts.Model()
    output.uri = os.path.join(root, 'ensemble')
    os.makedirs(output.uri)
    started = time.perf_counter()
    executor.Executor().Do(
        {executor.model_key(i): [m] for i, m in enumerate(members)},
        {executor.OUTPUT_KEY: [output]},
        {'member_names': json.dumps(list(names)), 'weighting': 'equal',
         'size_budget_bytes': budget, 'choose_subset': 1})
    with open(os.path.join(output.uri, artifact_files.ENSEMBLE_REPORT)) as f:
        built = json.load(f)
    built.update(build_s=round(time.perf_counter() - started, 1),
                 peak_rss_bytes=_peak_rss_bytes(),
                 model_dir=os.path.join(output.uri, 'Format-Serving'))
    return built


def measure(name: str, model_dir: str, records_path: str, batch_size: int) -> dict:
    """Load time, videos/s after one warm-up batch, and this process's peak memory."""
    import tensorflow as tf
    from components import io_utils

    records = [r.numpy() for r in tf.data.TFRecordDataset(records_path)]
    started = time.perf_counter()
    serve = tf.saved_model.load(model_dir).signatures['serving_default']
    load_seconds = time.perf_counter() - started
    batches = [tf.constant(records[i:i + batch_size])
               for i in range(0, len(records), batch_size)]
    serve(examples=batches[0])
    started = time.perf_counter()
    for batch in batches:
        serve(examples=batch)['probabilities'].numpy()
    seconds = time.perf_counter() - started
    return {'model': name, 'bytes': io_utils.tree_bytes(model_dir),
            'load_s': round(load_seconds, 2), 'videos_per_s': len(records) / seconds,
            'peak_rss_bytes': _peak_rss_bytes()}


def in_child(function, *args):
    """Runs `function(*args)` in a fresh process (its own peak memory)."""
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        return pool.apply(function, args)


def write_records(path: str, count: int) -> None:
    import tensorflow as tf
    from yt8m import synthetic

    data = os.path.join(os.path.dirname(path), 'generated')
    synthetic.generate(data, count, seed=0, validate_fraction=0, test_fraction=0)
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(glob.glob(os.path.join(data, 'train*.tfrecord'))))][:count]
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', default='seed')
    parser.add_argument('--families', default=SEED_FAMILIES)
    parser.add_argument('--videos', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--budget-bytes', type=int, default=1_000_000_000)
    parser.add_argument('--mode', default='uniform')
    parser.add_argument('--name', default=None, help='results file name')
    parser.add_argument('--work-dir', default=None,
                        help='keep the models here (default: a temporary folder)')
    args = parser.parse_args()
    families = args.families.split(',')

    with (contextlib.nullcontext(args.work_dir) if args.work_dir
          else tempfile.TemporaryDirectory()) as root:
        os.makedirs(root, exist_ok=True)
        records_path = os.path.join(root, 'videos.tfrecord')
        in_child(write_records, records_path, args.videos)
        members = []
        for family in families:
            row = in_child(export_member, family, args.preset, root, args.mode)
            print(f'{family}: {row["params"]:,} parameters, float32 '
                  f'{row["float32_bytes"] / 1e6:.1f} MB -> quantized '
                  f'{row["quantized_bytes"] / 1e6:.1f} MB', flush=True)
            members.append(row)
        quantized = {m['family']: m['quantized_bytes'] for m in members}
        from components.ensemble.weight_search import greedy_smallest_first
        float_subset = greedy_smallest_first(
            families, {m['family']: m['float32_bytes'] for m in members}, args.budget_bytes)
        built = in_child(build_ensemble, families, [m['quantized_dir'] for m in members],
                         root, args.budget_bytes)
        print(f'ensemble of {built["chosen_subset"]}: {built["ensemble_bytes"] / 1e6:.1f} MB '
              f'(estimate {built["chosen_members_bytes"] / 1e6:.1f} MB)', flush=True)
        speed_rows = []
        for member in members:
            if member['family'] in built['chosen_subset']:
                speed_rows.append(in_child(measure, f'{member["family"]} (quantized)',
                                           member['quantized_dir'], records_path,
                                           args.batch_size))
        ensemble_row = in_child(measure, 'ensemble', built['model_dir'], records_path,
                                args.batch_size)
    implied = 1.0 / sum(1.0 / row['videos_per_s'] for row in speed_rows)
    ensemble_row['implied_videos_per_s'] = implied
    ensemble_row['of_implied'] = ensemble_row['videos_per_s'] / implied
    for row in members:
        row.pop('quantized_dir')
        row['in_ensemble'] = row['family'] in built['chosen_subset']
    print(f'\nMembers at preset {args.preset!r} ({args.mode} quantization):')
    member_columns = ['family', 'params', 'float32_bytes', 'quantized_bytes',
                      'quantized_vars', 'in_ensemble', 'export_s', 'quantize_s',
                      'peak_rss_bytes']
    print_table(member_columns, members)
    print('\nServing cost (fresh process each; batch '
          f'{args.batch_size}, {args.videos} videos):')
    report(args.name or f'final_artifact_{args.preset}',
           ['model', 'bytes', 'load_s', 'videos_per_s', 'implied_videos_per_s',
            'of_implied', 'peak_rss_bytes'], speed_rows + [ensemble_row],
           extra={'preset': args.preset, 'mode': args.mode, 'videos': args.videos,
                  'batch_size': args.batch_size, 'budget_bytes': args.budget_bytes,
                  'members': members,
                  'float32_subset_under_budget': list(float_subset),
                  'float32_total_bytes': sum(m['float32_bytes'] for m in members),
                  'quantized_total_bytes': sum(quantized.values()),
                  'ensemble': {k: built[k] for k in (
                      'chosen_subset', 'dropped', 'choice_reason', 'chosen_members_bytes',
                      'ensemble_bytes', 'size_budget_bytes', 'build_s', 'peak_rss_bytes')},
                  'estimate_error': (built['ensemble_bytes'] - built['chosen_members_bytes'])
                  / built['chosen_members_bytes']})


if __name__ == '__main__':
    main()
