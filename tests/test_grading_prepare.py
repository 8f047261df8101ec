"""Edited notebooks are graded on their answers (dustcourse.grading.prepare).

One class of ps0 submissions, each edited the way students and their tools edit
notebooks, is graded once by a real sandboxed `dustcourse` autograde run: cells
deleted, renamed, added or stripped of their nbgrader metadata, an old notebook format,
nbgrader metadata of older and newer schemas (the shapes of nbgrader's own test files
test-v0.ipynb, too-new.ipynb and test-no-metadata.ipynb), and the notebook of another
assignment. Honest answers keep their points, a deleted answer loses its question only,
tests always come from the gradebook, and every repair or failure is said in words.
A submission whose execution fails keeps its hand-graded answer pending in formgrader.
"""

from __future__ import annotations

import csv
import json
from concurrent.futures import Executor, Future

import nbformat
import pytest
from conftest import ROOT, Course
from hostile_class import LIMITS

from dustcourse.grading.autograde import autograde
from dustcourse.grading.executors import Backend, local_backend
from dustcourse.submissions import make_submission

ASSIGNMENT = "ps0-warmup"
OTHER = "ps1-articles-as-data"
FULL = 7  # autograded points of ps0 (and 2 for the reflection, graded by hand)
AUTOGRADED = {"q1_figures_per_article_tests": 1, "q2_implied_rate_tests": 2,
              "q3_land_m2_tests": 1, "q3_error_factor_tests": 1, "q4_usd_figures_tests": 2}
LOSE_WORKER = "# grading test: this task loses its worker"
RAW_ERRORS = ("KeyError", "Traceback", "nbgrader update", "could not prepare")


def _gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _strip(cell):
    cell.metadata.pop("nbgrader", None)
    return cell


def _schema(nb, version):
    """The notebook's nbgrader metadata in an older or newer schema."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        meta.pop("task", None)
        meta.pop("checksum", None)
        if version == 0:  # as in nbgrader's test-v0.ipynb: no schema, points as text
            meta.pop("schema_version", None)
            if not (meta.get("grade") or meta.get("solution")):
                cell.metadata.nbgrader = {"grade": False, "solution": False}
            if "points" in meta:
                meta["points"] = str(int(meta["points"]))
        else:
            meta["schema_version"] = version
    return nb


class _LosesMarkedTasks(Executor):
    """The real local pool, except that a task holding LOSE_WORKER fails as a task
    that killed its workers does on Dask (KilledWorker): the submission's fault."""

    def __init__(self, pool):
        self.pool = pool

    def submit(self, fn, kit, student, files, *args, **kwargs):
        if any(LOSE_WORKER.encode() in content for content in files.values()):
            future = Future()
            future.set_exception(type("KilledWorker", (Exception,), {})("lost its workers"))
            return future
        return self.pool.submit(fn, kit, student, files, *args, **kwargs)


