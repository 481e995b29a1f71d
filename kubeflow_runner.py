"""Compiles the pipeline for a Kubeflow backend and, optionally, submits it.

Two targets, one pipeline (the same node ids and options as local_runner.py):

    # open-source Kubeflow Pipelines 2.x (Argo), e.g. on GKE or on-premises
    python kubeflow_runner.py --target kfp --output yt8m_pipeline.yaml \
        --pipeline-root gs://BUCKET/yt8m --data-root gs://BUCKET/yt8m/frame \
        --image gcr.io/PROJECT/yt8m-tfx:TAG [--submit --host https://KFP_HOST]
    # Vertex AI Pipelines
    python kubeflow_runner.py --target vertex --output yt8m_pipeline.yaml \
        --pipeline-root gs://BUCKET/yt8m --data-root gs://BUCKET/yt8m/frame \
        --image REGION-docker.pkg.dev/PROJECT/REPO/yt8m-tfx:TAG \
        [--submit --project PROJECT --region us-central1 --service-account SA]
    # submit an existing spec unchanged
    python kubeflow_runner.py --submit-spec yt8m_pipeline.yaml --target kfp --host URL

The run options (`--families`, `--preset`, budget, quantization, ensemble,
blessing, `--bad-records`, `--distribution`, `--training-option`) are
local_runner.py's, with the same meaning (pipeline/options.py). What differs
per backend (task entrypoint, caching, GPU form, roots) is finished in
pipeline/kfp_spec.py; why, with the KFP source it follows, is in
docs/KUBEFLOW.md.

Every custom component and user function is referenced from the installed
package, which the image (Dockerfile) installs at /pipeline; no `module_file`
is used, so compiling uploads no user-code wheels. Beam runs inside each
component's pod by default; pass Dataflow arguments after `--` for the real
1.5 TB (e.g. --runner=DataflowRunner --project=...).
"""

from __future__ import annotations

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import argparse
import sys
import time
from typing import Dict, Optional, Sequence

from pipeline import configs, filesystems, kfp_spec, resources
from pipeline.options import PipelinePaths, RunOptions, split_beam_args
from pipeline.pipeline import create_pipeline

