"""The instructor's parallel, sandboxed autograder (dustcourse.grading).

One class of ps0 submissions, including hostile ones (tests/hostile_class.py), is
graded once by our pipeline (2 local workers, sandbox on) and, for the well-behaved
part, once by stock serial `nbgrader autograde`: the scores must be the same, the
hostile notebooks must get a clear status and score, and nothing outside their
sandbox may change.
"""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from hostile_class import ASSIGNMENT, LIMITS, tree_hash

from dustcourse.grading.autograde import autograde


@pytest.fixture(scope="module")
def graded(hostile_class):
    return hostile_class


def test_scores_of_well_behaved_submissions(graded):
    _, outcomes, *_ = graded
    assert (outcomes["perfect"].score, outcomes["perfect"].max_score) == (7, 9)
    assert outcomes["perfect"].status == "ok"
    assert outcomes["blank"].score == 0
    assert outcomes["inverted_rate"].score == 5


def test_same_scores_as_stock_nbgrader(graded, tmp_path):
    """Stock `nbgrader autograde` on the same submissions gives the same cell scores."""
    from conftest import Course

    course, *_ = graded
    stock_root = tmp_path / "course"
    stock_root.mkdir()
    stock = Course(stock_root)
    stock.generate(ASSIGNMENT)
    for student in ("perfect", "blank", "inverted_rate"):
        shutil.copytree(course.root / "submitted" / student, stock_root / "submitted" / student)
    stock.autograde(ASSIGNMENT)
    for student in ("perfect", "blank", "inverted_rate"):
        assert course.scores(student, ASSIGNMENT) == stock.scores(student, ASSIGNMENT), student


@pytest.mark.parametrize("student", ["writes_gradebook", "edits_solutions", "reads_hidden_tests",
                                     "network", "fork_bomb", "huge_output"])
def test_sandboxed_harm_fails_quietly_and_the_rest_is_graded(graded, student):
    """The harmful code is stopped by the sandbox; the answer after it still counts."""
    _, outcomes, *_ = graded
    outcome = outcomes[student]
    assert outcome.status == "ok", outcome
    expected = 6 if student == "network" else 7  # the network error fails question 1
    assert outcome.score == expected, outcome


def test_course_files_are_intact(graded):
    course, _, solutions_before, _ = graded
    assert tree_hash(course.root / "solutions") == solutions_before
    assert course.scores("perfect", ASSIGNMENT)  # the gradebook still opens and answers


@pytest.mark.parametrize("student,status", [
    ("kills_kernel", "kernel_died"), ("sys_exit", "ok"), ("ignores_interrupt", "timeout"),
    ("memory_bomb", "ok"),
])
def test_crashing_submissions_get_a_status_and_lose_only_what_they_should(
    graded, student, status
):
    _, outcomes, *_ = graded
    outcome = outcomes[student]
    assert outcome.status == status, outcome
    if status == "ok":  # sys.exit and MemoryError are ordinary errors in one cell
        assert outcome.score == 6
    else:  # nothing after the crash ran, and unexecuted tests score nothing
        assert outcome.score == 0
        assert outcome.reason


def test_tampered_cells_are_restored_from_the_gradebook(graded):
    """Duplicated cells, moved cells, edited points and edited tests change nothing."""
    course, outcomes, *_ = graded
    assert outcomes["tampered_cells"].status == "ok"
    assert outcomes["tampered_cells"].max_score == 9
    assert course.scores("tampered_cells", ASSIGNMENT) == course.scores("perfect", ASSIGNMENT)


@pytest.mark.parametrize("student", ["shadows_abs", "patches_builtins"])
def test_redefining_what_the_tests_use_earns_nothing(graded, student):
    """abs and isinstance redefined or monkeypatched: the wrong rate still fails, and
    the first answer, written after the redefinitions, still counts."""
    course, outcomes, *_ = graded
    assert (outcomes[student].status, outcomes[student].score) == ("ok", 5), outcomes[student]
    assert course.scores(student, ASSIGNMENT)["q2_implied_rate_tests"] == 0


