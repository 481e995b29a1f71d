"""Behaviour: a model trained a few epochs on a clearly learnable set beats the label prior.

Not a speed test: the margin is what matters. Data: the project's generator
(5 classes, 300 training and 100 eval videos) through the Transform
computation (`transform_videos` with the training split's per-dimension
statistics, as Transform's analyzers compute them), then the Trainer's own
`train_model` with early stopping on eval GAP@20.
"""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from trainer import sampling, training
from trainer.config import TrainingConfig
from trainer.preprocessing import frame_statistics, transformed_arrays
from yt8m import eval_util, features, synthetic


@pytest.fixture(scope='module')
def learnable(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('learnable') / 'data')
    synthetic.generate(root, 400, seed=5, top_classes=5, validate_fraction=0.25,
                       test_fraction=0.0)
    train = transformed_arrays(sorted(glob.glob(os.path.join(root, 'train*'))))
    evaluation = transformed_arrays(sorted(glob.glob(os.path.join(root, 'validate*'))))
    mean, std = frame_statistics(train[0], train[1])
    return ((train[0] - mean) / std, train[1], train[2]), \
        ((evaluation[0] - mean) / std, evaluation[1], evaluation[2])


def _datasets(learnable, batch_size):
    (x, n, y), (ex, en, ey) = learnable

    def sample(inputs, labels):
        inputs[features.FRAMES] = sampling.sample_with_replacement(
            inputs[features.FRAMES], inputs[features.NUM_FRAMES])
        return inputs, labels

    train = (tf.data.Dataset.from_tensor_slices(({features.FRAMES: x, features.NUM_FRAMES: n}, y))
             .shuffle(len(x), seed=0).repeat().batch(batch_size).map(sample))
    evaluation = tf.data.Dataset.from_tensor_slices(
        ({features.FRAMES: ex, features.NUM_FRAMES: en}, ey)).batch(batch_size)
    return train, evaluation


@pytest.mark.parametrize('family', ['dbof', 'netvlad'])
def test_a_few_epochs_beat_the_label_prior_by_far(learnable, family):
    (_, _, train_labels), (_, _, eval_labels) = learnable
    prior = np.tile(train_labels.mean(0), (len(eval_labels), 1))
    prior_gap = eval_util.gap_at_k(prior, eval_labels)
    config = TrainingConfig(family=family, preset='small', batch_size=32,
                            train_examples=8 * len(train_labels), patience=3)
    model, _, summary = training.train_model(config, *_datasets(learnable, 32))
    assert summary['best_eval_gap'] > prior_gap + 0.15, (summary['best_eval_gap'], prior_gap)
    # Predictions differ from video to video (a prior-only model's do not).
    (ex, en, _) = learnable[1]
    probabilities = model({features.FRAMES: ex, features.NUM_FRAMES: en}, training=False).numpy()
    assert probabilities.std(axis=0).max() > 0.05
    assert len({tuple(np.argsort(-p)[:3]) for p in probabilities}) > 3
