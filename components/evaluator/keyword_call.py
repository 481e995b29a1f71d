"""TFMA's model for the Evaluator: the serving signatures, called by keyword.

TFMA 0.47 calls a SavedModel's serving signature with the batch of
serialized records as a positional argument
(`model_util.ModelSignaturesDoFn._batch_reducible_process`). A loaded
signature takes keywords only, so TensorFlow 2.16 first fails to bind its
structured signature and builds a TypeError whose message holds the repr
of every record of the batch (`function_type_utils.bind_function_inputs`),
then falls back to the flat signature, which works; the message is thrown
away. DBoF small on 410 test videos in one batch: 42.3 s positionally,
1.9 s by keyword (benchmarks/bench_signature_call.py,
results/signature_call.json).

The Evaluator names this module (`module_path`), so TFX's executor builds
its EvalSharedModel with `custom_eval_shared_model` below, on the driver and
on every Beam worker alike: TFMA's own model, with each signature behind
`KeywordSignature`, which hands a positional batch on by keyword.
"""

from __future__ import annotations

from typing import Any

import tensorflow_model_analysis as tfma


class KeywordSignature:
    """A loaded signature of one input that also takes that input positionally."""

    def __init__(self, signature):
        self._signature = signature
        # What TFMA reads to decide whether the input is a feature or the records.
        self.structured_input_signature = signature.structured_input_signature
        self.structured_outputs = signature.structured_outputs
        self.input_names = list(signature.structured_input_signature[1])

    def __call__(self, *args, **kwargs):
        if args:
            if len(args) != 1 or kwargs or len(self.input_names) != 1:
                raise TypeError(f'signature with inputs {self.input_names}: give one '
                                f'positional batch or keywords, got {len(args)} '
                                f'positional and {sorted(kwargs)}')
            kwargs = {self.input_names[0]: args[0]}
        return self._signature(**kwargs)


class KeywordSignatureModel:
    """A loaded SavedModel whose `signatures` are `KeywordSignature`s; all else its own."""

    def __init__(self, loaded):
        self._loaded = loaded
        self.signatures = {name: KeywordSignature(signature)
                           for name, signature in loaded.signatures.items()}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loaded, name)


def custom_eval_shared_model(eval_saved_model_path: str, model_name: str,
                             eval_config: tfma.EvalConfig, **kwargs) -> tfma.types.EvalSharedModel:
    """TFMA's default EvalSharedModel, loading `KeywordSignatureModel`s (TFX's hook)."""
    shared = tfma.default_eval_shared_model(
        eval_saved_model_path=eval_saved_model_path, model_name=model_name,
        eval_config=eval_config, **kwargs)
    construct = shared.model_loader.construct_fn
    return shared._replace(model_loader=tfma.types.ModelLoader(
        construct_fn=lambda: KeywordSignatureModel(construct()),
        tags=shared.model_loader.tags))
