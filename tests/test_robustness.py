"""The robustness run (issue 20), through real `dustcourse grade autograde` runs, sandbox on.

ps0's class: the solution and correct answers in other idioms keep full marks in both
runs, a typed-numbers submission (every answer a constant copied from the solution's
output) loses every data-following question, a wrong answer loses its points in the
normal run already. A second course checks the mechanism's edges: a question exempt by
its metadata, a hidden test the solution fails on the perturbed data (ignored, the
instructor told), the "flag" setting, the command line and --no-robustness.
"""

from __future__ import annotations

import json
import subprocess

import nbformat
import pytest
from conftest import ROOT, VENV_BIN, Course, nbgrader_env
from exercise_fixtures import ROBUST_SECRET as SECRET
from exercise_fixtures import grading_secret
from test_grading_ps0 import AUTOGRADED, CORRECT
from typed_answers import typed_answers

ASSIGNMENT = "ps0-warmup"


@pytest.fixture(scope="module")
def secret_env():
    with grading_secret():
        yield


@pytest.fixture(scope="module")
def ps0_class(robust_ps0_class, secret_env):
    """ps0 graded with the robustness run (conftest: shared with the Dask tests); the
    module's tests see the secret it was graded with."""
    return robust_ps0_class


def autograded(course, student):
    scores = course.scores(student, ASSIGNMENT)
    return {k: scores[k] for k in AUTOGRADED}


@pytest.mark.parametrize("student", ["perfect", *sorted(CORRECT)])
def test_correct_answers_keep_full_marks_in_both_runs(ps0_class, student):
    course, outcomes = ps0_class
    assert outcomes[student].status == "ok", outcomes[student].reason
    assert outcomes[student].robust_only == []
    assert autograded(course, student) == AUTOGRADED


def test_typed_numbers_lose_every_data_following_question(ps0_class):
    course, outcomes = ps0_class
    assert outcomes["typed"].robust_only == sorted(AUTOGRADED)  # every ps0 test follows data
    assert autograded(course, "typed") == dict.fromkeys(AUTOGRADED, 0)
    record = json.loads((course.root / "grading" / "status" / ASSIGNMENT / "typed.json")
                        .read_text())
    assert record["outcome"]["robust_only"] == sorted(AUTOGRADED)


