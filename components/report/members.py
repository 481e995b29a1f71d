"""The models a Report can list: one input slot each, shared by spec and executor.

Kept apart from `component.py` so the executor does not import its own
component (and through it the pipeline's configuration).
"""

from models.presets import FAMILIES

# Distillation levels a report has slots for (pipeline.configs checks the
# pipeline asks for no more).
MAX_STUDENTS = 3
MEMBER_NAMES = ('prior',) + tuple(FAMILIES) + ('ensemble',) + tuple(
    f'student_{level}' for level in range(1, MAX_STUDENTS + 1))