DEFAULT_IMAGE = 'yt8m-tfx:latest'


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    argv, beam_args = split_beam_args(argv)
    parser = argparse.ArgumentParser(description='Compile the pipeline for Kubeflow v2.')
    parser.add_argument('--target', choices=resources.TARGETS, default='kfp',
                        help='kfp: open-source Kubeflow Pipelines 2.x; vertex: Vertex AI Pipelines')
    parser.add_argument('--output', default='yt8m_pipeline.yaml', help='spec file (.yaml)')
    parser.add_argument('--image', default=DEFAULT_IMAGE)
    parser.add_argument('--pipeline-root', required=False,
                        help='gs://... (both targets) or s3://... (kfp); required to compile')
    parser.add_argument('--data-root', help='folder of train*/validate* .tfrecord files')
    parser.add_argument('--serving-model-dir', default=None)
    parser.add_argument('--report-dir', default=None)
    parser.add_argument('--allow-local-roots', action='store_true',
                        help='accept local paths (to run the spec here with tools/kfp_launcher.py)')
    parser.add_argument('--no-data-fingerprint', action='store_true',
                        help="kfp: do not list the data root at compile time; the ExampleGen "
                             "then never comes from the cache (nor does anything after it)")
    parser.add_argument('--project-dir', default=configs.CONTAINER_PROJECT_DIR,
                        help='where the image holds the project (the Dockerfile: /pipeline); '
                             'the schema file is read from there')
    parser.add_argument('--resources', metavar='JSON',
                        help='CPU/memory/GPU per node id or kind, e.g. {"Trainer": {"cpu": 8, '
                             '"memory_gb": 32, "gpu_type": "nvidia-tesla-t4", "gpu_count": 1}} '
                             '(merged over pipeline/resources.py defaults)')
    parser.add_argument('--gpu-node-label', default=resources.DEFAULT_GPU_NODE_LABEL,
                        help='kfp: the node label that names a GPU model (GKE: the default)')
    store = parser.add_argument_group(
        'S3-compatible store (kfp)', 'MinIO or another non-AWS s3:// store that every pod must '
        'reach; docs/KUBEFLOW.md gives the kfp-launcher ConfigMap entry KFP needs beside it')
    store.add_argument('--object-store-endpoint', default='', metavar='URL',
                       help='e.g. http://minio-service.kubeflow:9000: set in every container')
    store.add_argument('--object-store-secret', default='', metavar='NAME',
                       help='the Kubernetes Secret holding the access keys, given to every '
                            'task as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')
    store.add_argument('--object-store-secret-keys', metavar='ACCESS,SECRET',
                       default='AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY',
                       help="the Secret's two keys (KFP's mlpipeline-minio-artifact: "
                            'accesskey,secretkey)')
    store.add_argument('--object-store-region', default='us-east-1')
    parser.add_argument('--artifact-volume', default='', metavar='CLAIM:/MOUNT/PATH',
                        help='kfp: a ReadWriteMany PersistentVolumeClaim mounted into every '
                             'task; artifacts are written there instead of the pipeline root, '
                             "so KFP's launcher copies none into any pod (docs/KUBEFLOW.md 4)")
    parser.add_argument('--no-validate-files', action='store_true',
                        help='the data root has train files only (select and test held out by a hash of the video id)')
    submit = parser.add_argument_group('submitting')
    submit.add_argument('--submit', action='store_true',
                        help='compile with these flags, then submit the result')
    submit.add_argument('--submit-spec', metavar='YAML',
                        help='submit an already compiled spec unchanged (no recompiling)')
    submit.add_argument('--host', help='kfp: the KFP API host')
    submit.add_argument('--project', help='vertex: the Google Cloud project')
    submit.add_argument('--region', default='us-central1', help='vertex: the region')
    submit.add_argument('--service-account', help='vertex: the service account the run uses')
    submit.add_argument('--label', action='append', default=[], metavar='KEY=VALUE',
                        help='vertex: a label of the run (repeatable)')
    submit.add_argument('--no-cache', action='store_true',
                        help='run every task again (the spec keeps its per-task cache settings '
                             'otherwise)')
    RunOptions.add_arguments(parser)
    args = parser.parse_args(argv)
    args.beam_args = beam_args
    try:
        args.options = RunOptions.from_args(args)
    except ValueError as err:
        parser.error(str(err))
    args.object_store = None
    if args.object_store_endpoint or args.object_store_secret:
        if args.target != 'kfp':
            parser.error('--object-store-* are for --target kfp')
        keys = args.object_store_secret_keys.split(',')
        if len(keys) != 2 or not all(keys):
            parser.error('--object-store-secret-keys takes two keys: ACCESS,SECRET')
        args.object_store = kfp_spec.ObjectStore(
            endpoint=args.object_store_endpoint, secret=args.object_store_secret,
            access_key_key=keys[0], secret_key_key=keys[1], region=args.object_store_region)
    args.volume = None
    if args.artifact_volume:
        if args.target != 'kfp':
            parser.error('--artifact-volume is for --target kfp (Vertex AI copies no input)')
        try:
            args.volume = kfp_spec.ArtifactVolume.parse(args.artifact_volume)
        except kfp_spec.SpecError as err:
            parser.error(str(err))
    if not args.submit_spec and not (args.pipeline_root and args.data_root):
        parser.error('compiling needs --pipeline-root and --data-root')
    if args.submit or args.submit_spec:
        if args.target == 'kfp' and not args.host:
            parser.error('--target kfp: submitting needs --host')
        if args.target == 'vertex' and not args.project:
            parser.error('--target vertex: submitting needs --project')
    return args