def test_changed_grade_ids_neither_earn_nor_lose_points(graded):
    """A renamed test cell is replaced by the real test; a renamed answer still counts."""
    course, outcomes, *_ = graded
    renamed_test = outcomes["renamed_test_id"]
    assert (renamed_test.status, renamed_test.score, renamed_test.max_score) == ("ok", 6, 9)
    assert course.scores("renamed_test_id", ASSIGNMENT)["q1_figures_per_article_tests"] == 0
    renamed_answer = outcomes["renamed_answer_id"]
    assert (renamed_answer.status, renamed_answer.score) == ("ok", 7), renamed_answer


def test_huge_notebook_is_graded(graded):
    course, outcomes, *_ = graded
    submitted = course.root / "submitted" / "huge_notebook" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert submitted.stat().st_size > 45 * 1024**2
    assert (outcomes["huge_notebook"].status, outcomes["huge_notebook"].score) == ("ok", 7)


def test_grading_refuses_to_run_without_the_sandbox(graded, monkeypatch):
    """No bubblewrap: nothing is graded, and the error says how to proceed."""
    import shutil as shutil_module

    from dustcourse.grading import sandbox
    from dustcourse.grading.sandbox import SandboxUnavailable

    course, *_ = graded
    sandbox.check_sandbox.cache_clear()
    real_which = shutil_module.which
    monkeypatch.setattr(sandbox.shutil, "which",
                        lambda name: None if name == "bwrap" else real_which(name))
    before = tree_hash(course.root / "autograded")
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        autograde(course.root, ASSIGNMENT, force=True, limits=LIMITS)
    assert tree_hash(course.root / "autograded") == before
    sandbox.check_sandbox.cache_clear()


def test_notebook_of_another_assignment_scores_zero(graded):
    _, outcomes, *_ = graded
    outcome = outcomes["other_assignment"]
    assert outcome.score == 0 and outcome.max_score == 9, outcome


@pytest.mark.parametrize("student", ["corrupt", "empty_file", "wrong_name", "not_utf8"])
def test_unreadable_or_missing_notebooks_score_zero_with_a_reason(graded, student):
    _, outcomes, *_ = graded
    outcome = outcomes[student]
    assert outcome.status == "error"
    assert outcome.score == 0 and outcome.max_score == 9
    assert outcome.reason


def test_batch_time_stays_bounded(graded):
    *_, wall = graded
    assert wall < 300


def test_rerun_skips_unchanged_submissions_and_regrades_changed_ones(graded):
    course, outcomes, *_ = graded
    path = course.root / "submitted" / "blank" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += " "  # touch the submission
    nbformat.write(nb, path)
    again = {o.student: o for o in autograde(course.root, ASSIGNMENT, jobs=2, limits=LIMITS)}
    assert again["blank"].status == "ok"
    assert all(o.status == "skipped" for s, o in again.items() if s != "blank")
    assert again["perfect"].score == outcomes["perfect"].score


def test_status_files_record_every_student(graded):
    course, outcomes, *_ = graded
    folder = course.root / "grading" / "status" / ASSIGNMENT
    recorded = {
        p.stem: json.loads(p.read_text())["outcome"]["status"] for p in folder.glob("*.json")
    }
    assert set(recorded) == set(outcomes)


def test_export_has_a_row_per_question_with_status_and_reason(graded, tmp_path):
    import csv

    from dustcourse.grading.export import export

    course, outcomes, *_ = graded
    questions, totals = export(course.root, ASSIGNMENT, tmp_path)
    rows = list(csv.DictReader(questions.open()))
    by_key = {(r["student"], r["question"]): r for r in rows}
    assert len(rows) == len(outcomes) * 6  # five autograded tests and one reflection
    row = by_key[("inverted_rate", "q2_implied_rate_tests")]
    assert (row["score"], row["max_score"], row["status"]) == ("0", "2", "failed")
    assert "yuan per US dollar" in row["reason"]  # the check's formative message
    assert by_key[("perfect", "q5_reflection")]["status"] == "needs_manual_grade"
    assert by_key[("ignores_interrupt", "q4_usd_figures_tests")]["status"] == "not_executed"
    total = {r["student"]: r for r in csv.DictReader(totals.open())}
    assert total["perfect"]["score"] == "7" and total["perfect"]["max_score"] == "9"
    assert total["corrupt"]["status"] == "error" and total["corrupt"]["reason"]


