"""`dustcourse check`: the student's own run of an exercise's public tests.

Checked on the released warm-up as a student gets it: left blank, every autograded
question fails with its message; filled with the instructor's answers, all pass.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from dustcourse.check import DATA_PATH, FAILED, MANUAL, PASSED, RUNNING, CheckReport, check
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


def test_unanswered_question_names_the_variable_to_define(blank_report):
    for result in blank_report.failed:
        assert "is not defined: run your answer cell, and keep the variable name" in (
            result.message), result
    assert not blank_report.problems


def test_missing_data_folder_names_each_file_and_where_it_belongs(tmp_path):
    """Without data/, the report says which file is missing and where it should be,
    before the questions (which all fail with it)."""
    folder = tmp_path / ASSIGNMENT
    folder.mkdir()
    path = write(folder, RELEASE.name, make_submission(RELEASE, SOURCE))
    report = check(path)
    wanted = sorted({m.group(1) for c in nbformat.read(RELEASE, as_version=4).cells
                     for m in DATA_PATH.finditer(c.source)})
    assert wanted, "the warm-up reads its tables from data/"
    for name in wanted:
        assert any(name in p and str(folder / name) in p for p in report.problems), (
            name, report.problems)
    assert not report.ok
    text = str(report)
    assert text.index("PROBLEM") < text.index("FAILED")
    assert "FileNotFoundError" not in text  # said once, as the missing file


def test_missing_module_file_is_named_with_where_it_belongs(tmp_path):
    """A module shipped beside the notebook (ps3 and ps4 import boxoffice.py) that is
    missing is named, with its path; installed packages are not asked for."""
    from dustcourse.check import _missing_data

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import pandas as pd\nfrom boxoffice import run_series\nimport numpy")])
    path = tmp_path / "ps.ipynb"
    assert _missing_data(path, nb) == [
        f"the file boxoffice.py is missing: it should be at {tmp_path / 'boxoffice.py'}, "
        "beside the notebook (keep the files of the exercise download together)"]
    (tmp_path / "boxoffice.py").write_text("")
    assert _missing_data(path, nb) == []


def test_check_called_inside_the_checked_notebook_does_not_recurse(exercise):
    """A check() cell in the notebook itself: the run it starts skips that call."""
    nb = make_submission(RELEASE, SOURCE)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from dustcourse.check import check\n"
        "_inner = check('self_check.ipynb')\n"
        "assert _inner.nested and not _inner.results, 'the check ran again inside itself'\n"
        "print(_inner)"))
    path = write(exercise, "self_check.ipynb", nb)
    report = check(path)
    assert report.ok and not report.problems, str(report)
    assert RUNNING not in os.environ  # only the kernels it starts see it
    assert "Not checked here" in str(CheckReport(path, nested=True))
