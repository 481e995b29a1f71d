"""LabelPrior executor: labels are checked and an empty train split fails clearly."""

import numpy as np
import pytest

from components.label_prior import executor as prior
from tests.records import make_record
from yt8m import features


def test_label_prior_rejects_out_of_range_labels_and_an_empty_train_split():
    assert prior.label_ids(make_record(b'ok', labels=(1, 5))) == [1, 5]
    with pytest.raises(ValueError, match=r"video b'bad': labels \[5000\] outside"):
        prior.label_ids(make_record(b'bad', labels=(1, 5000)))
    with pytest.raises(ValueError, match='train split holds no videos'):
        prior.frequencies_from_counts(np.zeros(features.NUM_CLASSES), 0)