def test_feedback_shows_messages_but_never_hidden_tests(graded):
    from dustcourse.grading.feedback import generate_feedback

    course, *_ = graded
    paths = generate_feedback(course.root, ASSIGNMENT, ["inverted_rate", "perfect"])
    assert len(paths) == 2
    html = (course.root / "feedback" / "inverted_rate" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    text = html.read_text()
    assert "Score: 5.0 / 9.0" in text
    assert "did you divide dollars by yuan?" in text  # the failed check's message
    for secret in ("HIDDEN TESTS", "_expected", "_f.loc", "_true_m2", "_printed_m2"):
        assert secret not in text, secret


def test_a_worker_grades_from_the_kit_without_the_course_or_its_gradebook(graded):
    """What a (remote) worker returns comes from the kit and the submitted files alone:
    the course's gradebook is out of reach meanwhile, and the scores are those recorded."""
    import pickle

    from dustcourse.grading.autograde import load_config
    from dustcourse.grading.database import sqlite_file
    from dustcourse.grading.worker import _read_folder, build_kit, grade_submission

    course, *_ = graded
    kit = pickle.loads(pickle.dumps(build_kit(load_config(course.root), ASSIGNMENT)))
    files = _read_folder(course.root / "submitted" / "perfect" / ASSIGNMENT)
    gradebook = sqlite_file(course.db_url)
    away = gradebook.with_name("gradebook.db.away")
    gradebook.rename(away)
    try:
        result = pickle.loads(pickle.dumps(grade_submission(
            kit, "perfect", files, LIMITS, True, (str(course.root),))))
        assert not gradebook.exists()  # never opened (SQLite would have created it)
    finally:
        away.rename(gradebook)
    assert result.error is None and result.notebooks[ASSIGNMENT].status == "ok", result
    scores = {name: auto for name, (auto, _) in result.notebooks[ASSIGNMENT].grades.items()}
    assert scores == course.scores("perfect", ASSIGNMENT)
    assert f"{ASSIGNMENT}.ipynb" in result.files



def test_only_a_tasks_private_gradebook_skips_waiting_for_the_disk(tmp_path):
    """The worker's throwaway gradebook commits without syncing; a course's does not."""
    from sqlalchemy import create_engine, text

    from dustcourse.grading.worker import TASK_PREFIX, _unsynced_private_gradebooks

    _unsynced_private_gradebooks()

    def synchronous(folder) -> int:
        folder.mkdir()
        engine = create_engine(f"sqlite:///{folder / 'gradebook.db'}")
        try:
            with engine.connect() as connection:
                return connection.execute(text("PRAGMA synchronous")).scalar()
        finally:
            engine.dispose()

    assert synchronous(tmp_path / f"{TASK_PREFIX}abc") == 0  # OFF
    assert synchronous(tmp_path / "course") == 2  # FULL, SQLite's default


def test_a_task_that_never_returns_is_sent_again_then_recorded_as_failed():
    """A task whose result never comes (a hung worker, a lost message) does not hold the
    run for good: past its deadline it is sent again; lost twice, the submission is
    recorded as failed for now, and the next run grades it. (A task sent again that
    then succeeds: tests/test_grading_dask.py.)"""
    from concurrent.futures import Future

    from conftest import ROOT, Course

    from dustcourse.grading.executors import local_backend

    course = Course.fresh(ROOT / "_build" / "test-lost-task")
    course.generate(ASSIGNMENT)
    for student in ("a", "b"):
        course.submit_answers(student, ASSIGNMENT, {})
    backend = local_backend(jobs=2)
    real_submit, never = backend.pool.submit, []

    def submit(fn, kit, student, *args, **kwargs):
        if student == "b":
            never.append(Future())  # never finishes
            return never[-1]
        return real_submit(fn, kit, student, *args, **kwargs)

    backend.pool.submit = submit
    try:  # the deadline leaves a real task room on a loaded machine
        outcomes = autograde(course.root, ASSIGNMENT, limits=LIMITS, backend=backend,
                             task_deadline=20)
    finally:
        backend.close()
    assert len(never) == 2 and all(future.cancelled() for future in never)
    ok, lost = outcomes
    assert (ok.student, ok.status, ok.score) == ("a", "ok", 7)
    assert (lost.student, lost.status, lost.score) == ("b", "worker_failed", 0)
    assert "no result from the workers after 2 tries" in lost.reason
    again = autograde(course.root, ASSIGNMENT, limits=LIMITS)
    assert [(o.student, o.status, o.score) for o in again] == [
        ("a", "skipped", 7), ("b", "ok", 7)]
