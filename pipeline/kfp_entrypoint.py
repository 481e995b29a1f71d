"""The image's task entrypoint: TFX's v2 entrypoint, fed what it needs on every backend.

Every compiled task runs `python -m pipeline.kfp_entrypoint <TFX's own args>`
(kubeflow_runner.py rewrites the command). It repairs the `ExecutorInput`
that the backend's driver hands over, then calls TFX 1.16's
`kubeflow_v2_run_executor` unchanged. Read against kubeflow/pipelines 2.5.0
(see docs/KUBEFLOW.md for the quotes):

* Typeless inputs. The open-source driver builds each input artifact with an
  empty schema (`backend/src/v2/metadata/client.go`: `Schema: "", // TODO(Bobgy):
  figure out how to get schema`; `ToRuntimeArtifact` sets
  `type.instanceSchema` to it). TFX then fails to find the artifact class
  (`'NoneType' object has no attribute 'get'`, tensorflow/tfx#7768). The
  task's own input definitions, which TFX passes as
  `--json_serialized_inputs_spec_args`, name each input's type: it is
  copied from there.
* Outputs TFX cannot map. KFP 2.5's driver adds an `executor-logs` output of
  schema title `system.Artifact` to every task when log publishing is on, the
  default (`backend/src/v2/driver/driver.go`). TFX knows only `tfx.*` titles
  and importable classes, so outputs in KFP's `system.` namespace are left
  out of what the executor sees (the backend's log upload is unaffected).
* The project's artifact types. Their titles (`yt8m.TeacherScores`) are
  mapped to their classes (`components.artifacts`), so no package has to
  re-export them under the title's module.

Vertex AI Pipelines hands over typed inputs and no `executor-logs`; there the
repairs find nothing to do.

With `kubeflow_runner.py --artifact-volume PVC:/mnt/path` (KFP), every
task mounts one ReadWriteMany volume and the spec sets VOLUME_ROOT_ENV and
BUCKET_ROOT_ENV: each output planned under the pipeline root (a bucket) is
written under the volume instead, and reported there in the executor
output. KFP's launcher takes a reported URI over the planned one
(`launcher_v2.go` `mergeRuntimeArtifacts`), records it in ML Metadata, and
neither uploads it nor downloads it for any consumer: it copies only gs://,
s3://, minio:// and oci:// URIs (`LocalPathForURI`). KFP's own outputs
(`executor-logs`) stay in the bucket.

Without it, outputs carry no mark of their own: KFP's launcher copies every input
artifact under gs://, s3:// or minio:// into the pod on every version
(`backend/src/v2/component/launcher_v2.go` `downloadArtifacts`), and the
`_kfp_workspace` key some read as "keep remote" is a runtime flag that the
driver sets only for a workspace importer and that ML Metadata never keeps
(docs/KUBEFLOW.md section 4). Vertex AI does not copy inputs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Dict, List, Optional, Sequence

logger = logging.getLogger(__name__)

TFX_ENTRYPOINT = 'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor'
INVOCATION_FLAG = '--json_serialized_invocation_args'
INPUTS_SPEC_FLAG = '--json_serialized_inputs_spec_args'
# Set by the spec when artifacts live on a mounted volume (see above).
VOLUME_ROOT_ENV = 'YT8M_VOLUME_ROOT'
BUCKET_ROOT_ENV = 'YT8M_BUCKET_ROOT'
# KFP's own artifact namespace (system.Artifact, system.Model, ...): never a TFX type.
KFP_SYSTEM_PREFIX = 'system.'


def _flag_value(argv: Sequence[str], flag: str) -> Optional[int]:
    """Index of the value of `flag` in argv (`--flag value` or `--flag=value` is not used by TFX)."""
    for index, arg in enumerate(argv[:-1]):
        if arg == flag:
            return index + 1
    return None


def type_title(artifact_type: dict) -> str:
    """The schema title of a pipeline-spec ArtifactTypeSchema, '' when it has none."""
    if artifact_type.get('schemaTitle'):
        return artifact_type['schemaTitle']
    schema = artifact_type.get('instanceSchema') or ''
    for line in schema.splitlines():
        if line.startswith('title:'):
            return line.split(':', 1)[1].strip()
    return ''


def custom_class_paths() -> Dict[str, str]:
    """Title -> import path of the project's own artifact types."""
    from components import artifacts
    return {cls.TYPE_NAME: f'{cls.__module__}.{cls.__name__}'
            for cls in artifacts.BY_CLASS_NAME.values()}


