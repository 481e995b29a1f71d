"""The project's code fingerprint as a parameter of every custom component.

User code runs from the installed package, so TFX's cache would not notice
an edit to, say, the Quantizer's executor, and would hand back a stale
result. Each custom component therefore declares an optional
`code_fingerprint` parameter, and `create_pipeline` stamps the fingerprint
of all of the project's code (pipeline.configs.code_fingerprint) into it:
parameters are part of the cache key, and of the execution in ML Metadata.
"""

from typing import Iterable

from tfx.types.component_spec import ExecutionParameter

KEY = 'code_fingerprint'
PARAMETERS = {KEY: ExecutionParameter(type=str, optional=True)}


def stamp(nodes: Iterable, fingerprint: str) -> None:
    """Sets the fingerprint on every node whose spec declares the parameter."""
    for node in nodes:
        if KEY in getattr(node.spec, 'PARAMETERS', {}):
            node.exec_properties[KEY] = fingerprint
