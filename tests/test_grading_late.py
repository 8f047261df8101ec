"""Late submissions: our autograder applies nbgrader's late-submission penalties as stock
`nbgrader autograde` does, whether a submission is new to the gradebook or regraded.

(Batched recording once crashed on the first grading of a late submission: its
notebooks were not yet written when nbgrader's plugin read them.) A file of its own,
so pytest-xdist can run it beside the heavy grading fixtures.
"""

from __future__ import annotations

from hostile_class import ASSIGNMENT

from dustcourse.grading.autograde import autograde


def test_late_penalties_are_stock_nbgrader_s_on_first_grading_and_regrading(tmp_path):
    """A late submission loses what nbgrader's late-submission plugin takes ('zero':
    everything), the first time it is graded (a new gradebook entry) and when regraded;
    an on-time one loses nothing. Stock `nbgrader autograde` gives the same."""
    from datetime import datetime

    from conftest import Course
    from nbgrader.api import Gradebook

    due = datetime(2026, 11, 22, 12, 0)  # Course.submit stamps 2026-11-23 09:00 UTC
    runs = {}
    for name in ("ours", "stock"):
        course = Course.fresh(tmp_path / name / "course")
        with open(course.root / "nbgrader_config.py", "a") as config:
            config.write("\nc.LateSubmissionPlugin.penalty_method = 'zero'\n")
        course.generate(ASSIGNMENT)
        with Gradebook(course.db_url) as gb:
            gb.update_or_create_assignment(ASSIGNMENT, duedate=due)
        course.submit_answers("late", ASSIGNMENT)
        course.submit_answers("on_time", ASSIGNMENT)
        (course.root / "submitted" / "on_time" / ASSIGNMENT / "timestamp.txt").write_text(
            "2026-11-21 09:00:00.000000 UTC\n")
        runs[name] = course

    def penalties(course):
        with Gradebook(course.db_url) as gb:
            return {student: [(nb.score, nb.late_submission_penalty)
                              for nb in gb.find_submission(ASSIGNMENT, student).notebooks]
                    for student in ("late", "on_time")}

    assert runs["stock"].autograde(ASSIGNMENT).returncode == 0
    stock = penalties(runs["stock"])
    assert stock["late"][0][0] > 0 and stock["late"][0][1] == stock["late"][0][0]
    assert stock["on_time"][0][1] is None
    for force in (False, True):  # a new submission, then the one already recorded
        outcomes = autograde(runs["ours"].root, ASSIGNMENT, jobs=1, force=force,
                             sandbox=False, robustness=False)
        assert {o.status for o in outcomes} == {"ok"}, outcomes
        assert penalties(runs["ours"]) == stock, force