def test_typed_numbers_feedback_says_the_answer_does_not_follow_the_data(ps0_class):
    course, _ = ps0_class
    nb = nbformat.read(course.root / "autograded" / "typed" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                       as_version=4)
    notes = {c.metadata["nbgrader"]["grade_id"]: c.outputs for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id") in AUTOGRADED}
    for grade_id, outputs in notes.items():
        assert any(o.get("ename") == "AnswerDoesNotFollowData"
                   and "does not follow the data" in o.get("evalue", "") for o in outputs), grade_id


def test_wrong_answer_loses_its_points_and_blank_scores_zero(ps0_class):
    course, outcomes = ps0_class
    assert autograded(course, "value_unit_only") == dict(AUTOGRADED, q4_usd_figures_tests=0)
    assert outcomes["value_unit_only"].robust_only == []  # it failed the normal run already
    assert autograded(course, "blank") == dict.fromkeys(AUTOGRADED, 0)
    assert outcomes["blank"].robust_only == []


def test_solution_run_is_cached(ps0_class, monkeypatch):
    """A second grading of the class does not run the solution again."""
    from dustcourse.grading import execute
    from dustcourse.grading.autograde import _coursedir, load_config
    from dustcourse.grading.robustness import setup
    from dustcourse.grading.sandbox import Limits

    course, _ = ps0_class
    cache = course.root / "grading" / "robustness" / f"{ASSIGNMENT}.json"
    assert json.loads(cache.read_text())["ignored"] == {ASSIGNMENT: []}

    def refuse(*args, **kwargs):
        raise AssertionError("the solution ran again")

    monkeypatch.setattr(execute, "execute_notebook", refuse)
    config = load_config(course.root)
    assert _coursedir(config).root == str(course.root)
    run = setup(course.root, config, ASSIGNMENT, Limits(), sandbox=True)
    assert run.ignored == {ASSIGNMENT: set()} and run.tests[ASSIGNMENT] == set(AUTOGRADED)


# --- the mechanism's edges -------------------------------------------------------------

def _edit_source(course: Course) -> None:
    """q1's hidden test compares with a constant (the solution fails it on perturbed data),
    q3_land_m2 says it does not follow the data; the course flags instead of zeroing."""
    path = course.source(ASSIGNMENT)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "q1_figures_per_article_tests":
            cell.source += "\nassert len(figures) == 88, 'a constant that describes the data'\n"
        if grade_id == "q3_land_m2_tests":
            cell.metadata["dustcourse"] = {"follows_data": False, "why": "for this test"}
    nbformat.write(nb, path)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write('\nc.Robustness.on_failure = "flag"\n')


def _cli(course: Course, *args: str) -> subprocess.CompletedProcess:
    env = nbgrader_env(course.home) | {"DUSTCOURSE_GRADING_SECRET": SECRET}
    return subprocess.run(
        [str(VENV_BIN / "dustcourse"), "grade", "autograde", ASSIGNMENT, "--root",
         str(course.root), "-j", "2", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def edge_course(tmp_path_factory, secret_env):
    root = tmp_path_factory.mktemp("robust-edges") / "course"
    root.mkdir()
    course = Course(root)
    _edit_source(course)
    course.generate(ASSIGNMENT)
    course.submit_answers("typed", ASSIGNMENT, typed_answers(course.source(ASSIGNMENT)))
    result = _cli(course)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return course, result


def test_exempt_and_ignored_questions_keep_their_points_and_the_rest_is_flagged(edge_course):
    from nbgrader.api import Gradebook

    course, _ = edge_course
    # flag: every score kept, the data-following questions marked for review
    assert autograded(course, "typed") == AUTOGRADED
    record = json.loads((course.root / "grading" / "status" / ASSIGNMENT / "typed.json")
                        .read_text())
    flagged = {"q2_implied_rate_tests", "q3_error_factor_tests", "q4_usd_figures_tests"}
    assert set(record["outcome"]["robust_only"]) == flagged
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "typed")
        review = {g.name for g in nb.grades if g.needs_manual_grade}
    assert flagged <= review and not review & {"q1_figures_per_article_tests",
                                               "q3_land_m2_tests"}


def test_instructor_is_told_which_rule_or_test_is_broken(edge_course):
    _, result = edge_course
    assert "q1_figures_per_article_tests" in result.stdout
    assert "the solution fails" in result.stdout
    assert "q3_land_m2_tests" not in result.stdout  # exempt, nothing to tell
    assert "failed only the robustness run" in result.stdout


def test_no_robustness_switches_the_run_off(edge_course):
    course, _ = edge_course
    result = _cli(course, "--force", "--no-robustness")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads((course.root / "grading" / "status" / ASSIGNMENT / "typed.json")
                        .read_text())
    assert record["outcome"]["robust_only"] == []
    assert "Robustness run" not in result.stdout


def test_unknown_on_failure_setting_is_refused():
    from traitlets.config import Config

    from dustcourse.grading.robustness import _on_failure

    config = Config()
    config.Robustness.on_failure = "warn"
    with pytest.raises(ValueError, match="zero"):
        _on_failure(config)


def test_report_counts_answers_that_failed_only_the_robustness_run(ps0_class, tmp_path):
    import csv

    from dustcourse.grading.report import build_report

    course, _ = ps0_class
    report = build_report(course.root, ASSIGNMENT, tmp_path)
    assert report.counts["robust_only"] == len(AUTOGRADED)
    assert report.counts["students_with_robust_only"] == 1
    html = report.html.read_text()
    assert "Failed only the robustness run" in html  # the item table's column
    assert "failed only the robustness run (answer does not follow the data)" in html
    with (tmp_path / "students.csv").open() as handle:
        by_student = {row["student"]: row for row in csv.DictReader(handle)}
    assert by_student["typed"]["robust_only"] == str(len(AUTOGRADED))
    assert by_student["perfect"]["robust_only"] == "0"


def test_table_without_rules_stops_the_command_with_a_message(edge_course, tmp_path):
    course, _ = edge_course
    for path in (ROOT / "data").iterdir():
        if path.is_file():
            (tmp_path / path.name).write_bytes(path.read_bytes())
    rules = json.loads((tmp_path / "perturbations.json").read_text())
    del rules["tables"]["article_figures"]
    (tmp_path / "perturbations.json").write_text(json.dumps(rules))
    env = nbgrader_env(course.home) | {"DUSTCOURSE_GRADING_SECRET": SECRET,
                                       "DUSTCOURSE_DATA": str(tmp_path)}
    result = subprocess.run(
        [str(VENV_BIN / "dustcourse"), "grade", "autograde", ASSIGNMENT, "--root",
         str(course.root), "--force"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 1
    assert "no perturbation rules for table 'article_figures'" in result.stderr
    assert "--no-robustness" in result.stderr and "Traceback" not in result.stderr
