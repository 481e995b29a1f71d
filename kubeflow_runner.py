"""Compiles the same pipeline for Kubeflow Pipelines v2 (and optionally submits it).

    python kubeflow_runner.py --output yt8m_pipeline.yaml \
        --pipeline-root gs://BUCKET/yt8m --data-root gs://BUCKET/yt8m/frame \
        --image gcr.io/PROJECT/yt8m-tfx:TAG [--preset seed ...] [--submit --host URL]
    python kubeflow_runner.py --submit-spec yt8m_pipeline.yaml --host https://KFP_HOST

The run options (`--families`, `--preset`, budget, quantization, ensemble,
blessing, `--bad-records`, `--distribution`) are local_runner.py's, with the
same meaning (pipeline/options.py). The spec carries its pipeline root
(`defaultPipelineRoot`); `--submit-spec` sends an existing spec unchanged with
that root.

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
import time
from typing import Any, Dict, Optional, Sequence

import yaml

from pipeline import configs, resources
from pipeline.options import RunOptions, split_beam_args
from pipeline.pipeline import create_pipeline

DEFAULT_IMAGE = 'yt8m-tfx:latest'


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv, beam_args = split_beam_args(argv)
    parser = argparse.ArgumentParser(description='Compile the pipeline for Kubeflow v2.')
    parser.add_argument('--output', default='yt8m_pipeline.yaml', help='spec file (.yaml)')
    parser.add_argument('--image', default=DEFAULT_IMAGE)
    parser.add_argument('--pipeline-root', default='/tmp/yt8m_kfp_root')
    parser.add_argument('--data-root', default='/data/yt8m/frame',
                        help='folder of train*/validate* .tfrecord files (e.g. gs://...)')
    parser.add_argument('--serving-model-dir', default=None)
    parser.add_argument('--report-dir', default=None)
    parser.add_argument('--project-dir', default=configs.CONTAINER_PROJECT_DIR,
                        help='where the image holds the project (the Dockerfile: /pipeline); '
                             'the schema file is read from there')
    parser.add_argument('--resources', metavar='JSON',
                        help='CPU/memory/GPU per node id or kind, e.g. {"Trainer": {"cpu": 8, '
                             '"memory_gb": 32, "gpu_type": "nvidia-tesla-t4", "gpu_count": 1}} '
                             '(merged over pipeline/resources.py defaults)')
    parser.add_argument('--no-validate-files', action='store_true',
                        help='the data root has train files only (eval split by id hash)')
    parser.add_argument('--submit', action='store_true',
                        help='compile with these flags, then submit the result with kfp.Client')
    parser.add_argument('--submit-spec', metavar='YAML',
                        help='submit an already compiled spec unchanged (no recompiling)')
    parser.add_argument('--host', help='KFP API host for --submit')
    RunOptions.add_arguments(parser)
    args = parser.parse_args(argv)
    args.beam_args = beam_args
    args.options = RunOptions.from_args(args)
    return args


def compile_pipeline(args: argparse.Namespace) -> str:
    from tfx import v1 as tfx
    root = args.pipeline_root.rstrip('/')
    options = args.options
    # Without --train-examples or --epochs, the budget is create_pipeline's
    # default; --epochs counts the train records (slow for the full release).
    train_examples = options.resolve_train_examples(
        args.data_root, not args.no_validate_files,
        default_examples=configs.DEFAULT_TRAIN_EXAMPLES)
    pipeline = create_pipeline(
        pipeline_root=root, data_root=args.data_root,
        serving_model_dir=args.serving_model_dir or f'{root}/serving_model',
        report_dir=args.report_dir or f'{root}/report',
        has_validate_files=not args.no_validate_files,
        **options.pipeline_kwargs(train_examples),
        schema_file=os.path.join(args.project_dir, 'yt8m', 'schema.pbtxt'),
        beam_pipeline_args=args.beam_args)
    resources.apply(pipeline.components, resources.load_table(args.resources))
    output = os.path.abspath(args.output)
    # Schema 2.1: parameters as `runtimeValue.constant` with `parameterType`,
    # the only form the KFP 2 backend's driver resolves (the legacy
    # `constantValue` of schema 2.0 fails there with "param runtime value spec
    # ... not implemented"); the executors then read `parameterValues`.
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=args.image, use_pipeline_spec_2_1=True),
        output_dir=os.path.dirname(output), output_filename=os.path.basename(output))
    runner.run(pipeline)
    set_default_pipeline_root(output, root)
    return output


def set_default_pipeline_root(spec_file: str, pipeline_root: str) -> None:
    """Writes the pipeline root into the spec (`defaultPipelineRoot`).

    Without it a stock KFP cluster falls back to its own default (minio://),
    which tf.io.gfile in the components cannot open.
    """
    with open(spec_file) as f:
        spec = yaml.safe_load(f)
    spec['defaultPipelineRoot'] = pipeline_root
    with open(spec_file, 'w') as f:
        yaml.safe_dump(spec, f, sort_keys=False)


def submit(spec_file: str, host: str, arguments: Optional[Dict[str, Any]] = None) -> str:
    """Submits a compiled spec unchanged, with its own pipeline root; returns the run id."""
    import kfp
    with open(spec_file) as f:
        spec = yaml.safe_load(f)
    pipeline_root = spec.get('defaultPipelineRoot')
    if not pipeline_root:
        raise ValueError(f'{spec_file}: no defaultPipelineRoot; recompile it with '
                         'kubeflow_runner.py --pipeline-root gs://...')
    client = kfp.Client(host=host)
    run = client.create_run_from_pipeline_package(
        spec_file, arguments=arguments or {}, pipeline_root=pipeline_root,
        run_name=f"{spec['pipelineInfo']['name']}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f'Submitted run {run.run_id} (pipeline root {pipeline_root})')
    return run.run_id


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if (args.submit or args.submit_spec) and not args.host:
        raise SystemExit('--submit and --submit-spec need --host')
    if args.submit_spec:
        # An existing spec is submitted as it is: nothing is recompiled.
        submit(args.submit_spec, args.host)
        return 0
    spec_file = compile_pipeline(args)
    print(f'Kubeflow v2 pipeline spec: {spec_file}')
    if args.submit:
        submit(spec_file, args.host)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
