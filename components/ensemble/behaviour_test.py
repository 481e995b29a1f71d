"""The ensemble's reason to exist, as a behaviour with a margin.

Two models learn from different halves of the signal (one sees the evidence
of classes 0-9, the other of classes 10-19); the EnsembleBuilder's weight
fit, run on a select split, must give a mix that beats the better model on
a test split neither the models nor the fit saw. Models are multi-label
logistic regressions trained by gradient descent in numpy: the point is the
fit and the mix, not the model.
"""

import numpy as np

from components.ensemble import weight_search
from yt8m import eval_util

CLASSES = 20


def _videos(count: int, rng: np.random.Generator):
    """Features with one evidence dimension per class, 1-2 labels a video."""
    labels = np.zeros((count, CLASSES), dtype=np.float32)
    for row in labels:
        row[rng.choice(CLASSES, size=rng.integers(1, 3), replace=False)] = 1.0
    features = rng.normal(0.0, 1.0, (count, CLASSES)).astype(np.float32) + 1.5 * labels
    return features, labels


def _train_logistic(features, labels, steps: int = 300, learning_rate: float = 0.5):
    weights = np.zeros((features.shape[1], CLASSES), dtype=np.float32)
    bias = np.zeros(CLASSES, dtype=np.float32)
    for _ in range(steps):
        predictions = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
        error = (predictions - labels) / len(features)
        weights -= learning_rate * features.T @ error
        bias -= learning_rate * error.sum(axis=0)
    return lambda x: (1.0 / (1.0 + np.exp(-(x @ weights + bias)))).astype(np.float32)


def test_two_models_with_different_halves_of_the_signal_ensemble_beats_the_better_on_test():
    rng = np.random.default_rng(0)
    train, select, test = (_videos(n, rng) for n in (800, 400, 400))
    halves = [np.arange(CLASSES) < CLASSES // 2, np.arange(CLASSES) >= CLASSES // 2]

    # Each model sees only its half of the evidence dimensions.
    models = [(half, _train_logistic(train[0] * half, train[1])) for half in halves]
    combination, weights, _, _ = weight_search.fit_combination(
        [model(select[0] * half) for half, model in models], select[1])
    test_predictions = [model(test[0] * half) for half, model in models]
    members = [eval_util.gap_at_k(p, test[1]) for p in test_predictions]
    ensemble = eval_util.gap_at_k(weight_search.combine(test_predictions, weights, combination),
                                  test[1])
    assert min(weights) > 0.2, weights           # both members count
    assert ensemble >= max(members) + 0.05, (ensemble, members)
