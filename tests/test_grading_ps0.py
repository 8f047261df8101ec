"""Does the warm-up assignment grade as it should, through real nbgrader runs?

One autograde run grades a small class: the instructor's solution, the untouched
student version, typical wrong answers, and submissions that try to break grading
(those robustness cases do not depend on the assignment, so they live here only).
"""

from __future__ import annotations

import json

import nbformat
from conftest import ExerciseContract
from nbgrader.validator import Validator

from dustcourse.submissions import make_submission

ASSIGNMENT = "ps0-warmup"
AUTOGRADED = {
    "q1_figures_per_article_tests": 1,
    "q2_implied_rate_tests": 2,
    "q3_land_m2_tests": 1,
    "q3_error_factor_tests": 1,
    "q4_usd_figures_tests": 2,
}
MANUAL = {"q5_reflection": 2}

# Typical wrong answers, each cell as a student would write it.
WRONG = {
    # dollars per yuan instead of yuan per dollar
    "inverted_rate": {
        "q2_implied_rate": (
            'pair = figures[figures["pair"] == "nc_gross_by_sep7"].set_index("unit")\n'
            'implied_rate = float(pair.loc["USD", "value"]) / float(pair.loc["yuan", "value"])'
        )
    },
    # one mu taken as the whole plot, and the error factor turned upside down
    "forgot_five_mu": {
        "q3_land_area": (
            "M2_PER_MU = 10_000 / 15\n"
            "land_m2 = M2_PER_MU\n"
            "error_factor = 3.3 * 1_000_000 / land_m2"
        )
    },
    # the values sorted as text, not as numbers
    "text_sort": {
        "q4_usd_figures": (
            'usd_figures = figures[figures["unit"] == "USD"].sort_values("value", ascending=False)'
        )
    },
    # counts of all rows instead of per article
    "total_count": {"q1_figures_per_article": "figures_per_article = len(figures)"},
}
EXPECTED_LOSS = {
    "inverted_rate": {"q2_implied_rate_tests"},
    "forgot_five_mu": {"q3_land_m2_tests", "q3_error_factor_tests"},
    "text_sort": {"q4_usd_figures_tests"},
    "total_count": {"q1_figures_per_article_tests"},
}


class TestContract(ExerciseContract):
    """The contract, and submissions that try to break grading."""

    ASSIGNMENT = ASSIGNMENT
    AUTOGRADED = AUTOGRADED
    WRONG = WRONG
    EXPECTED_LOSS = EXPECTED_LOSS
    TIMEOUT = 10  # the endless loop stops here
    SOME_SUBMISSIONS_FAIL = True  # the corrupt file

    @classmethod
    def submit_more(cls, course) -> None:
        release, source = course.release(ASSIGNMENT), course.source(ASSIGNMENT)

        # A student who deleted a test cell and an answer cell: both come back, the
        # deleted answer scores nothing, the rest is graded.
        nb = make_submission(release, source)
        nb.cells = [
            c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id")
            not in {"q1_figures_per_article_tests", "q4_usd_figures"}
        ]
        course.submit("deleted_cells", ASSIGNMENT, nb)

        # A student who rewrote a locked test cell to pass: the test is restored.
        nb = make_submission(release, source, {"q2_implied_rate": "implied_rate = 1.5"})
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "q2_implied_rate_tests":
                cell.source = "assert True"
        course.submit("edited_test", ASSIGNMENT, nb)

        # An endless loop in one answer: that cell times out, the others are graded.
        course.submit("endless_loop", ASSIGNMENT, make_submission(
            release, source, {"q1_figures_per_article": "while True:\n    pass"}))

        # A file that is not a notebook at all.
        course.submit("corrupt", ASSIGNMENT, b'{"cells": [ this is not json')

    def test_deleted_cells_are_restored_and_graded(self, course):
        scores = course.scores("deleted_cells", ASSIGNMENT)
        expected = dict(AUTOGRADED, q4_usd_figures_tests=0)  # the answer was deleted
        assert {k: scores[k] for k in AUTOGRADED} == expected

    def test_edited_test_cell_is_overwritten(self, course):
        scores = course.scores("edited_test", ASSIGNMENT)
        assert scores["q2_implied_rate_tests"] == 0
        assert sum(scores[k] for k in AUTOGRADED) == sum(AUTOGRADED.values()) - 2

    def test_endless_loop_times_out_and_loses_only_that_answer(self, course):
        scores = course.scores("endless_loop", ASSIGNMENT)
        expected = dict(AUTOGRADED, q1_figures_per_article_tests=0)
        assert {k: scores[k] for k in AUTOGRADED} == expected

    def test_corrupt_submission_is_reported_and_others_graded(self, course):
        result = course.autograde_result
        assert result.returncode != 0, "nbgrader should report the failed submission"
        assert "for student 'corrupt'" in result.stdout + result.stderr
        autograded = course.root / "autograded"
        graded_students = {p.name for p in autograded.iterdir() if (p / ASSIGNMENT).is_dir()}
        assert {"perfect", "blank", *WRONG} <= graded_students

    def test_feedback_hides_no_solution_and_shows_scores(self, course):
        """The student-facing feedback shows the score and never the instructor's solution."""
        source = course.source(ASSIGNMENT)
        course.nbgrader("generate_feedback", ASSIGNMENT, "--student=blank")
        feedback = course.root / "feedback" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.html"
        html = feedback.read_text()
        assert "Score: 0.0 / 9.0" in html  # 7 autograded points + 2 for the reflection
        nb = nbformat.read(source, as_version=4)
        solution = next(c.source for c in nb.cells
                        if c.metadata.get("nbgrader", {}).get("grade_id") == "q2_implied_rate")
        assert "pair.loc" in solution and "pair.loc" not in html

    def test_source_passes_validation(self, course):
        """The instructor version passes every test (checked from Python, not the CLI)."""
        source = course.source(ASSIGNMENT)
        results = Validator().validate(str(source))
        assert results == {}, json.dumps(results, indent=1)[:2000]

    def test_release_fails_every_test(self, course):
        """`validate --invert`: the blank student version passes no test."""
        release = course.release(ASSIGNMENT)
        results = Validator(invert=True).validate(str(release))
        assert "passed" not in results, results