def _submit_class(course: Course) -> None:
    release, source = course.generate(ASSIGNMENT)
    other_release, other_source = course.generate(OTHER)

    def nb(answers=None):
        return make_submission(release, source, answers)

    def without(*grade_ids):
        notebook = nb()
        notebook.cells = [c for c in notebook.cells if _gid(c) not in grade_ids]
        return notebook

    subs = {"perfect": nb(), "deleted_answer": without("q3_land_area"),
            "deleted_reflection": without("q5_reflection")}
    # the answer cell deleted, and the answer written in a new cell in its place
    notebook = nb()
    at = next(i for i, c in enumerate(notebook.cells) if _gid(c) == "q2_implied_rate")
    notebook.cells[at] = nbformat.v4.new_code_cell(notebook.cells[at].source)
    subs["answer_in_new_cell"] = notebook
    notebook = nb()
    for cell in notebook.cells:
        if _gid(cell) == "q3_land_area":
            cell.metadata.nbgrader["grade_id"] = "my_q3"
    subs["renamed_answer"] = notebook
    notebook = nb()
    notebook.cells = [_strip(c) for c in notebook.cells]
    subs["no_metadata"] = notebook  # as nbgrader's test-no-metadata.ipynb
    notebook = nb()
    notebook.cells = [_strip(c) if i % 2 else c for i, c in enumerate(notebook.cells)]
    subs["some_metadata"] = notebook
    # metadata stripped, a test rewritten to pass and a wrong answer: the test comes back
    notebook = nb({"q2_implied_rate": "implied_rate = 1.5"})
    for cell in notebook.cells:
        if _gid(cell) == "q2_implied_rate_tests":
            cell.source = "assert True"
        _strip(cell)
    subs["no_metadata_edited_test"] = notebook
    # the student's own cells: a helper before the first answer, a note after a test
    notebook = nb({"q1_figures_per_article": "figures_per_article = count_articles(figures)"})
    at = next(i for i, c in enumerate(notebook.cells) if _gid(c) == "q1_figures_per_article")
    notebook.cells.insert(at, nbformat.v4.new_code_cell(
        "def count_articles(table):\n    return table['article'].value_counts()"))
    notebook.cells.insert(at + 3, nbformat.v4.new_markdown_cell("My notes on question 1."))
    subs["own_cells"] = notebook
    subs["deleted_test"] = without("q2_implied_rate_tests")  # the test comes back
    # an answer moved below its own test: graded in its place
    notebook = nb()
    at = next(i for i, c in enumerate(notebook.cells) if _gid(c) == "q4_usd_figures")
    notebook.cells.insert(at + 1, notebook.cells.pop(at))
    subs["moved_answer"] = notebook
    # the first answer cell copied, grade id and all, to the end as scratch: the answer
    # in its place counts, and the scratch runs where it is (after the question's test)
    notebook = nb()
    scratch = next(c for c in notebook.cells if _gid(c) == "q1_figures_per_article").copy()
    notebook.cells.append(nbformat.from_dict({**scratch, "source": "figures_per_article = None"}))
    subs["copied_answer"] = notebook
    for version in (0, 1, 2, 10):  # 10: as nbgrader's too-new.ipynb
        subs[f"schema_v{version}"] = _schema(nb(), version)
    subs["lost_worker"] = nb({"q1_figures_per_article": LOSE_WORKER + "\nfigures_per_article = 0"})
    subs["kills_kernel"] = nb({"q2_implied_rate": "import os\nos._exit(0)"})
    for student, notebook in subs.items():
        course.submit(student, ASSIGNMENT, notebook)
    # an old notebook format, and an old minor version of the current one
    folder = course.submit("nbformat_3", ASSIGNMENT, nb())
    folder.write_text(nbformat.writes(nbformat.convert(nb(), 3)))
    old_minor = json.loads(nbformat.writes(nb()))
    old_minor["nbformat_minor"] = 0
    for cell in old_minor["cells"]:
        cell.pop("id", None)
    course.submit("nbformat_4_0", ASSIGNMENT, json.dumps(old_minor).encode())
    course.submit("other_assignment", ASSIGNMENT, make_submission(other_release, other_source))
    course.submit("empty_file", ASSIGNMENT, b"")
    # the shape of nbgrader's too-new.ipynb: one cell of an unknown task, schema 10
    too_new = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "# this has metadata which has a nbgrader schema that is too new!", metadata={
            "nbgrader": {"grade": False, "grade_id": "cell-2298c977f4deff2b", "locked": True,
                         "points": 10, "schema_version": 10, "solution": False,
                         "task": True}})])
    course.submit("too_new_unknown", ASSIGNMENT, too_new)


@pytest.fixture(scope="module")
def graded():
    # under the project, not /tmp (which the sandbox replaces), as in real use
    course = Course.fresh(ROOT / "_build" / "test-prepare-course")
    _submit_class(course)
    inner = local_backend(2)
    backend = Backend(_LosesMarkedTasks(inner.pool), inner.slots, inner.close)
    try:
        outcomes = autograde(course.root, ASSIGNMENT, limits=LIMITS, backend=backend)
    finally:
        inner.close()
    return course, {o.student: o for o in outcomes}


def _autograded(course, student):
    scores = course.scores(student, ASSIGNMENT)
    return {k: scores[k] for k in AUTOGRADED}


@pytest.mark.parametrize("student", [
    "perfect", "answer_in_new_cell", "renamed_answer", "no_metadata", "some_metadata",
    "own_cells", "copied_answer", "deleted_test", "moved_answer", "nbformat_3", "nbformat_4_0",
    "schema_v0", "schema_v1", "schema_v2", "schema_v10"])
def test_honest_answers_keep_their_points(graded, student):
    course, outcomes = graded
    outcome = outcomes[student]
    assert (outcome.status, outcome.score, outcome.max_score) == ("ok", FULL, 9), outcome
    assert _autograded(course, student) == AUTOGRADED
    assert course.scores(student, ASSIGNMENT)["q5_reflection"] is None  # for hand grading
    assert not any(raw in outcome.reason for raw in RAW_ERRORS), outcome.reason


def test_a_deleted_answer_loses_its_question_only_and_says_so(graded, tmp_path):
    from dustcourse.grading.export import export

    course, outcomes = graded
    outcome = outcomes["deleted_answer"]
    assert (outcome.status, outcome.score) == ("ok", FULL - 2), outcome
    assert _autograded(course, "deleted_answer") == dict(
        AUTOGRADED, q3_land_m2_tests=0, q3_error_factor_tests=0)
    assert ("the answer cell of q3_land_area was deleted: 0 for that question; the other "
            "answers were graded") in outcome.reason
    questions, totals = export(course.root, ASSIGNMENT, tmp_path)
    rows = {(r["student"], r["question"]): r for r in csv.DictReader(questions.open())}
    row = rows[("deleted_answer", "q3_error_factor_tests")]
    assert (row["score"], row["status"]) == ("0", "answer_deleted"), row
    assert "answer cell of q3_land_area was deleted" in row["reason"]
    assert rows[("deleted_answer", "q2_implied_rate_tests")]["status"] == "passed"
    total = {r["student"]: r for r in csv.DictReader(totals.open())}["deleted_answer"]
    assert "q3_land_area was deleted" in total["reason"]


