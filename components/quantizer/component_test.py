"""Quantizer component: spec wiring and exec-property defaults."""

import os

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.quantizer.component import Quantizer


def test_component_wiring_and_defaults():
    model = types.Channel(type=standard_artifacts.Model)
    run = types.Channel(type=standard_artifacts.ModelRun)
    quantizer = Quantizer(model=model, model_run=run)
    assert quantizer.outputs['quantized_model'].type == standard_artifacts.Model
    assert quantizer.inputs['model'] is model and quantizer.inputs['model_run'] is run
    assert 'examples' not in quantizer.inputs
    assert quantizer.exec_properties['quantization'] == 'uniform'
    assert quantizer.exec_properties['min_elements'] == 17_000


def test_component_options_and_bad_mode():
    model = types.Channel(type=standard_artifacts.Model)
    quantizer = Quantizer(model=model, quantization='kmeans', min_elements=1000,
                          family='dbof', preset='small',
                          examples=types.Channel(type=standard_artifacts.Examples))
    assert quantizer.exec_properties['quantization'] == 'kmeans'
    assert quantizer.exec_properties['family'] == 'dbof'
    with pytest.raises(ValueError, match='unknown quantization'):
        Quantizer(model=model, quantization='int4')
