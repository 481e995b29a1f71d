"""Distiller costs on generated data: teacher inference, store size, extra time, GAP.

    python -m benchmarks.bench_distiller [--videos 300] [--steps 60] [--family dbof]

1. Builds an Examples artifact + transform graph (tests/component_inputs.py).
2. Trains a teacher (--teacher-family/--preset) with the Trainer's code.
3. Scores the train split once with the teacher's serving_default: seconds
   per video (what on-the-fly teaching would pay per video per epoch) and
   bytes per video of the sparse top-K store vs a dense float32 copy of the
   predictions (3862 x 4 B) and vs the raw record.
4. Trains a plain and a distilled student for the same steps; reports the
   training time of each and eval GAP@20.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('TF_CPU_ALLOCATOR_USE_BFC', 'true')

import tempfile
import time

import tensorflow as tf
import tensorflow_transform as tft

from benchmarks.common import report
from components.teacher_scorer import executor as executor_lib
from components.distiller import teacher_scores as scores_lib
from tests import component_inputs as testdata
from trainer import input_pipeline
from trainer.config import TrainingConfig
from trainer.training import build_export_model, train_model
from yt8m import eval_util, features, reader


def _split(examples, split):
    from tfx.types import artifact_utils
    return [os.path.join(artifact_utils.get_split_uri([examples], split), '*')]


def _eval_gap(model, layer, records) -> float:
    transformed = layer(reader.parse_serialized(tf.constant(records)))
    predictions = model(input_pipeline.model_inputs(transformed), training=False).numpy()
    return float(eval_util.gap_at_k(predictions, transformed[features.LABELS_MULTI_HOT].numpy()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--videos', type=int, default=300)
    parser.add_argument('--steps', type=int, default=60)
    parser.add_argument('--teacher-steps', type=int, default=120)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--teacher-family', default='dbof')
    parser.add_argument('--family', default='dbof')
    parser.add_argument('--preset', default='tiny')
    parser.add_argument('--top-k', type=int, default=20)
    parser.add_argument('--lam', type=float, default=0.5)
    parser.add_argument('--root', default=None)
    args = parser.parse_args()

    root = args.root or tempfile.mkdtemp(prefix='bench_distiller_')
    t0 = time.perf_counter()
    examples = testdata.make_examples(root, args.videos, seed=0, top_classes=50)
    graph = testdata.make_transform_graph(root, examples)
    print(f'data + transform graph: {time.perf_counter() - t0:.1f} s')
    output = tft.TFTransformOutput(graph.uri)
    layer = output.transform_features_layer()
    eval_files = executor_lib.split_files(examples, 'select')
    eval_records = [r.numpy() for r in tf.data.TFRecordDataset(eval_files,
                                                               compression_type='GZIP')]

    def datasets(config, lookup=None):
        eval_ds = input_pipeline.make_dataset(_split(examples, 'select'), output,
                                              config.batch_size, training=False)
        if lookup is None:
            train_ds = input_pipeline.make_dataset(_split(examples, 'train'), output,
                                                   config.batch_size, training=True)
        else:
            train_ds = scores_lib.make_distill_dataset(_split(examples, 'train'),
                                                       output, lookup, args.lam,
                                                       config.batch_size)
        return train_ds, eval_ds

    rows = []
    teacher_config = TrainingConfig(family=args.teacher_family, preset=args.preset,
                                    batch_size=args.batch_size,
                                    train_examples=args.teacher_steps * args.batch_size)
    tf.random.set_seed(0)
    teacher_model, weights, summary = train_model(teacher_config, *datasets(teacher_config))
    teacher_gap = _eval_gap(teacher_model, layer, eval_records)
    teacher = testdata.export_teacher(root, graph,
                                      model=build_export_model(teacher_config, weights))
    rows.append({'model': f'teacher {args.teacher_family}/{args.preset}',
                 'steps': args.teacher_steps, 'train_s': summary['training_seconds'],
                 'eval_gap': teacher_gap})

    from tfx.utils import path_utils
    scores_dir = os.path.join(root, 'scores')
    costs = executor_lib.score_teacher(path_utils.serving_model_path(teacher.uri),
                                       executor_lib.split_files(examples, 'train'),
                                       args.top_k, scores_dir)
    num_train = costs['num_videos']

    results = {}
    for name, lam_lookup in (('plain', None),
                             ('distilled', scores_lib.TeacherLookup(scores_lib.load(scores_dir)))):
        config = TrainingConfig(family=args.family, preset=args.preset,
                                batch_size=args.batch_size, seed=1,
                                train_examples=args.steps * args.batch_size)
        tf.random.set_seed(1)
        model, _, summary = train_model(config, *datasets(config, lam_lookup))
        results[name] = summary['training_seconds']
        rows.append({'model': f'{name} {args.family}/{args.preset}', 'steps': args.steps,
                     'train_s': summary['training_seconds'],
                     'eval_gap': _eval_gap(model, layer, eval_records)})

    cost_rows = [
        {'measure': 'teacher inference s/video', 'value': costs['teacher_seconds_per_video']},
        {'measure': 'on-the-fly teacher s/epoch (this train split)',
         'value': costs['teacher_seconds_per_video'] * num_train},
        {'measure': 'teacher scoring once, total s', 'value': costs['teacher_seconds']},
        {'measure': f'sparse top-{args.top_k} store bytes/video',
         'value': costs['store_bytes_per_video']},
        {'measure': 'dense float32 predictions bytes/video',
         'value': float(costs['dense_bytes_per_video'])},
        {'measure': 'raw record bytes/video (uncompressed)',
         'value': costs['raw_record_bytes_per_video']},
        {'measure': 'dense / sparse', 'value': costs['dense_vs_store_ratio']},
        {'measure': 'student training s: distilled - plain',
         'value': results['distilled'] - results['plain']},
        {'measure': 'extra time of distillation s (scoring + training delta)',
         'value': costs['teacher_seconds'] + results['distilled'] - results['plain']},
    ]
    print()
    report('distiller_models', ['model', 'steps', 'train_s', 'eval_gap'], rows,
           extra={'args': vars(args), 'num_train_videos': num_train,
                  'num_eval_videos': len(eval_records)})
    print()
    report('distiller', ['measure', 'value'], cost_rows,
           extra={'args': vars(args), 'costs': costs, 'models': rows,
                  'num_train_videos': num_train, 'num_eval_videos': len(eval_records)})


if __name__ == '__main__':
    main()
