"""ValidationGate: stops the run when ExampleValidator found anomalies.

ExampleValidator records anomalies but lets the pipeline go on; training on
data that breaks the schema wastes hours at YouTube-8M scale and can push a
model trained on garbage. Downstream nodes depend on this gate, so a record
failing validation ends the run before any training, with the anomalies
spelled out.
"""

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter

from components.validation_gate import executor


class ValidationGateSpec(types.ComponentSpec):
    PARAMETERS = {}
    INPUTS = {'anomalies': ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS = {}


class ValidationGate(base_component.BaseComponent):
    SPEC_CLASS = ValidationGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel):
        super().__init__(spec=ValidationGateSpec(anomalies=anomalies))
