"""The ensemble as ONE serving graph: members' SavedModels behind one input.

Every member keeps the serving contract (`serving_default`: `examples` ->
`probabilities`, ...); it is loaded with `tf.saved_model.load` and attached to
one `tf.Module`, so all members' variables and graphs are saved in the one
output SavedModel and a plain `tf.saved_model.load` serves it. All members
read the same `examples` tensor; `probabilities` is their weighted average
(the caller passes weights >= 0 summing to 1), of probabilities or of
logits squashed back through a sigmoid (`combination`), plus the top-20
`top_classes` / `top_scores`. `transform_features` is the first member's
(TFMA reads labels from it).
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from trainer.export import EXAMPLES_SPEC, prediction_outputs
from yt8m import features

MODEL_KEY_PREFIX = 'model_'
LOGIT_EPSILON = 1e-6


def model_key(slot: int) -> str:
    """The component input holding member `slot` (one channel per slot: KFP v2
    cannot feed a list of artifacts from different tasks into one input)."""
    return f'{MODEL_KEY_PREFIX}{slot}'


class EnsembleModule(tf.Module):
    """Members' SavedModels behind one input; weighted average of probabilities."""

    def __init__(self, members: Sequence[Any], weights: Sequence[float],
                 combination: str = 'probability'):
        super().__init__()
        if len(members) != len(weights) or not members:
            raise ValueError('need one weight per member and at least one member')
        if combination not in ('probability', 'logit'):
            raise ValueError(f"combination must be 'probability' or 'logit', got {combination!r}")
        self.members = list(members)
        self.weights = [float(w) for w in weights]
        self.combination = combination

    @tf.function(input_signature=[EXAMPLES_SPEC])
    def serve(self, examples):
        # Members run one after another (control dependencies), not side by
        # side: each quantized member materialises its dequantized float32
        # weights while it runs (1.3 GB for a seed NetVLAD). For six seed
        # members at batch 32 on 2 cores this peaked at 6.0-7.0 GB against
        # 7.4-8.3 GB side by side, at the same speed within noise (4.1-4.8
        # against 4.1-4.2 videos/s; benchmarks/bench_final_artifact.py).
        total, previous = None, []
        for weight, member in zip(self.weights, self.members):
            with tf.control_dependencies(previous):
                probabilities = tf.cast(member.signatures['serving_default'](
                    examples=examples)[features.PROBABILITIES], tf.float32)
            previous = [probabilities]
            if self.combination == 'logit':   # as weight_search.logits: clipped at 1e-6
                clipped = tf.clip_by_value(probabilities, LOGIT_EPSILON, 1 - LOGIT_EPSILON)
                probabilities = tf.math.log(clipped) - tf.math.log1p(-clipped)
            term = weight * probabilities
            total = term if total is None else total + term
        if self.combination == 'logit':
            total = tf.sigmoid(total)
        return prediction_outputs(total)

    @tf.function(input_signature=[EXAMPLES_SPEC])
    def transform_features(self, examples):
        return self.members[0].signatures['transform_features'](examples=examples)


def save_ensemble(members: Sequence[Any], weights: Sequence[float], export_dir: str,
                  combination: str = 'probability') -> None:
    """Writes the one-graph SavedModel with the same two signatures as a member."""
    module = EnsembleModule(members, weights, combination)
    tf.saved_model.save(module, export_dir, signatures={
        'serving_default': module.serve,
        'transform_features': module.transform_features,
    })