def test_a_deleted_hand_graded_answer_scores_zero_and_is_not_pending(graded):
    from nbgrader.api import Gradebook

    course, outcomes = graded
    outcome = outcomes["deleted_reflection"]
    assert (outcome.status, outcome.score) == ("ok", FULL), outcome
    assert "answer cell of q5_reflection was deleted" in outcome.reason
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        grade = gb.find_grade("q5_reflection", ASSIGNMENT, ASSIGNMENT, "deleted_reflection")
        assert (grade.auto_score, grade.needs_manual_grade) == (0, False)


def test_tests_and_locked_cells_always_come_from_the_gradebook(graded):
    """A test rewritten to pass in a notebook without metadata is put back, hidden
    parts included; the wrong answer fails it."""
    course, _ = graded
    assert _autograded(course, "no_metadata_edited_test") == dict(
        AUTOGRADED, q2_implied_rate_tests=0)
    source = {_gid(c): c.source for c in nbformat.read(course.source(ASSIGNMENT), 4).cells}
    path = (course.root / "autograded" / "no_metadata_edited_test" / ASSIGNMENT
            / f"{ASSIGNMENT}.ipynb")
    graded_nb = {_gid(c): c.source for c in nbformat.read(path, 4).cells if _gid(c)}
    for grade_id, text in source.items():
        if grade_id.endswith("_tests") or not grade_id.startswith("q") or "intro" in grade_id:
            assert graded_nb[grade_id] == text, grade_id
    assert "BEGIN HIDDEN TESTS" in graded_nb["q2_implied_rate_tests"]


@pytest.mark.parametrize("student,words", [
    ("no_metadata", "no nbgrader metadata"),
    ("some_metadata", "matched to the assignment by position and content"),
    ("renamed_answer", "matched to the assignment by position and content"),
    ("schema_v0", "old format (schema 0): it was upgraded automatically"),
    ("schema_v2", "old format (schema 2): it was upgraded automatically"),
    ("schema_v10", "written by a newer nbgrader (schema 10"),
    ("nbformat_3", "old notebook format 3"),
])
def test_repairs_are_said_in_words(graded, student, words):
    _, outcomes = graded
    assert words in outcomes[student].reason, outcomes[student].reason


def test_notebook_of_another_assignment_is_named(graded):
    _, outcomes = graded
    outcome = outcomes["other_assignment"]
    assert (outcome.status, outcome.score, outcome.max_score) == ("error", 0, 9), outcome
    assert f"the notebook of {OTHER}, not of {ASSIGNMENT}" in outcome.reason
    assert "ask the student to submit" in outcome.reason
    assert not any(raw in outcome.reason for raw in RAW_ERRORS), outcome.reason


def test_unreadable_notebook_is_explained(graded):
    course, outcomes = graded
    outcome = outcomes["empty_file"]
    assert (outcome.status, outcome.score) == ("error", 0), outcome
    assert "ps0-warmup.ipynb is empty" in outcome.reason and "submit it again" in outcome.reason
    # nothing to grade by hand: as nbgrader does for a missing notebook
    assert course.scores("empty_file", ASSIGNMENT)["q5_reflection"] == 0


@pytest.mark.parametrize("student,status", [("lost_worker", "error"),
                                            ("kills_kernel", "kernel_died")])
def test_failed_submissions_keep_hand_grading_pending(graded, student, status):
    """Autograded cells score 0; the reflection stays pending and listed in formgrader."""
    from nbgrader.api import Gradebook

    course, outcomes = graded
    assert outcomes[student].status == status, outcomes[student]
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        grade = gb.find_grade("q5_reflection", ASSIGNMENT, ASSIGNMENT, student)
        assert grade.needs_manual_grade and grade.manual_score is None
        assert grade.auto_score is None
        for name in AUTOGRADED:
            if status == "error" or name != "q1_figures_per_article_tests":
                assert gb.find_grade(name, ASSIGNMENT, ASSIGNMENT, student).score == 0, name
        # what formgrader lists: the assignment's and the notebook's submissions
        listed = {d["student"]: d for d in gb.submission_dicts(ASSIGNMENT)}
        assert listed[student]["needs_manual_grade"]
        listed = {d["student"]: d for d in gb.notebook_submission_dicts(ASSIGNMENT, ASSIGNMENT)}
        assert listed[student]["needs_manual_grade"]


def test_unknown_notebook_of_a_newer_nbgrader_says_what_to_do(graded):
    _, outcomes = graded
    outcome = outcomes["too_new_unknown"]
    assert (outcome.status, outcome.score) == ("error", 0), outcome
    assert "is a cell of ps0-warmup" in outcome.reason
    assert "written by a newer nbgrader (schema 10)" in outcome.reason
    assert "download the exercise again" in outcome.reason
    assert not any(raw in outcome.reason for raw in RAW_ERRORS), outcome.reason
