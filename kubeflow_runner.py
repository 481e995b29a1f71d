"""Compiles the same pipeline for Kubeflow Pipelines v2 (and optionally submits it).

    python kubeflow_runner.py --output yt8m_pipeline.yaml \
        --pipeline-root gs://BUCKET/yt8m --data-root gs://BUCKET/yt8m/frame \
        --image gcr.io/PROJECT/yt8m-tfx:latest
    python kubeflow_runner.py --output yt8m_pipeline.yaml --submit --host https://KFP_HOST

The YAML is a KFP v2 pipeline spec that `kfp.Client` accepts. Every custom
component and user function is referenced from the installed package, which
the image (Dockerfile) installs at /pipeline; no `module_file` is used, so
compiling uploads no user-code wheels.
Beam runs inside each component's pod by default; pass Dataflow arguments
after `--` for the real 1.5 TB (e.g. --runner=DataflowRunner --project=...).
"""

from __future__ import annotations

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import argparse
import sys
from typing import Sequence

from pipeline import configs
from pipeline.pipeline import create_pipeline

DEFAULT_IMAGE = 'yt8m-tfx:latest'


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv = list(argv)
    beam_args = []
    if '--' in argv:
        split = argv.index('--')
        argv, beam_args = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(description='Compile the pipeline for Kubeflow v2.')
    parser.add_argument('--output', default='yt8m_pipeline.yaml', help='spec file (.yaml)')
    parser.add_argument('--image', default=DEFAULT_IMAGE)
    parser.add_argument('--pipeline-root', default='/tmp/yt8m_kfp_root')
    parser.add_argument('--data-root', default='/data/yt8m/frame',
                        help='folder with train*/validate* files, as seen by the pods')
    parser.add_argument('--serving-model-dir', default=None)
    parser.add_argument('--report-dir', default=None)
    parser.add_argument('--families', default=','.join(configs.DEFAULT_FAMILIES))
    parser.add_argument('--train-examples', type=int, default=configs.DEFAULT_TRAIN_EXAMPLES,
                        help='training budget in examples (epochs x train videos)')
    parser.add_argument('--batch-size', type=int, default=configs.BATCH_SIZE)
    parser.add_argument('--no-validate-files', action='store_true',
                        help='data root has train files only: split by hash of id')
    parser.add_argument('--distill', default=','.join(configs.DISTILL_FAMILIES),
                        help="student family per distillation level; 'none' to skip")
    parser.add_argument('--distribution', default='', help="'', mirrored or multi_worker")
    parser.add_argument('--submit', action='store_true', help='submit with kfp.Client')
    parser.add_argument('--host', help='KFP API host for --submit')
    args = parser.parse_args(argv)
    args.beam_args = beam_args
    return args


def compile_pipeline(args: argparse.Namespace) -> str:
    from tfx import v1 as tfx
    root = args.pipeline_root.rstrip('/')
    pipeline = create_pipeline(
        pipeline_root=root, data_root=args.data_root,
        serving_model_dir=args.serving_model_dir or f'{root}/serving_model',
        report_dir=args.report_dir or f'{root}/report',
        families=[f for f in args.families.split(',') if f],
        has_validate_files=not args.no_validate_files,
        train_examples=args.train_examples, batch_size=args.batch_size,
        training_options={'distribution': args.distribution} if args.distribution else None,
        distill_families=[] if args.distill == 'none' else args.distill.split(','),
        schema_file=os.path.join(configs.CONTAINER_PROJECT_DIR, 'yt8m', 'schema.pbtxt'),
        beam_pipeline_args=args.beam_args)
    output = os.path.abspath(args.output)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=args.image),
        output_dir=os.path.dirname(output), output_filename=os.path.basename(output))
    runner.run(pipeline)
    return output


def submit(spec_file: str, host: str) -> None:
    import kfp
    client = kfp.Client(host=host)
    run = client.create_run_from_pipeline_package(spec_file, arguments={})
    print(f'Submitted run {run.run_id}')


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.submit and not args.host:
        raise SystemExit('--submit needs --host')
    spec_file = compile_pipeline(args)
    print(f'Kubeflow v2 pipeline spec: {spec_file}')
    if args.submit:
        submit(spec_file, args.host)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
