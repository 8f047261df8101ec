"""`dustcourse check`: the student's own run of an exercise's public tests.

Checked on the released warm-up as a student gets it: left blank, every autograded
question fails with its message; filled with the instructor's answers, all pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from dustcourse.check import FAILED, MANUAL, PASSED, check
from dustcourse.cli import main
from dustcourse.submissions import make_submission

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "ps0-warmup"
RELEASE = ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

pytestmark = pytest.mark.slow


def grade_ids(nb: nbformat.NotebookNode, *, code: bool) -> list[str]:
    """Grade ids of the graded cells: autograded code cells, or hand-graded markdown."""
    return [
        c.metadata.nbgrader["grade_id"] for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and (c.cell_type == "code") == code
    ]


@pytest.fixture(scope="module")
def exercise(tmp_path_factory) -> Path:
    """A student's copy of the released exercise folder (notebook and data/)."""
    folder = tmp_path_factory.mktemp("student") / ASSIGNMENT
    shutil.copytree(RELEASE.parent, folder)
    return folder


def write(folder: Path, name: str, nb: nbformat.NotebookNode) -> Path:
    path = folder / name
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def blank_report(exercise):
    return check(exercise / RELEASE.name)


@pytest.fixture(scope="module")
def solved_report(exercise):
    return check(write(exercise, "solved.ipynb", make_submission(RELEASE, SOURCE)))


def test_blank_notebook_fails_every_question_with_its_message(blank_report):
    released = nbformat.read(RELEASE, as_version=4)
    autograded, manual = grade_ids(released, code=True), grade_ids(released, code=False)
    assert autograded and blank_report.status() == {
        **dict.fromkeys(autograded, FAILED), **dict.fromkeys(manual, MANUAL)
    }
    for result in blank_report.failed:
        assert "NotImplementedError" in result.message, result
        assert "is not defined" in result.message, result  # the check's own error
    assert not blank_report.ok
    text = str(blank_report)
    assert f"0 of {len(autograded)} autograded checks pass" in text
    assert "not answered yet" in text


def test_solved_notebook_passes_every_question(solved_report):
    released = nbformat.read(RELEASE, as_version=4)
    autograded = grade_ids(released, code=True)
    assert {r.grade_id for r in solved_report.results if r.status == PASSED} == set(autograded)
    assert solved_report.ok and not solved_report.failed
    points = sum(c.metadata.nbgrader.get("points", 0) for c in released.cells
                 if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")
    assert f"({points:g} of {points:g} points)" in str(solved_report)


def test_check_does_not_modify_the_notebook(exercise, blank_report):
    assert (exercise / RELEASE.name).read_bytes() == RELEASE.read_bytes()


def test_cli_prints_the_assert_message_and_exits_nonzero(exercise):
    """A wrong answer and an edited test cell: both named, the rest still checked."""
    nb = make_submission(RELEASE, SOURCE, {"q1_figures_per_article": "figures_per_article = 3"})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q2_implied_rate_tests":
            cell.source = "assert True"
    path = write(exercise, "wrong.ipynb", nb)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines()
             if line.startswith((PASSED.upper(), FAILED.upper()))}
    assert lines["q1_figures_per_article_tests"].startswith("FAILED")
    assert "should be a pandas Series" in lines["q1_figures_per_article_tests"]
    assert lines["q2_implied_rate_tests"].startswith("FAILED")
    assert "read-only cell was changed" in lines["q2_implied_rate_tests"]
    assert lines["q4_usd_figures_tests"].startswith("PASSED")


def test_cli_exits_zero_when_every_check_passes(exercise, solved_report):
    result = CliRunner().invoke(main, ["check", str(exercise / "solved.ipynb")])
    assert result.exit_code == 0, result.output
    assert "All public checks pass" in result.output
    assert "FAILED" not in result.output


def test_check_command_has_help_with_an_example():
    result = CliRunner().invoke(main, ["check", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "dustcourse check" in result.output
