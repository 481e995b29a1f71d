"""One worker of the multi-worker test: runs the project's `run_fn` as TFX's Trainer would.

    TF_CONFIG=... python -m tests.multi_worker_child ROOT OUTPUT

ROOT holds the Examples and TransformGraph artifacts of
tests/component_inputs.py; both workers get the same output folders, as
the pods of one Trainer do.
"""

import json
import os
import sys

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def main(root: str, output: str) -> None:
    import logging
    from tfx.components.trainer import fn_args_utils
    from tfx.proto import trainer_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from trainer.run_fn import run_fn

    logging.basicConfig(level=logging.INFO, format='%(message)s', force=True)
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(root, 'examples')
    examples.split_names = '["train", "select", "test"]'
    examples.set_string_custom_property('payload_format', 'FORMAT_TF_SEQUENCE_EXAMPLE')
    graph = standard_artifacts.TransformGraph()
    graph.uri = os.path.join(root, 'transform_graph')
    fn_args = fn_args_utils.get_common_fn_args(
        {'examples': [examples], 'transform_graph': [graph]},
        {'train_args': proto_utils.proto_to_json(trainer_pb2.TrainArgs(num_steps=4)),
         'eval_args': proto_utils.proto_to_json(trainer_pb2.EvalArgs(splits=['select'])),
         'custom_config': json.dumps({
             'family': 'dbof', 'preset': 'tiny', 'distribution': 'multi_worker',
             'batch_size': 8, 'train_examples': 32, 'eval_every_examples': 16,
             'prior_examples': 16, 'eval_examples': 16, 'patience': 0})})
    fn_args.serving_model_dir = os.path.join(output, 'serving')
    fn_args.model_run_dir = os.path.join(output, 'model_run')
    run_fn(fn_args)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
