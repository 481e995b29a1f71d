"""Post-training weight quantization of a serving SavedModel (the seed's method).

Every float32 variable of the Keras model with at least `min_elements`
elements is stored as a uint8 tensor of the same shape plus 256 float32
levels; the serving graph computes `tf.gather(levels, tf.cast(indices,
tf.int32))` where the weight is read. Smaller variables (biases, batch norm)
stay float32. The float32 originals are not saved, so the SavedModel is about
4x smaller for a model dominated by big matrices.

How the graph reads the dequantized weight: while the serving function is
traced, every Keras layer attribute holding a quantized variable (e.g.
`Dense.kernel`, `LSTMCell.recurrent_kernel`, `VLADPooling.centres`) is
swapped for the dequantized tensor, the model is called, and the attributes
are put back. After tracing, the traced graph is checked: it must not read
any float32 original of a quantized variable (a layer that reads its weight
some other way fails loudly instead of silently saving floats).

Modes:
  uniform      256 levels evenly spaced between the tensor's min and max (seed)
  per_channel  the same, per output channel (last axis): levels [C, 256]
  kmeans       256 levels from 1-D k-means (Lloyd, quantile start)
  float16      the variable stored as float16, cast back to float32
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from trainer.export import EXAMPLES_SPEC, prediction_outputs
from trainer.input_pipeline import model_inputs

MODES = ('uniform', 'per_channel', 'kmeans', 'float16')
NUM_LEVELS = 256
DEFAULT_MIN_ELEMENTS = 17_000


# ---------------------------------------------------------------- numpy side

def uniform_levels(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return np.linspace(low, high, NUM_LEVELS, dtype=np.float64).astype(np.float32)


def kmeans_levels(values: np.ndarray, iterations: int = 50) -> np.ndarray:
    """256 sorted 1-D k-means centroids: Lloyd's algorithm from the uniform levels.

    Starting from the uniform grid, every Lloyd step can only lower the mean
    squared error, so the result is never worse than 'uniform' in MSE (its
    largest error can be, though: sparse tails get few levels).
    """
    flat = np.sort(values.astype(np.float64).ravel())
    centres = uniform_levels(values).astype(np.float64)
    for _ in range(iterations):
        bounds = np.searchsorted(flat, (centres[1:] + centres[:-1]) / 2)
        starts = np.concatenate([[0], bounds])
        counts = np.concatenate([bounds, [flat.size]]) - starts
        sums = np.add.reduceat(flat, np.minimum(starts, flat.size - 1))
        updated = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
        converged = np.allclose(updated, centres, rtol=0, atol=1e-9)
        centres = np.sort(updated)
        if converged:
            break
    return centres.astype(np.float32)


def nearest_indices(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index of the nearest of sorted `levels` for every value (uint8)."""
    midpoints = (levels[1:].astype(np.float64) + levels[:-1]) / 2
    return np.searchsorted(midpoints, values.astype(np.float64), side='left').astype(np.uint8)


@dataclasses.dataclass
class QuantizedArray:
    mode: str
    stored: Dict[str, np.ndarray]   # what is saved: {'indices', 'levels'} or {'values'}
    dequantized: np.ndarray         # float32, what the graph computes

    @property
    def stored_bytes(self) -> int:
        return int(sum(a.nbytes for a in self.stored.values()))


def quantize_array(values: np.ndarray, mode: str = 'uniform') -> QuantizedArray:
    values = np.asarray(values, np.float32)
    if mode == 'float16':
        half = values.astype(np.float16)
        return QuantizedArray(mode, {'values': half}, half.astype(np.float32))
    if mode in ('uniform', 'kmeans'):
        levels = uniform_levels(values) if mode == 'uniform' else kmeans_levels(values)
        indices = nearest_indices(values, levels)
        return QuantizedArray(mode, {'indices': indices, 'levels': levels}, levels[indices])
    if mode == 'per_channel':
        channels = values.reshape(-1, values.shape[-1]) if values.ndim else values.reshape(1, 1)
        levels = np.stack([uniform_levels(channels[:, c]) for c in range(channels.shape[1])])
        indices = np.stack([nearest_indices(channels[:, c], levels[c])
                            for c in range(channels.shape[1])], axis=1)
        dequantized = np.take_along_axis(levels.T, indices.astype(np.int64), axis=0)
        return QuantizedArray(mode, {'indices': indices.reshape(values.shape), 'levels': levels},
                              dequantized.reshape(values.shape).astype(np.float32))
    raise ValueError(f'unknown mode {mode!r}; valid: {MODES}')


def dequantize_tensor(mode: str, stored: Dict[str, tf.Variable]) -> tf.Tensor:
    """The graph side of `quantize_array`: float32 tensor of the weight's shape."""
    if mode == 'float16':
        return tf.cast(stored['values'], tf.float32)
    indices = tf.cast(stored['indices'], tf.int32)
    levels = stored['levels']
    if mode == 'per_channel':
        shape = tf.shape(indices)
        columns = tf.transpose(tf.reshape(indices, [-1, shape[-1]]))   # [C, N]
        values = tf.gather(levels, columns, batch_dims=1)              # [C, N]
        return tf.reshape(tf.transpose(values), shape)
    return tf.gather(levels, indices)


