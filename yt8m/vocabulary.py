"""Readable class names for the 3862 YouTube-8M (2018) classes.

Why: predictions are class indices; people (and reports) want names. The
vocabulary is packaged with the project (`yt8m/data/vocabulary.csv`, see
its ATTRIBUTION.md) so nothing outside the installed package is read.
"""
import csv
import functools
import importlib.resources
import io
from typing import List, Tuple

from yt8m import features


@functools.lru_cache(maxsize=1)
def _names() -> Tuple[str, ...]:
    text = (importlib.resources.files('yt8m') / 'data' / 'vocabulary.csv'
            ).read_text(encoding='utf-8')
    names = [''] * features.NUM_CLASSES
    for row in csv.DictReader(io.StringIO(text, newline='')):
        index = int(row['Index'])
        if 0 <= index < features.NUM_CLASSES:
            names[index] = row['Name'].strip()
    return tuple(name or f'class {i}' for i, name in enumerate(names))


def load_vocabulary() -> List[str]:
    """Class index -> Name; `class {i}` where the vocabulary has no name."""
    return list(_names())