def compile_pipeline(args: argparse.Namespace) -> str:
    from tfx import v1 as tfx
    root = args.pipeline_root.rstrip('/')
    paths = PipelinePaths(
        pipeline_root=root, data_root=args.data_root,
        serving_model_dir=args.serving_model_dir or f'{root}/serving_model',
        report_dir=args.report_dir or f'{root}/report',
        has_validate_files=not args.no_validate_files,
        schema_file=os.path.join(args.project_dir, 'yt8m', 'schema.pbtxt'))
    if not args.allow_local_roots:
        kfp_spec.check_roots(args.target, {
            'pipeline_root': paths.pipeline_root, 'data_root': paths.data_root,
            'serving_model_dir': paths.serving_model_dir, 'report_dir': paths.report_dir})
    # Open-source KFP runs no driver hook, so its cache key sees the input
    # files only through a parameter: their fingerprint, taken now. Vertex AI
    # runs the ExampleGen's hook, which fingerprints them at run time.
    if args.target == 'kfp' and not args.no_data_fingerprint:
        paths = _with_data_fingerprint(paths)
    # Without --train-examples or --epochs, the budget is the default one;
    # --epochs becomes examples in each Trainer, from the ExampleGen's counts.
    options = args.options.with_budget()
    pipeline = create_pipeline(paths, options, beam_pipeline_args=args.beam_args)
    table = resources.load_table(args.resources)
    resources.apply(pipeline.components, table, args.target)
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
    kfp_spec.finish_spec(
        output, args.target, root,
        # Vertex AI's hook fingerprints the files at run time; on KFP only the
        # compiled fingerprint can keep stale Examples out of the cache.
        example_gen_cacheable=args.target == 'vertex' or paths.data_fingerprint is not None,
        gpu_node_selectors=resources.gpu_node_selectors(
            [node.id for node in pipeline.components], table, args.gpu_node_label),
        store=args.object_store, volume=args.volume)
    return output


def _with_data_fingerprint(paths: PipelinePaths) -> PipelinePaths:
    import dataclasses
    from components.yt8m_example_gen.executor import compute_data_fingerprint
    from pipeline.pipeline import example_gen_input_config
    input_config = example_gen_input_config(paths.has_validate_files)
    try:
        fingerprint = compute_data_fingerprint(paths.data_root, input_config)
    except Exception as err:   # any filesystem's error: no credentials, no such bucket, ...
        raise SystemExit(f'{paths.data_root}: cannot list the input files to fingerprint them '
                         f'({type(err).__name__}: {err}); give credentials that can, or '
                         '--no-data-fingerprint (the ExampleGen is then never cached)') from None
    return dataclasses.replace(paths, data_fingerprint=fingerprint)


def _labels(pairs: Sequence[str]) -> Dict[str, str]:
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep:
            raise SystemExit(f'--label {pair!r}: expected KEY=VALUE')
        labels[key] = value
    return labels


def _run_name(spec: dict) -> str:
    return f"{spec['pipelineInfo']['name']}-{time.strftime('%Y%m%d-%H%M%S')}"


def submit_kfp(spec_file: str, host: str, enable_caching: Optional[bool] = None) -> str:
    """Submits a compiled spec unchanged to open-source KFP, with its own pipeline root."""
    import kfp
    spec = kfp_spec.load(spec_file)[0]
    pipeline_root = spec.get('defaultPipelineRoot')
    if not pipeline_root:
        raise SystemExit(f'{spec_file}: no defaultPipelineRoot; recompile it with '
                         'kubeflow_runner.py --pipeline-root gs://...')
    client = kfp.Client(host=host)
    run = client.create_run_from_pipeline_package(
        spec_file, arguments={}, pipeline_root=pipeline_root, run_name=_run_name(spec),
        enable_caching=enable_caching)
    print(f'Submitted run {run.run_id} (pipeline root {pipeline_root})')
    return run.run_id


