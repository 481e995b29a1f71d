"""Does the Trainer's input pipeline keep up with the model? (issue 25; 2 cores)

    python benchmarks/bench_trainer_input.py [--videos 1000] [--steps 120]
        [--families dbof,netvlad] [--batch-size 32]

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
fills the input cache). The data: generated records as an Examples artifact and a
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--videos', type=int, default=1000)
    parser.add_argument('--steps', type=int, default=120)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--families', default='dbof,netvlad')
    parser.add_argument('--results-name', default='trainer_input')
    args = parser.parse_args()
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
            memory = videos_per_second(
                config, bench_learning.train_dataset(arrays, args.batch_size, resample), eval_ds())
            pipeline = videos_per_second(
                config, input_pipeline.make_dataset(
                    train_files, transform_output, args.batch_size, training=True,
                    draw_frames=training.frames_to_draw(config),
                    cache_bytes=config.input_cache_bytes), eval_ds(), frames_drawn_in_input=True)
            rows.append({'family': family, 'preset': 'small', 'batch_size': args.batch_size,
                         'steps': args.steps, 'memory_videos_per_s': memory[0],
                         'trainer_videos_per_s': pipeline[0], 'ratio': pipeline[0] / memory[0],
                         'steady_memory_videos_per_s': memory[1],
                         'steady_trainer_videos_per_s': pipeline[1],
                         'steady_ratio': pipeline[1] / memory[1]})
            print(rows[-1], flush=True)
    report(args.results_name,
           ['family', 'batch_size', 'steps', 'memory_videos_per_s', 'trainer_videos_per_s',
            'ratio', 'steady_memory_videos_per_s', 'steady_trainer_videos_per_s',
            'steady_ratio'], rows,
           {'train_videos': int(len(arrays[2])), 'aim_ratio': 0.8,
            'steady': 'videos/s after the first of four evaluation intervals',
            'command': ' '.join(['python benchmarks/bench_trainer_input.py', *sys.argv[1:]])})


if __name__ == '__main__':
    main()
