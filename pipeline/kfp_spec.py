"""What TFX's v2 compiler leaves out of a spec that must run on a real backend.

`KubeflowV2DagRunner` writes a pipeline spec that is valid, but that
open-source KFP 2.x cannot run as is (see docs/KUBEFLOW.md, read against
kubeflow/pipelines 2.5.0). `kubeflow_runner.py` compiles, then calls
`finish_spec` here, which:

* names the pipeline root (`defaultPipelineRoot`), refusing local paths for a
  cluster target: no pod can read the compiling machine's /tmp;
* runs every task through the image's `pipeline.kfp_entrypoint`, which
  repairs what the open-source driver hands over (typeless inputs, the extra
  `executor-logs` output) before TFX's own entrypoint;
* turns the cache off for tasks whose result depends on more than their
  inputs: BaselineLookup reads the live serving folder (a cached lookup
  would hide a newer pushed model), and the ExampleGen when the input files
  could not be fingerprinted at compile time;
* adds the Kubernetes platform config for the KFP target: GPU node
  selectors, and an S3-compatible store's credentials from a Kubernetes
  Secret (`secretAsEnv`), built with kfp-kubernetes' own protos; the store's
  endpoint goes into every container's `env`. Stock KFP gives executor pods
  no credentials of their own (only KFP_POD_NAME and KFP_POD_UID,
  `argocompiler/common.go` at 2.5.0), so without these tensorflow-io, boto3
  and the launcher itself would talk to AWS;
* with an artifact volume (a ReadWriteMany PVC: NFS, Filestore, a bucket
  through a CSI driver), mounts it into every task (`pvcMount`) and tells the
  entrypoint to write outputs there: KFP's launcher then copies no artifact
  into any pod (pipeline/kfp_entrypoint.py, docs/KUBEFLOW.md section 4);
* checks the final documents against KFP's protos (`pipeline_spec_pb2`,
  `kubernetes_executor_config_pb2`): an unknown field is refused here, not
  on the cluster.

Task names are the node ids (`Trainer-dbof`), valid Argo names
(pipeline/pipeline.py); this module checks them again on the final spec.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

TFX_ENTRYPOINT_MODULE = 'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor'
PROJECT_ENTRYPOINT_MODULE = 'pipeline.kfp_entrypoint'
# Argo's name rule (argoproj/argo-workflows v3.5, workflow/validate/validate.go,
# validateWorkflowFieldNames): templates and DAG tasks, at most 128 characters.
# KFP uses `depends`, so a name may not start with a digit either.
ARGO_NAME = re.compile(r'^[a-zA-Z][-a-zA-Z0-9]*$')
ARGO_NAME_MAX = 128
# KFP's Argo compiler adds a driver task `<task>-driver` beside every task
# (backend/src/v2/compiler/argocompiler/dag.go, `task`): that name must pass too.
DRIVER_SUFFIX = '-driver'
# Remote filesystems the image can read (tf.io.gfile and Beam).
CLUSTER_SCHEMES = {'kfp': ('gs://', 's3://'), 'vertex': ('gs://',)}
# Node kinds whose task must never come from the cache.
UNCACHEABLE_KINDS = ('BaselineLookup',)
EXAMPLE_GEN_TASK = 'YT8MExampleGen'
STALE_CACHE_WARNING = (
    'Compiled with a fingerprint of the input files: run it through kubeflow_runner.py '
    '--submit-spec, which refuses it once the files changed. Uploaded through the UI or '
    'run on a schedule, KFP may serve the Examples of the old files from its cache: '
    'recompile after new data lands, or run with caching off.')


class SpecError(ValueError):
    """The compiled spec would be refused, or would misbehave, on its target."""


@dataclasses.dataclass(frozen=True)
class ObjectStore:
    """An S3-compatible store (MinIO, Ceph, ...) that every task's pod must reach.

    `endpoint` goes into every container's environment under the names each
    client reads (pipeline/filesystems.py); the access keys come from the
    Kubernetes Secret `secret`, its keys `access_key_key` and
    `secret_key_key` (KFP's own MinIO Secret, mlpipeline-minio-artifact,
    names them accesskey and secretkey).
    """
    endpoint: str = ''
    secret: str = ''
    access_key_key: str = 'AWS_ACCESS_KEY_ID'
    secret_key_key: str = 'AWS_SECRET_ACCESS_KEY'
    region: str = 'us-east-1'

    def container_env(self) -> List[Dict[str, str]]:
        if not self.endpoint:
            return []
        plain = '0' if self.endpoint.startswith('http://') else '1'
        values = {'AWS_ENDPOINT_URL': self.endpoint,            # boto3 (Beam's s3://)
                  'S3_ENDPOINT': self.endpoint, 'S3_USE_HTTPS': plain,
                  'S3_VERIFY_SSL': plain,                        # tensorflow-io
                  'AWS_REGION': self.region, 'AWS_DEFAULT_REGION': self.region}
        return [{'name': name, 'value': value} for name, value in values.items()]

    def key_to_env(self) -> Dict[str, str]:
        """Secret key -> environment variable."""
        return {self.access_key_key: 'AWS_ACCESS_KEY_ID',
                self.secret_key_key: 'AWS_SECRET_ACCESS_KEY'}


def targets_it_suits(docs: List[dict]) -> Tuple[str, ...]:
    """The targets a compiled spec (`load`'s documents) can be submitted to.

    A Kubernetes platform document or an `nvidia.com/gpu` accelerator is
    open-source KFP's alone (Vertex's loader reads one YAML document, and
    takes accelerator enum names such as NVIDIA_TESLA_T4, which KFP's Argo
    compiler would pass to Kubernetes as a resource name).
    """
    accelerators = {(executor.get('container') or {}).get('resources', {})
                    .get('accelerator', {}).get('type')
                    for executor in docs[0].get('deploymentSpec', {}).get('executors', {}).values()}
    accelerators.discard(None)
    if len(docs) > 1 or any('/' in kind for kind in accelerators):
        return ('kfp',)
    if accelerators:
        return ('vertex',)
    return tuple(CLUSTER_SCHEMES)


def load(spec_file: str) -> List[dict]:
    """The YAML documents of a spec file: the pipeline spec, then any platform spec."""
    with open(spec_file) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def dump(docs: List[dict], spec_file: str) -> None:
    with open(spec_file, 'w') as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)


def check_roots(target: str, roots: Dict[str, str]) -> None:
    """Cluster targets need roots every pod can reach (gs://; s3:// on KFP)."""
    schemes = CLUSTER_SCHEMES[target]
    local = {name: root for name, root in roots.items() if root and not root.startswith(schemes)}
    if local:
        listed = ', '.join(f'--{name.replace("_", "-")} {root}' for name, root in local.items())
        raise SpecError(f'{listed}: a {target} task cannot reach a path of this machine; give '
                        f'{" or ".join(schemes)} roots (or --allow-local-roots to run the spec '
                        'here with tools/kfp_launcher.py)')


def check_task_names(spec: dict) -> None:
    """Every task and component name, and each task's driver, is a valid Argo name."""
    tasks = list(spec['root']['dag']['tasks'])
    names = tasks + [task + DRIVER_SUFFIX for task in tasks] + list(spec['components'])
    bad = [name for name in names if not ARGO_NAME.match(name) or len(name) > ARGO_NAME_MAX]
    if bad:
        raise SpecError(f'names Argo refuses (it accepts {ARGO_NAME.pattern}): {sorted(bad)}')


def use_project_entrypoint(spec: dict) -> int:
    """Every TFX executor container runs pipeline.kfp_entrypoint; returns how many."""
    changed = 0
    for executor in spec['deploymentSpec']['executors'].values():
        container = executor.get('container') or {}
        command = container.get('command') or []
        if TFX_ENTRYPOINT_MODULE in command:
            container['command'] = [PROJECT_ENTRYPOINT_MODULE if part == TFX_ENTRYPOINT_MODULE
                                    else part for part in command]
            changed += 1
    return changed


def disable_cache(spec: dict, task_names: Iterable[str]) -> None:
    tasks = spec['root']['dag']['tasks']
    for name in task_names:
        tasks[name]['cachingOptions'] = {'enableCache': False}


def uncacheable_tasks(spec: dict, example_gen_cacheable: bool) -> List[str]:
    names = [name for name in spec['root']['dag']['tasks']
             if name.split('-')[0] in UNCACHEABLE_KINDS]
    if not example_gen_cacheable:
        names.append(EXAMPLE_GEN_TASK)
    return names


@dataclasses.dataclass(frozen=True)
class ArtifactVolume:
    """A ReadWriteMany PersistentVolumeClaim every task mounts at `mount_path`,
    where the pipeline's artifacts live instead of the bucket."""
    claim: str
    mount_path: str

    @classmethod
    def parse(cls, text: str) -> 'ArtifactVolume':
        claim, _, mount_path = text.partition(':')
        if not claim or not mount_path.startswith('/'):
            raise SpecError(f'--artifact-volume takes CLAIM:/mount/path, got {text!r}')
        return cls(claim, mount_path.rstrip('/') or '/')

    def container_env(self, pipeline_root: str) -> List[Dict[str, str]]:
        from pipeline.kfp_entrypoint import BUCKET_ROOT_ENV, VOLUME_ROOT_ENV
        return [{'name': VOLUME_ROOT_ENV, 'value': self.mount_path},
                {'name': BUCKET_ROOT_ENV, 'value': pipeline_root}]


def platform_document(spec: dict, selectors: Dict[str, Dict[str, str]],
                      store: Optional[ObjectStore] = None,
                      volume: Optional[ArtifactVolume] = None) -> Optional[dict]:
    """KFP's Kubernetes platform spec: node selectors per GPU task, the store's
    Secret as environment on every task; None when there is neither.

    Each executor's config is a kfp-kubernetes `KubernetesExecutorConfig`
    (1.0.0, the release for the kfp 2.5 SDK), written as KFP's own compiler
    writes it (`json_format.MessageToDict`).
    """
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    tasks = spec['root']['dag']['tasks']
    labels_of = {}
    for node_id, labels in selectors.items():
        component = spec['components'][tasks[node_id]['componentRef']['name']]
        labels_of[component['executorLabel']] = labels
    with_secret = bool(store and store.secret)
    executors = {}
    for label in spec['deploymentSpec']['executors']:
        if label not in labels_of and not with_secret and not volume:
            continue
        config = k8s.KubernetesExecutorConfig()
        if label in labels_of:
            config.node_selector.labels.update(labels_of[label])
        if with_secret:
            config.secret_as_env.add(secret_name=store.secret, key_to_env=[
                k8s.SecretAsEnv.SecretKeyToEnvMap(secret_key=key, env_var=variable)
                for key, variable in store.key_to_env().items()])
        if volume:
            config.pvc_mount.add(constant=volume.claim, mount_path=volume.mount_path)
        executors[label] = json_format.MessageToDict(config)
    if not executors:
        return None
    return {'platforms': {'kubernetes': {'deploymentSpec': {'executors': executors}}}}


def check_documents(docs: List[dict]) -> None:
    """The pipeline spec and any platform spec parse with KFP's protos, no unknown field."""
    from google.protobuf import json_format
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s
    from kfp.pipeline_spec import pipeline_spec_pb2
    try:
        json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
        for platform in docs[1:]:
            json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
            for label, config in (platform.get('platforms', {}).get('kubernetes', {})
                                  .get('deploymentSpec', {}).get('executors', {}).items()):
                json_format.ParseDict(config, k8s.KubernetesExecutorConfig())
    except json_format.ParseError as err:
        raise SpecError(f'the spec does not parse with KFP\'s protos: {err}') from None


def finish_spec(spec_file: str, target: str, pipeline_root: str, example_gen_cacheable: bool,
                gpu_node_selectors: Optional[Dict[str, Dict[str, str]]] = None,
                store: Optional[ObjectStore] = None,
                volume: Optional[ArtifactVolume] = None) -> dict:
    """Rewrites `spec_file` in place for `target`; returns the pipeline spec."""
    (spec,) = load(spec_file)[:1]
    spec['defaultPipelineRoot'] = pipeline_root
    check_task_names(spec)
    use_project_entrypoint(spec)
    disable_cache(spec, uncacheable_tasks(spec, example_gen_cacheable))
    if (store or volume) and target != 'kfp':
        raise SpecError('an S3-compatible store (--object-store-*) and an artifact volume '
                        'are for --target kfp; Vertex AI reads gs:// with its service '
                        'account and copies no input')
    env = (store.container_env() if store else []) + (
        volume.container_env(pipeline_root) if volume else [])
    for executor in spec['deploymentSpec']['executors'].values():
        if env and 'container' in executor:
            executor['container']['env'] = env
    if target == 'kfp' and example_gen_cacheable:
        # The KFP UI shows this beside the pipeline: the one place a user who
        # uploads the file, or schedules it, will read it.
        spec['pipelineInfo']['description'] = STALE_CACHE_WARNING
    docs = [spec]
    platform = (platform_document(spec, gpu_node_selectors or {}, store, volume)
                if target == 'kfp' else None)
    if platform:
        docs.append(platform)
    check_documents(docs)
    dump(docs, spec_file)
    return spec
