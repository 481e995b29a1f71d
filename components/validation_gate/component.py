"""ValidationGate: stops the run when ExampleValidator found anomalies.

ExampleValidator records anomalies but lets the pipeline go on; training on
data that breaks the schema wastes hours at YouTube-8M scale and can push a
model trained on garbage. Downstream nodes depend on this gate, so a record
failing validation ends the run before any training, with the anomalies
spelled out.
"""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter

from components import code_version
from components.validation_gate import executor


class ValidationGateSpec(types.ComponentSpec):
    PARAMETERS = {**code_version.PARAMETERS}
    INPUTS = {'anomalies': ChannelParameter(type=standard_artifacts.ExampleAnomalies),
              # Optional: to name example videos showing each anomaly.
              'examples': ChannelParameter(type=standard_artifacts.Examples, optional=True)}
    OUTPUTS = {}


class ValidationGate(base_component.BaseComponent):
    SPEC_CLASS = ValidationGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel,
                 examples: Optional[types.BaseChannel] = None):
        super().__init__(spec=ValidationGateSpec(anomalies=anomalies, examples=examples))
