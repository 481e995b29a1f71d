"""Evaluator: TFX's component and spec, with an executor that evaluates a first
run's candidate once (see executor.py), and TFMA's model calling the serving
signatures by keyword (keyword_call.py)."""

from typing import Optional

from tfx.components.evaluator import component as tfx_component
from tfx.dsl.components.base import executor_spec

from components.evaluator import executor

# TFX's Evaluator builds its EvalSharedModel with this module's
# `custom_eval_shared_model`, on every backend (a module path, not a file:
# the module is in the pipeline's image).
KEYWORD_CALL_MODULE = 'components.evaluator.keyword_call'


class Evaluator(tfx_component.Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, *args, module_path: Optional[str] = KEYWORD_CALL_MODULE, **kwargs):
        super().__init__(*args, module_path=module_path, **kwargs)
