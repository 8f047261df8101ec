"""The typed-numbers student: every answer a literal copied from the solution's output.

A student who runs the instructor's solution (or a friend's notebook) and types the
printed results into the answer cells scores full marks on the real data. The
robustness run (the same hidden tests on a perturbed copy of the data) must take those
points away for every question that follows the data. :func:`typed_answers` builds
that student from the solution itself, so the fixture stays a faithful copy when the
data change: the source notebook is executed once, and each answer cell becomes code
that assigns the values the solution computed, as literals.

A spec maps an answer cell's grade id to its typed code, a template in which
``{{expression}}`` is replaced by the literal of that expression's value at the end of
the solution run (``{{pairs}}``, ``{{cumulative["date"]}}``). Functions cannot be typed:
a template keeps their definition.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import nbformat
import pytest

# Runs in the solution's kernel: Python source that rebuilds a value from literals.
_LITERAL = r'''
def _typed_literal(x):
    import math
    import numpy as np
    import pandas as pd

    def scalar(v):
        if isinstance(v, (bool, np.bool_)):
            return repr(bool(v))
        if isinstance(v, (int, np.integer)):
            return repr(int(v))
        if isinstance(v, (float, np.floating)):
            return "float('nan')" if math.isnan(v) else repr(float(v))
        if isinstance(v, str):
            return repr(v)
        if isinstance(v, pd.Timestamp):
            return f"pd.Timestamp({str(v)!r})"
        if isinstance(v, pd.Period):
            return f"pd.Period({str(v)!r}, freq={v.freqstr!r})"
        if v is None:
            return "None"
        raise TypeError(f"cannot type a {type(v).__name__}")

    def values(seq):
        return "[" + ", ".join(scalar(v) for v in seq) + "]"

    def index(ix):
        if isinstance(ix, pd.MultiIndex):
            return (f"pd.MultiIndex.from_tuples({[tuple(t) for t in ix]!r}, "
                    f"names={list(ix.names)!r})")
        return f"pd.Index({values(ix)}, name={ix.name!r})"

    if isinstance(x, pd.DataFrame):
        cols = ", ".join(f"{c!r}: {values(x[c])}" for c in x.columns)
        return f"pd.DataFrame({{{cols}}}, index={index(x.index)})"
    if isinstance(x, pd.Series):
        return f"pd.Series({values(x)}, index={index(x.index)}, name={x.name!r})"
    if isinstance(x, pd.Index):
        return index(x)
    if isinstance(x, (list, tuple)):
        return values(x)
    return scalar(x)
'''

_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}")


_TYPED_CACHE: dict[tuple, dict[str, str]] = {}


def typed_answers(source: Path, templates: dict[str, str], timeout: int = 120) -> dict[str, str]:
    """grade_id -> typed code: ``templates`` with every ``{{expression}}`` replaced by
    the literal of its value after the solution notebook ``source`` has run (in its
    own folder, so that it reads its data/). Computed once per session for the same
    notebook, data and templates."""
    import hashlib

    digest = hashlib.sha256(source.read_bytes())
    for path in sorted((source.parent / "data").glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    key = (digest.hexdigest(), tuple(sorted(templates.items())))
    if key not in _TYPED_CACHE:
        _TYPED_CACHE[key] = _typed_answers(source, templates, timeout)
    return dict(_TYPED_CACHE[key])


def _typed_answers(source: Path, templates: dict[str, str], timeout: int) -> dict[str, str]:
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    expressions = sorted({m.group(1) for t in templates.values() for m in _PLACEHOLDER.finditer(t)})
    probe = _LITERAL + "\nimport json as _json\nprint(_json.dumps({"
    probe += ", ".join(f"{e!r}: _typed_literal({e})" for e in expressions) + "}))"
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    import json

    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    literals = json.loads(text.strip().splitlines()[-1])
    return {gid: _PLACEHOLDER.sub(lambda m: literals[m.group(1)], t)
            for gid, t in templates.items()}


def error_message(course, student: str, assignment: str, grade_id: str) -> str:
    """The error a graded cell showed in a student's autograded notebook ('' if none):
    the message the student reads in the feedback."""
    path = course.root / "autograded" / student / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return "\n".join(f"{o.ename}: {o.evalue}" for o in cell.get("outputs", [])
                             if o.output_type == "error")
    raise KeyError(grade_id)


def assert_unanswered_questions_name_their_variable(course, assignment: str,
                                                    autograded: dict[str, float]) -> None:
    """In the blank student version, every graded test says which variable to define."""
    for grade_id in autograded:
        msg = error_message(course, "blank", assignment, grade_id)
        assert "is not defined: run your answer cell, and keep the variable name" in msg, (
            grade_id, msg)


def assert_holds_verdicts(assignment: str) -> None:
    """The problem set's text defines the verdicts with dustcourse.verdicts' words."""
    from conftest import ROOT

    from dustcourse.verdicts import markdown

    text = (ROOT / "solutions" / assignment / f"{assignment}.md").read_text()
    assert " ".join(markdown().split()) in " ".join(text.split()), (
        f"{assignment} should print dustcourse.verdicts.markdown() verbatim"
    )


ROBUST_SECRET = "fixed-test-secret"  # tests must not depend on a random course secret


@contextmanager
def grading_secret(secret: str = ROBUST_SECRET):
    """$DUSTCOURSE_GRADING_SECRET set to ``secret`` for the block (restored after)."""
    old = os.environ.get("DUSTCOURSE_GRADING_SECRET")
    os.environ["DUSTCOURSE_GRADING_SECRET"] = secret
    try:
        yield secret
    finally:
        if old is None:
            del os.environ["DUSTCOURSE_GRADING_SECRET"]
        else:
            os.environ["DUSTCOURSE_GRADING_SECRET"] = old


def grade_with_robustness(course, assignment: str, jobs: int = 2, **options) -> dict:
    """{student: Outcome} of a `dustcourse grade autograde` run with the robustness run
    (sandbox on, ``jobs`` local workers unless ``options`` choose another executor),
    under the fixed test secret. The one helper of every robustness test.

        outcomes = grade_with_robustness(course, "ps1-articles-as-data")
        outcomes["typed_numbers"].robust_only   # tests failed only on the perturbed data
    """
    from dustcourse.grading.autograde import autograde

    with grading_secret():
        outcomes = autograde(course.root, assignment, jobs=jobs, robustness=True, **options)
    return {o.student: o for o in outcomes}


def data_following(source: Path) -> set[str]:
    """Grade ids of the autograded test cells that follow the data (no
    ``dustcourse: {follows_data: false}`` in the source notebook)."""
    from dustcourse.grading.robustness import follows_data

    nb = nbformat.read(source, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution") and follows_data(c.metadata)}


class RobustnessRun:
    """One class per problem set graded by `dustcourse grade autograde` with the
    robustness run (sandbox on, two workers, a fixed secret): the correct answers in
    other idioms (CORRECT) and the typed-numbers student (TYPED). The solution itself
    runs on the perturbed data in the run's set-up, which records every test it fails
    there (none allowed), so it is not graded again as a student. Correct answers keep
    full marks in both runs; the typed numbers lose every data-following question, and
    only those."""

    ASSIGNMENT: ClassVar[str]
    AUTOGRADED: ClassVar[dict[str, float]]
    CORRECT: ClassVar[dict[str, dict[str, str]]]
    TYPED: ClassVar[dict[str, str]]

    def pytest_generate_tests(self, metafunc):
        if "robust_student" in metafunc.fixturenames:
            metafunc.parametrize("robust_student", sorted(self.CORRECT))
        if "typed_student" in metafunc.fixturenames:
            metafunc.parametrize("typed_student", ["typed_numbers", "typed_copy"])

    @pytest.fixture(scope="class")
    @classmethod
    def robust_class(cls, tmp_path_factory):
        """(course, {student: Outcome}) of the class graded with the robustness run."""
        from conftest import Course
        from typed_answers import typed_answers as typed_copy

        from dustcourse.submissions import make_submission

        root = tmp_path_factory.mktemp(f"robust-{cls.ASSIGNMENT}") / "course"
        root.mkdir()
        course = Course(root)
        release, source = course.generate(cls.ASSIGNMENT)
        for student, answers in cls.CORRECT.items():
            course.submit_answers(student, cls.ASSIGNMENT, answers)
        typed = typed_answers(source, cls.TYPED)
        course.submit("typed_numbers", cls.ASSIGNMENT, make_submission(release, source, typed))
        # the same student made by tests/typed_answers.py from the solution alone (every
        # value it computes, as a constant): no template to keep in step
        course.submit_answers("typed_copy", cls.ASSIGNMENT, typed_copy(source))
        return course, grade_with_robustness(course, cls.ASSIGNMENT)

    def scores(self, course, student):
        scores = course.scores(student, self.ASSIGNMENT)
        return {k: scores[k] for k in self.AUTOGRADED}

    def test_correct_answers_keep_full_marks_in_both_runs(self, robust_class, robust_student):
        course, outcomes = robust_class
        assert outcomes[robust_student].status == "ok", outcomes[robust_student].reason
        assert outcomes[robust_student].robust_only == []
        assert self.scores(course, robust_student) == self.AUTOGRADED

    def test_solution_passes_every_test_on_the_perturbed_data(self, robust_class):
        """The set-up's run of the solution on the perturbed copy: no test ignored (a rule
        breaking a relation a question relies on), no schema or relation problem."""
        import json

        course, _ = robust_class
        cache = course.root / "grading" / "robustness" / f"{self.ASSIGNMENT}.json"
        record = json.loads(cache.read_text())
        assert record["ignored"] == {self.ASSIGNMENT: []}
        assert record["problems"] == []

    def test_typed_numbers_lose_every_data_following_question(self, robust_class,
                                                              typed_student):
        """Also says that the typed student is a faithful copy: every test it fails
        in the robustness run passed the normal one, and the others score full marks."""
        course, outcomes = robust_class
        following = data_following(course.source(self.ASSIGNMENT))
        assert following and following <= set(self.AUTOGRADED)
        assert outcomes[typed_student].status == "ok", outcomes[typed_student].reason
        assert outcomes[typed_student].robust_only == sorted(following)
        assert self.scores(course, typed_student) == {
            k: (0 if k in following else v) for k, v in self.AUTOGRADED.items()}


def robustness_run(assignment: str, autograded: dict[str, float],
                   correct: dict[str, dict[str, str]], typed: dict[str, str]) -> type:
    """A RobustnessRun class for one problem set (assign it to ``TestRobustness``)."""
    return type("TestRobustness", (RobustnessRun,), {
        "__doc__": "The robustness run on this problem set: correct answers keep full "
                   "marks, typed numbers lose every data-following question.",
        "ASSIGNMENT": assignment, "AUTOGRADED": autograded, "CORRECT": correct,
        "TYPED": typed,
    })