def repair_executor_input(executor_input: dict, inputs_spec: dict,
                          class_paths: Dict[str, str]) -> List[str]:
    """Repairs `executor_input` in place; returns what it changed, for the log."""
    changes = []
    declared = inputs_spec.get('artifacts', {})
    for name, artifact_list in executor_input.get('inputs', {}).get('artifacts', {}).items():
        for artifact in artifact_list.get('artifacts', []):
            title = type_title(artifact.get('type') or {})
            if not title:
                if name not in declared:
                    raise ValueError(f'input {name!r} arrived without a type and the task '
                                     f'declares no such input (declared: {sorted(declared)})')
                artifact['type'] = dict(declared[name]['artifactType'])
                title = type_title(artifact['type'])
                changes.append(f'input {name}: type {title} from the task definition')
            if title in class_paths:
                artifact['type'] = {'schemaTitle': class_paths[title]}
    outputs = executor_input.get('outputs', {}).get('artifacts', {})
    for name in list(outputs):
        for artifact in outputs[name].get('artifacts', []):
            title = type_title(artifact.get('type') or {})
            if title.startswith(KFP_SYSTEM_PREFIX):
                del outputs[name]
                changes.append(f'output {name} ({title}) left to the backend')
                break
            if title in class_paths:
                artifact['type'] = {'schemaTitle': class_paths[title]}
    return changes


def outputs_onto_volume(executor_input: dict, bucket_root: str, volume_root: str) -> List[str]:
    """Moves every output planned under `bucket_root` to the same path under `volume_root`."""
    bucket_root, volume_root = bucket_root.rstrip('/'), volume_root.rstrip('/')
    changes = []
    for name, listing in executor_input.get('outputs', {}).get('artifacts', {}).items():
        for artifact in listing.get('artifacts', []):
            uri = artifact.get('uri', '')
            if uri.startswith(bucket_root + '/'):
                artifact['uri'] = volume_root + uri[len(bucket_root):]
                changes.append(f'output {name}: {artifact["uri"]} (on the volume)')
    return changes


def repaired_argv(argv: Sequence[str]) -> List[str]:
    """TFX's argv with the executor input repaired (everything else as given)."""
    argv = list(argv)
    at = _flag_value(argv, INVOCATION_FLAG)
    if at is None:
        raise ValueError(f'{INVOCATION_FLAG} missing: not a TFX v2 task command')
    executor_input = json.loads(argv[at])
    spec_at = _flag_value(argv, INPUTS_SPEC_FLAG)
    inputs_spec = json.loads(argv[spec_at]) if spec_at is not None else {}
    changes = repair_executor_input(executor_input, inputs_spec, custom_class_paths())
    if os.environ.get(VOLUME_ROOT_ENV) and os.environ.get(BUCKET_ROOT_ENV):
        changes += outputs_onto_volume(executor_input, os.environ[BUCKET_ROOT_ENV],
                                       os.environ[VOLUME_ROOT_ENV])
    for change in changes:
        logger.info('kfp_entrypoint: %s', change)
    argv[at] = json.dumps(executor_input)
    return argv


def main(argv: Sequence[str]) -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor
    from pipeline import filesystems
    argv = repaired_argv(argv)
    executor_input = json.loads(argv[_flag_value(argv, INVOCATION_FLAG)])
    # Artifact URIs and parameters (an ExampleGen's input_base) may be s3://.
    filesystems.register_for(
        [artifact.get('uri') for side in ('inputs', 'outputs')
         for listing in executor_input[side].get('artifacts', {}).values()
         for artifact in listing.get('artifacts', [])]
        + [value for value in executor_input['inputs'].get('parameterValues', {}).values()
           if isinstance(value, str)])

    def run(parsed):
        kubeflow_v2_run_executor.main(parsed)
        filesystems.exit_code(0)

    app.run(run, argv=[TFX_ENTRYPOINT, *argv], flags_parser=kubeflow_v2_run_executor._parse_flags)


if __name__ == '__main__':
    main(sys.argv[1:])
