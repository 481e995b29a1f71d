"""Evaluator: TFX's component and spec, with an executor that evaluates a first
run's candidate once (see executor.py)."""

from tfx.components.evaluator import component as tfx_component
from tfx.dsl.components.base import executor_spec

from components.evaluator import executor


class Evaluator(tfx_component.Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