# ---------------------------------------------------------------- model side

def qualifies(variable: tf.Variable, min_elements: int) -> bool:
    return variable.dtype == tf.float32 and int(np.prod(variable.shape)) >= min_elements


def _layers(model) -> list:
    return list(model._flatten_layers(include_self=True, recursive=True))  # pylint: disable=protected-access


def find_attribute_locations(model, variable) -> List[tuple]:
    """(layer, attribute name) pairs whose attribute *is* `variable`."""
    found = []
    for layer in _layers(model):
        for name, value in vars(layer).items():
            if value is variable:
                found.append((layer, name))
    return found


@contextlib.contextmanager
def swapped_attributes(replacements: List[tuple]):
    """Temporarily sets layer attributes (bypassing Keras/tf.Module tracking)."""
    originals = [(layer, name, vars(layer)[name]) for layer, name, _ in replacements]
    try:
        for layer, name, tensor in replacements:
            object.__setattr__(layer, name, tensor)
        yield
    finally:
        for layer, name, original in originals:
            object.__setattr__(layer, name, original)


@dataclasses.dataclass
class VariableReport:
    name: str
    shape: List[int]
    quantized: bool
    bytes_before: int
    bytes_after: int
    max_abs_error: float
    level_step: Optional[float] = None


class QuantizedServingModule(tf.Module):
    """Same signatures as `trainer.export.ServingModule`, weights quantized.

    `transform_features` is the source SavedModel's own restored function
    (serialized examples -> transformed features); `source_transform_layer`
    keeps whatever resources it captures (TFT tables, assets) tracked.
    """

    def __init__(self, model, transform_features, source_transform_layer=None,
                 mode: str = 'uniform', min_elements: int = DEFAULT_MIN_ELEMENTS):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'unknown mode {mode!r}; valid: {MODES}')
        self.mode = mode
        reports: List[VariableReport] = []
        object.__setattr__(self, 'reports', reports)   # plain data: not tracked
        quantized_entries = []      # (variable, stored-variable dict, locations)
        self.float_variables = []   # small variables, saved as they are
        self.quantized_variables = []
        for variable in model.variables:
            values = variable.numpy()
            name = variable.name
            if not qualifies(variable, min_elements):
                self.float_variables.append(variable)
                reports.append(VariableReport(
                    name, list(values.shape), False, values.nbytes, values.nbytes, 0.0))
                continue
            locations = find_attribute_locations(model, variable)
            if not locations:
                raise ValueError(f'{name}: no layer attribute holds this variable; '
                                 'cannot substitute the quantized weight')
            result = quantize_array(values, mode)
            base = name.split(':')[0]
            stored = {key: tf.Variable(array, trainable=False, name=f'{base}/quantized_{key}')
                      for key, array in result.stored.items()}
            self.quantized_variables.append(stored)
            quantized_entries.append((variable, stored, locations))
            step = None
            if 'levels' in result.stored and mode != 'kmeans':
                levels = result.stored['levels']
                step = float(np.max(levels[..., -1] - levels[..., 0]) / (NUM_LEVELS - 1))
            reports.append(VariableReport(
                name, list(values.shape), True, values.nbytes, result.stored_bytes,
                float(np.max(np.abs(result.dequantized - values))) if values.size else 0.0,
                step))
        object.__setattr__(self, '_quantized_originals',
                           frozenset(id(v) for v, _, _ in quantized_entries))
        if source_transform_layer is not None:
            self.source_transform_layer = source_transform_layer
        # The Keras model is only reachable from these closures: never tracked,
        # so its float32 originals are not written.
        holder = {'model': model, 'entries': quantized_entries, 'mode': mode}

        def serve(examples):
            transformed = transform_features(examples)
            replacements = []
            for _, stored, locations in holder['entries']:
                tensor = dequantize_tensor(holder['mode'], stored)
                replacements.extend((layer, name, tensor) for layer, name in locations)
            with swapped_attributes(replacements):
                probabilities = holder['model'](model_inputs(transformed), training=False)
            return prediction_outputs(tf.cast(probabilities, tf.float32))

        def features_fn(examples):
            return transform_features(examples)

        self.serve = tf.function(serve, input_signature=[EXAMPLES_SPEC])
        self.transform_features = tf.function(features_fn, input_signature=[EXAMPLES_SPEC])

    def check_no_float_originals(self) -> None:
        """Raises if the traced serving graph still reads a quantized variable's float original."""
        concrete = self.serve.get_concrete_function()
        leaked = [v.name for v in concrete.variables if id(v) in self._quantized_originals]
        if leaked:
            raise ValueError(f'serving graph still reads float originals: {leaked}')

    def signatures(self) -> dict:
        return {'serving_default': self.serve,
                'transform_features': self.transform_features}


def save(module: QuantizedServingModule, export_dir: str) -> None:
    module.check_no_float_originals()
    tf.saved_model.save(module, export_dir, signatures=module.signatures())