def submit_vertex(spec_file: str, project: str, region: str,
                  service_account: Optional[str] = None, labels: Optional[Dict[str, str]] = None,
                  enable_caching: Optional[bool] = None, credentials=None,
                  api_endpoint: Optional[str] = None) -> str:
    """Submits a compiled spec unchanged to Vertex AI Pipelines (aiplatform.PipelineJob).

    `enable_caching` None keeps each task's own setting from the spec
    (PipelineJob would otherwise overwrite every task's, BaselineLookup's too).
    """
    from google.cloud import aiplatform
    spec = kfp_spec.load(spec_file)[0]
    pipeline_root = spec.get('defaultPipelineRoot')
    if not pipeline_root or not pipeline_root.startswith('gs://'):
        raise SystemExit(f'{spec_file}: Vertex AI needs a gs:// defaultPipelineRoot, found '
                         f'{pipeline_root!r}; recompile with --target vertex')
    aiplatform.init(project=project, location=region, credentials=credentials,
                    api_endpoint=api_endpoint, api_transport='rest' if api_endpoint else None)
    job = aiplatform.PipelineJob(
        display_name=spec['pipelineInfo']['name'], template_path=spec_file,
        job_id=_run_name(spec), pipeline_root=pipeline_root, enable_caching=enable_caching,
        labels=labels or None)
    job.submit(service_account=service_account)
    print(f'Submitted Vertex AI pipeline job {job.resource_name} (pipeline root {pipeline_root})')
    return job.resource_name


def check_data_unchanged(spec: dict) -> None:
    """Refuses a spec whose input files changed since it was compiled (kfp target).

    Its ExampleGen would otherwise be served from the cache with the old
    Examples: the compiled fingerprint is the only thing KFP's cache key sees.
    """
    import json
    from components.yt8m_example_gen.executor import compute_data_fingerprint
    from tfx.proto import example_gen_pb2
    from tfx.utils import proto_utils
    task = spec['root']['dag']['tasks'].get(kfp_spec.EXAMPLE_GEN_TASK, {})
    params = {name: value['runtimeValue']['constant']
              for name, value in task.get('inputs', {}).get('parameters', {}).items()}
    compiled = params.get('data_fingerprint')
    if not compiled:
        return
    input_config = proto_utils.json_to_proto(params['input_config'], example_gen_pb2.Input())
    now = compute_data_fingerprint(params['input_base'], input_config)
    if now != compiled:
        raise SystemExit(
            f'{params["input_base"]}: the input files changed since this spec was compiled '
            f'(fingerprint {compiled}, now {now}); recompile it, or the cached Examples of the '
            f'old files would be reused ({json.dumps(task.get("cachingOptions", {}))})')


def submit(args: argparse.Namespace, spec_file: str) -> str:
    caching = False if args.no_cache else None
    suits = kfp_spec.targets_it_suits(kfp_spec.load(spec_file))
    if args.target not in suits:
        raise SystemExit(f'{spec_file}: compiled for --target {suits[0]} (GPU resources or a '
                         f'Kubernetes platform document), not {args.target}; recompile it with '
                         f'--target {args.target}')
    if args.target == 'kfp' and caching is None:
        check_data_unchanged(kfp_spec.load(spec_file)[0])
    if args.target == 'vertex':
        return submit_vertex(spec_file, args.project, args.region, args.service_account,
                             _labels(args.label), caching)
    return submit_kfp(spec_file, args.host, caching)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if args.submit_spec:
        # An existing spec is submitted as it is: nothing is recompiled.
        submit(args, args.submit_spec)
        return 0
    # The data root is listed here (its fingerprint goes into the spec).
    filesystems.register_for([args.data_root, args.pipeline_root])
    try:
        spec_file = compile_pipeline(args)
    except kfp_spec.SpecError as err:
        raise SystemExit(f'kubeflow_runner: {err}') from None
    print(f'Kubeflow v2 pipeline spec ({args.target}): {spec_file}')
    if args.submit:
        submit(args, spec_file)
    return 0


if __name__ == '__main__':
    # With an s3:// root, tensorflow-io's client would abort the exit (filesystems).
    sys.exit(filesystems.exit_code(main(sys.argv[1:])))
