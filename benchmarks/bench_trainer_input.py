"""Does the Trainer's input pipeline keep up with the model? (issue 25; 2 cores)

    python benchmarks/bench_trainer_input.py [--videos 1000] [--steps 120]
        [--families dbof,netvlad] [--batch-size 32] [--repeats 1]

For each family (small preset), the same `trainer.training.train_model`
trains the same model for `--steps` steps at the same batch size, twice:

- `memory`: from in-memory arrays of the transformed train split (the
  transform graph's own output, computed once), frames drawn by the model's
  own `FrameSampler`: the model's own speed;
- `trainer`: through the Trainer's input pipeline (`trainer.input_pipeline`:
  the GZIP Examples read, cached and parsed, the model's frames drawn from
  the raw bytes, the transform graph on those), as the pipeline's Trainer
  runs it.

Both time the training loop only (an evaluation on one batch of select
videos at the end of each of four intervals) and print videos/s and the
ratio trainer/memory, which the issue aims at >= 0.8: overall, and steady
(after the first interval, which holds tracing and the first epoch that
fills the input cache). Both sides move from run to run on a shared
2-core machine (the in-memory side alone by a third between runs), so
`--repeats N` trains each side N times, alternating which goes first, and
reports each ratio's median with every repeat's. The data: generated records as an Examples artifact and a
real Transform run over them (tests/component_inputs.py), 100 classes.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import bench_learning  # noqa: E402
from benchmarks.common import report  # noqa: E402
from models import presets  # noqa: E402
from trainer import input_pipeline, training  # noqa: E402
from trainer.config import TrainingConfig  # noqa: E402
from yt8m import features  # noqa: E402


def in_memory(files, transform_output, batch_size):
    """The transformed train split as numpy arrays (eval mode: covered, not resampled)."""
    frames, lengths, labels = [], [], []
    for inputs, y in input_pipeline.make_dataset(files, transform_output,
                                                 batch_size, training=False):
        frames.append(inputs[features.FRAMES].numpy())
        lengths.append(inputs[features.NUM_FRAMES].numpy())
        labels.append(y.numpy())
    return np.concatenate(frames), np.concatenate(lengths), np.concatenate(labels)


def videos_per_second(config, train_ds, eval_ds, frames_drawn_in_input=False):
    """(overall, steady) videos/s of one `train_model`.

    Overall: the whole call, start-up included (tracing, the label prior's
    read, the first epoch filling the cache). Steady: between the end of the
    first evaluation interval and the last, from the GapMonitor's own curve
    (`seconds` at each interval's end), so the one-time costs drop out.
    """
    started = time.perf_counter()
    _, _, summary = training.train_model(config, train_ds, eval_ds,
                                         frames_drawn_in_input=frames_drawn_in_input)
    overall = config.budget_steps * config.batch_size / (time.perf_counter() - started)
    first, last = summary['curve'][0], summary['curve'][-1]
    steady = (last['step'] - first['step']) * config.batch_size / (last['seconds']
                                                                    - first['seconds'])
    return overall, steady


def family_row(family: str, args, pairs) -> dict:
    """One family's row: medians over the repeats of each rate and ratio, and every ratio."""
    def median(values):
        return float(np.median(values))
    ratios = [trainer[0] / memory[0] for memory, trainer in pairs]
    steady = [trainer[1] / memory[1] for memory, trainer in pairs]
    return {'family': family, 'preset': 'small', 'batch_size': args.batch_size,
            'steps': args.steps, 'repeats': len(pairs),
            'memory_videos_per_s': median([m[0] for m, _ in pairs]),
            'trainer_videos_per_s': median([t[0] for _, t in pairs]),
            'ratio': median(ratios),
            'steady_memory_videos_per_s': median([m[1] for m, _ in pairs]),
            'steady_trainer_videos_per_s': median([t[1] for _, t in pairs]),
            'steady_ratio': median(steady),
            'ratios': [round(r, 3) for r in ratios],
            'steady_ratios': [round(r, 3) for r in steady]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--videos', type=int, default=1000)
    parser.add_argument('--steps', type=int, default=120)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--families', default='dbof,netvlad')
    parser.add_argument('--results-name', default='trainer_input')
    parser.add_argument('--repeats', type=int, default=1,
                        help='pairs of runs per family (alternating which side goes first); '
                             'the ratios reported are their medians')
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f'--repeats {args.repeats}: at least one pair of runs')
    if args.steps < 8:   # four evaluation intervals of at least two steps each
        parser.error(f'--steps {args.steps}: the steady rate needs at least 8 steps '
                     '(four evaluation intervals, the first left out)')
    import tensorflow_transform as tft

    from tests import component_inputs

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        examples = component_inputs.make_examples(tmp, args.videos, top_classes=100)
        graph = component_inputs.make_transform_graph(tmp, examples)
        transform_output = tft.TFTransformOutput(graph.uri)
        train_files = glob.glob(os.path.join(examples.uri, 'Split-train', '*'))
        select_files = glob.glob(os.path.join(examples.uri, 'Split-select', '*'))
        arrays = in_memory(train_files, transform_output, args.batch_size)
        for family in args.families.split(','):
            resample = not presets.frames_drawn(family, 'small')
            config = TrainingConfig(
                family=family, preset='small', batch_size=args.batch_size, patience=0,
                eval_examples=args.batch_size,
                train_examples=args.steps * args.batch_size,
                # Four intervals: the first holds the one-time costs.
                eval_every_examples=args.steps * args.batch_size // 4)

            def eval_ds():
                return input_pipeline.make_dataset(select_files, transform_output,
                                                   args.batch_size, training=False)

            def memory_run():
                return videos_per_second(
                    config, bench_learning.train_dataset(arrays, args.batch_size, resample),
                    eval_ds())

            def trainer_run():
                return videos_per_second(
                    config, input_pipeline.make_dataset(
                        train_files, transform_output, args.batch_size, training=True,
                        draw_frames=training.frames_to_draw(config),
                        cache_bytes=config.input_cache_bytes), eval_ds(),
                    frames_drawn_in_input=True)
            pairs = []
            for repeat in range(args.repeats):
                if repeat % 2 == 0:
                    memory = memory_run()
                    pipeline = trainer_run()
                else:
                    pipeline = trainer_run()
                    memory = memory_run()
                pairs.append((memory, pipeline))
            rows.append(family_row(family, args, pairs))
            print(rows[-1], flush=True)
    report(args.results_name,
           ['family', 'batch_size', 'steps', 'memory_videos_per_s', 'trainer_videos_per_s',
            'ratio', 'ratios', 'steady_memory_videos_per_s', 'steady_trainer_videos_per_s',
            'steady_ratio', 'steady_ratios'], rows,
           {'train_videos': int(len(arrays[2])), 'aim_ratio': 0.8,
            'steady': 'videos/s after the first of four evaluation intervals',
            'medians': 'rates and ratios are medians over the repeats; ratios and '
                       'steady_ratios list every repeat',
            'command': ' '.join(['python benchmarks/bench_trainer_input.py', *sys.argv[1:]])})


if __name__ == '__main__':
    main()
