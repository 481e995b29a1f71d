"""BlessingGate.decide: the label-prior rule and the Evaluator's own blessing, both needed."""

import pytest

from components.blessing_gate.executor import decide


def test_blessed_when_it_beats_the_prior_by_the_gain_and_tfma_blessed():
    blessed, reason = decide(tfma_blessed=True, gap=0.60, prior_gap=0.10, min_gain=0.05)
    assert blessed and 'label prior 0.1000 + 0.0500' in reason


def test_the_gain_over_the_prior_is_inclusive():
    assert decide(True, gap=0.25, prior_gap=0.20, min_gain=0.05)[0]
    assert not decide(True, gap=0.2499, prior_gap=0.20, min_gain=0.05)[0]


@pytest.mark.parametrize('tfma_blessed', [True, False])
def test_not_blessed_below_the_prior_whatever_tfma_says(tfma_blessed):
    blessed, reason = decide(tfma_blessed, gap=0.12, prior_gap=0.10, min_gain=0.05)
    assert not blessed and "does not beat the label prior's 0.1000" in reason


def test_not_blessed_when_the_evaluator_refused_it():
    blessed, reason = decide(False, gap=0.60, prior_gap=0.10, min_gain=0.05)
    assert not blessed and 'Evaluator did not bless it' in reason
