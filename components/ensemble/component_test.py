"""EnsembleBuilder component: spec wiring and constructor checks (no execution)."""

import json

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.ensemble import executor
from components.ensemble.component import EnsembleBuilder


def _model_channel():
    return types.Channel(type=standard_artifacts.Model)


def test_members_fill_named_slots_and_properties():
    examples = types.Channel(type=standard_artifacts.Examples)
    builder = EnsembleBuilder({'netvlad': _model_channel(), 'dbof': _model_channel()},
                              examples=examples, weighting='fitted',
                              size_budget_bytes=123, choose_subset=True)
    assert set(builder.inputs) >= {'model_0', 'model_1', 'examples'}
    assert 'model_2' not in builder.inputs
    assert builder.outputs['model'].type == standard_artifacts.Model
    props = builder.exec_properties
    assert json.loads(props['member_names']) == ['netvlad', 'dbof']
    assert props['weighting'] == 'fitted' and props['size_budget_bytes'] == 123
    assert props['choose_subset'] == 1 and props['weights'] is None


def test_given_weights_are_recorded():
    builder = EnsembleBuilder({'a': _model_channel(), 'b': _model_channel()},
                              weighting='given', weights=[1, 3])
    assert json.loads(builder.exec_properties['weights']) == [1.0, 3.0]
    assert builder.exec_properties['size_budget_bytes'] == executor.DEFAULT_BUDGET


@pytest.mark.parametrize('kwargs', [
    dict(weighting='given'),
    dict(weighting='given', weights=[1]),
    dict(weighting='given', weights=[1, -1]),
    dict(weighting='fitted'),
    dict(weighting='median'),
])
def test_bad_configurations_fail_early(kwargs):
    with pytest.raises(ValueError):
        EnsembleBuilder({'a': _model_channel(), 'b': _model_channel()}, **kwargs)


def test_at_most_eight_members():
    with pytest.raises(ValueError):
        EnsembleBuilder({f'm{i}': _model_channel() for i in range(9)})
