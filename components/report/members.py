"""The models a Report can list: one input slot each, shared by spec and executor.

Kept apart from `component.py` so the executor does not import its own
component (and through it the pipeline's configuration).
"""

from models.presets import FAMILIES

# Students a report has slots for (pipeline.options checks the pipeline asks
# for no more).
MAX_STUDENTS = 4
STUDENTS = tuple(f'student_{index}' for index in range(1, MAX_STUDENTS + 1))
# The ensembles: the first (members only: the teacher), the teacher of a
# second distillation round, and the final artifact.
FIRST_ENSEMBLE, FINAL_ENSEMBLE = 'ensemble', 'final'
ENSEMBLES = (FIRST_ENSEMBLE, 'ensemble_1', FINAL_ENSEMBLE)
# In the order the report lists them: the floor, members, teacher, students, final.
MEMBER_NAMES = (('prior',) + tuple(FAMILIES) + (FIRST_ENSEMBLE,) + STUDENTS
                + ENSEMBLES[1:])
