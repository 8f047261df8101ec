"""Prepare a submission for execution, and record a submission that failed.

The coordinator (:mod:`.autograde`) calls :func:`prepare` for each submission before
handing it to a worker: nbgrader's own sanitising step writes the notebook to grade
into ``autograded/`` and registers the submission in the gradebook.
"""

from __future__ import annotations

import logging
import time
import warnings


def _coursedir(config):
    from .autograde import _coursedir as coursedir

    return coursedir(config)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _deduplicate_grade_ids():
    """nbgrader's DeduplicateIds, minus its crash on the copies it clears.

    nbgrader empties the metadata of a duplicated graded cell (``{}``) and a later
    step then fails on the missing ``grade_id``; removing the key instead leaves a
    plain cell, and the copy nbgrader keeps is graded as usual.
    """
    from nbgrader.preprocessors import DeduplicateIds

    class DeduplicateGradeIds(DeduplicateIds):
        def preprocess_cell(self, cell, resources, cell_index):
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
            return cell, resources

    return DeduplicateGradeIds


def _overwrite_cells():
    """nbgrader's OverwriteCells, minus its crash on a cell whose grade id was changed.

    nbgrader drops only the ``grade_id`` of a graded cell it does not know and a later
    step then fails on the missing key, so the whole submission would score zero.
    Removing the cell's nbgrader metadata instead leaves a plain cell (an answer cell
    still runs the student's code), and the genuine test cell is added back from the
    gradebook as for a deleted cell.
    """
    from nbgrader.api import MissingEntry
    from nbgrader.preprocessors import OverwriteCells

    class OverwriteKnownCells(OverwriteCells):
        def preprocess_cell(self, cell, resources, cell_index):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is not None:
                try:
                    self.gradebook.find_source_cell(grade_id, self.notebook_id,
                                                    self.assignment_id)
                except MissingEntry:
                    self.log.warning("Cell %r is not in the gradebook: graded as a plain "
                                     "cell", grade_id)
                    del cell.metadata["nbgrader"]
                    return cell, resources
            return super().preprocess_cell(cell, resources, cell_index)

    return OverwriteKnownCells


def prepare(config, assignment: str, student: str) -> str | None:
    """nbgrader's sanitising step for one submission; the error text if it failed."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import DeduplicateIds, OverwriteCells
    from traitlets.config import Config

    cfg = Config(config)
    cfg.Autograde.autograde_preprocessors = []  # execution and scoring happen later
    fixed = {DeduplicateIds: _deduplicate_grade_ids(), OverwriteCells: _overwrite_cells()}
    cfg.Autograde.sanitize_preprocessors = [
        fixed.get(cls, cls)
        for cls in Autograde.class_traits()["sanitize_preprocessors"].default()
    ]
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.student_id = student
    converter = Autograde(coursedir=_coursedir(cfg), config=cfg)
    converter.force = True
    capture = _Capture()
    converter.log.addHandler(capture)
    try:
        converter.start()
    except Exception as exc:  # nbgrader raises after logging the per-student failure
        details = [m for m in capture.messages if "Traceback" in m or "Error" in m]
        last = (details[-1] if details else str(exc)).strip().splitlines()[-1]
        return f"could not prepare the submission: {last}"
    finally:
        converter.log.removeHandler(capture)
    return None


def _zero_scores(config, assignment: str, student: str) -> None:
    """Record a submission that could not be graded: every graded cell scores zero."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    coursedir = _coursedir(config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warning; harmless
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            submission = gb.add_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()


def _finish_failed(
    config, root, outcomes, pending, assignment, student, reason, final: bool = True
) -> None:
    from .autograde import STATUS_WORKER_FAILED, Outcome, _save_status, _scores
    from .execute import STATUS_ERROR

    _zero_scores(config, assignment, student)
    score, max_score = _scores(config, assignment, student)
    state = pending[student]
    outcomes[student] = Outcome(
        student, assignment, STATUS_ERROR if final else STATUS_WORKER_FAILED, reason,
        score, max_score, time.monotonic() - state["started"],
    )
    _save_status(root, assignment, student, state["fingerprint"] if final else "",
                 outcomes[student])
