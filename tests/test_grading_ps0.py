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
    # "keep all the columns": only value and unit kept (issue 20)
    "value_unit_only": {
        "q4_usd_figures": (
            'usd_figures = figures.loc[figures["unit"] == "USD", ["value", "unit"]].sort_values(\n'
            '    "value", key=pd.to_numeric, ascending=False)'
        )
    },
    # every column kept, but one of them filled with the wrong data
    "wrong_column_data": {
        "q4_usd_figures": (
            'usd_figures = figures[figures["unit"] == "USD"].sort_values(\n'
            '    "value", key=pd.to_numeric, ascending=False)\n'
            'usd_figures["as_printed"] = usd_figures["quantity"]'
        )
    },
}
EXPECTED_LOSS = {
    "inverted_rate": {"q2_implied_rate_tests"},
    "forgot_five_mu": {"q3_land_m2_tests", "q3_error_factor_tests"},
    "text_sort": {"q4_usd_figures_tests"},
    "total_count": {"q1_figures_per_article_tests"},
    "value_unit_only": {"q4_usd_figures_tests"},
    "wrong_column_data": {"q4_usd_figures_tests"},
}

# Correct answers in other idioms: full marks on the real data and in the robustness run.
CORRECT = {
    # loops and numpy instead of pandas methods; a DataFrame built from rows
    "loops_and_numpy": {
        "q1_figures_per_article": (
            "counts = {}\n"
            'for name in figures["article"]:\n'
            "    counts[name] = counts.get(name, 0) + 1\n"
            "figures_per_article = pd.Series(counts)"
        ),
        "q2_implied_rate": (
            "import numpy as np\n"
            'rows = figures[figures["pair"] == "nc_gross_by_sep7"]\n'
            'yuan = np.asarray(rows.loc[rows["unit"] == "yuan", "value"], dtype=float)[0]\n'
            'usd = np.asarray(rows.loc[rows["unit"] == "USD", "value"], dtype=float)[0]\n'
            "implied_rate = float(yuan / usd)"
        ),
        "q3_land_area": (
            "M2_PER_MU = 10_000 / 15\n"
            'values = dict(zip(figures["id"], figures["value"]))\n'
            'land_m2 = float(values["nc_land_rented_mu"]) * M2_PER_MU\n'
            'error_factor = float(values["nc_land_rented_km2"]) * 1e6 / land_m2'
        ),
        "q4_usd_figures": (
            'rows = [row for _, row in figures.iterrows() if row["unit"] == "USD"]\n'
            'rows.sort(key=lambda row: float(row["value"]), reverse=True)\n'
            "usd_figures = pd.DataFrame(rows)"
        ),
    },
    # groupby, query, numbers as numbers, another column order and a fresh index
    "other_order_and_index": {
        "q1_figures_per_article": 'figures_per_article = figures.groupby("article").size()',
        "q2_implied_rate": (
            'v = figures.set_index("id")["value"]\n'
            'implied_rate = float(v["nc_gross_by_sep7_yuan"]) / float(v["nc_gross_by_sep7_usd"])'
        ),
        "q3_land_area": (
            "M2_PER_MU = 10_000 / 15\n"
            "mu = float(figures.query(\"unit == 'mu'\")[\"value\"].iloc[0])\n"
            "km2 = float(figures.query(\"unit == 'km2'\")[\"value\"].iloc[0])\n"
            "land_m2 = mu * M2_PER_MU\n"
            "error_factor = km2 * 1_000_000 / land_m2"
        ),
        "q4_usd_figures": (
            'usd = figures[figures["unit"] == "USD"].copy()\n'
            'usd["value"] = pd.to_numeric(usd["value"])\n'
            'usd_figures = usd.sort_values("value", ascending=False).reset_index(drop=True)\n'
            "usd_figures = usd_figures[sorted(usd_figures.columns)]"
        ),
    },
}


class TestContract(ExerciseContract):
    """The contract, and submissions that try to break grading."""

    ASSIGNMENT = ASSIGNMENT
    AUTOGRADED = AUTOGRADED
    WRONG = WRONG
    EXPECTED_LOSS = EXPECTED_LOSS
    CORRECT = CORRECT
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
