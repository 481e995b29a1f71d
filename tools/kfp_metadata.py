"""Output artifacts through ML Metadata and back, as open-source KFP's launcher and driver pass them.

In KFP a task's outputs reach the next task only through ML Metadata: the
launcher records each one (`backend/src/v2/metadata/client.go`
`RecordArtifact`, which calls `converter.go` `toMLMDArtifact`), and the
next task's driver reads it back (`GetOutputArtifactsByExecutionId`, then
`toRuntimeArtifact`). What the consumer sees is therefore what that round
trip leaves of the producer's executor-output metadata, read here in
kubeflow/pipelines at 2.5.0 and HEAD:

* strings stay strings, JSON numbers become doubles; a bool becomes the
  int 0 or 1 and comes back as a number;
* a list is stored as a struct `{"list": [...]}` and a struct as
  `{"struct": {...}}`, and both come back wrapped;
* null is refused (`StructValueToMLMDValue`: "unknown/unsupported value
  type"), so the launcher fails to record the task;
* `_kfp_workspace` is not persisted (HEAD, from 2.15.0; at 2.5 it would be
  stored as the int 1);
* `display_name` (the output's name) and `store_session_info` (the
  object store's session, JSON) are added when absent;
* the artifact's name becomes its MLMD id, as a string.

The artifacts go through a real ML Metadata store (SQLite, or in memory),
so ids and stored values are MLMD's own.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from google.protobuf import json_format
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

WORKSPACE_FLAG = '_kfp_workspace'
DISPLAY_NAME = 'display_name'
STORE_SESSION_INFO = 'store_session_info'


class MetadataError(ValueError):
    """A value KFP's converter refuses."""


def session_info(pipeline_root: str) -> str:
    """The session KFP records for artifacts under `pipeline_root` (credentials from the
    environment: `objectstore.SessionInfo` with `fromEnv`, as the importer path sets it)."""
    scheme = pipeline_root.split('://', 1)[0] if '://' in pipeline_root else 'file'
    return json.dumps({'Provider': scheme, 'Params': {'fromEnv': 'true'}},
                      separators=(',', ':'))


def to_mlmd_value(key: str, value: Any) -> metadata_store_pb2.Value:
    """converter.go `StructValueToMLMDValue`."""
    stored = metadata_store_pb2.Value()
    if isinstance(value, bool):
        stored.int_value = int(value)
    elif isinstance(value, str):
        stored.string_value = value
    elif isinstance(value, (int, float)):
        stored.double_value = float(value)
    elif isinstance(value, list):
        stored.struct_value.update({'list': value})
    elif isinstance(value, dict):
        stored.struct_value.update({'struct': value})
    else:
        raise MetadataError(f'metadata {key!r}: unknown/unsupported value type '
                            f'{type(value).__name__} (KFP stores no null)')
    return stored


def to_runtime_value(stored: metadata_store_pb2.Value) -> Any:
    """converter.go `toRuntimeArtifact`, as protojson writes it (integral doubles as ints)."""
    kind = stored.WhichOneof('value')
    if kind == 'string_value':
        return stored.string_value
    if kind in ('double_value', 'int_value'):
        number = float(getattr(stored, kind))
        return int(number) if number.is_integer() else number
    if kind == 'struct_value':
        return json_format.MessageToDict(stored.struct_value)
    raise MetadataError(f'unknown property type in MLMD artifact: {kind}')


class Store:
    """An ML Metadata store the outputs pass through; SQLite at `path`, else in memory."""

    def __init__(self, path: Optional[str] = None):
        config = metadata_store_pb2.ConnectionConfig()
        if path:
            os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
            config.sqlite.filename_uri = path
            config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        else:
            config.fake_database.SetInParent()
        self.store = metadata_store.MetadataStore(config)

    def record(self, output_name: str, artifact: dict, session: str) -> dict:
        """The artifact as the next task's driver hands it over, after MLMD."""
        title = artifact.get('type', {}).get('schemaTitle') or 'system.Artifact'
        type_id = self.store.put_artifact_type(metadata_store_pb2.ArtifactType(name=title))
        stored = metadata_store_pb2.Artifact(type_id=type_id, uri=artifact['uri'],
                                             state=metadata_store_pb2.Artifact.LIVE)
        for key, value in (artifact.get('metadata') or {}).items():
            if key != WORKSPACE_FLAG:
                stored.custom_properties[key].CopyFrom(to_mlmd_value(key, value))
        for key, value in ((DISPLAY_NAME, output_name), (STORE_SESSION_INFO, session)):
            if key not in stored.custom_properties:
                stored.custom_properties[key].string_value = value
        (artifact_id,) = self.store.put_artifacts([stored])
        (read,) = self.store.get_artifacts_by_id([artifact_id])
        metadata: Dict[str, Any] = {key: to_runtime_value(value)
                                    for key, value in read.custom_properties.items()}
        return dict(artifact, name=str(read.id), uri=read.uri, metadata=metadata)

