"""The gradebook on PostgreSQL: one class graded twice through the real `dustcourse`
command, into SQLite (the default) and into a real PostgreSQL server (the session's
``postgres`` fixture), must give the same gradebook, exports and report.

The class, small to keep the test cheap: students of tests/synthetic_class.py (right
answers, two controlled mistakes, the blank notebook), a student in the spirit of
tests/hostile_class.py who tries to reach the PostgreSQL gradebook over the network and
raise the scores, and a corrupt file (a submission that cannot be prepared: its zeros
are written by another path). Both classes are generated and graded side by side, one
worker each, so the test costs about one grading run.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import synthetic_class as sc
from click.testing import CliRunner
from conftest import ROOT, Course, nbgrader_env

from dustcourse.cli import main

A = "ps0-warmup"
SYNTHETIC = ["s01", "s08", sc.BLANK]  # s08: inverted rate, hectares for mu
REACHES_POSTGRES = (  # {url}: the PostgreSQL gradebook, superuser and password included
    "try:\n"
    "    import psycopg\n"
    "    with psycopg.connect('{url}', connect_timeout=3) as c:\n"
    "        c.execute('UPDATE grade SET auto_score = 100')\n"
    "    print('gradebook reached')\n"
    "except Exception as e:\n"
    "    print('blocked', type(e).__name__)\n"
    'figures_per_article = figures["article"].value_counts()'
)


def autograde(course: Course, db: str | None = None) -> subprocess.Popen:
    """Start the installed `dustcourse grade autograde` on ``course`` (one worker, no
    robustness run: it writes nothing to the gradebook for this class), its gradebook
    named with --db unless it is SQLite."""
    db = db or (None if course.db_url.startswith("sqlite") else course.db_url)
    return subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "dustcourse"), "grade", "autograde",
         A, "-j", "1", "--no-robustness", "--root", str(course.root),
         *(["--db", db] if db else [])],
        cwd=course.root, env=nbgrader_env(course.home), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def finish(*processes: subprocess.Popen) -> list[tuple[int, str]]:
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    return [(p.returncode, out) for p, out in zip(processes, outputs, strict=True)]


def submit_class(course: Course, superuser_url: str) -> None:
    course.generate(A)
    for student in SYNTHETIC:
        answers = sc.answers(student)
        course.submit_answers(student, A, answers, solve=answers is not None)
    course.submit_answers("reaches_postgres", A, {
        "q1_figures_per_article": REACHES_POSTGRES.format(url=superuser_url)})
    course.submit("corrupt", A, b'{"cells": [ not json')


def gradebook_rows(course: Course) -> dict:
    """Everything nbgrader's gradebook holds about the submissions, per student."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, "return-to-dust") as gb:
        return {
            s.student.id: (s.score, s.max_score, s.needs_manual_grade, {
                g.name: (g.auto_score, g.manual_score, g.needs_manual_grade, g.score,
                         g.max_score)
                for nb in s.notebooks for g in nb.grades})
            for s in gb.assignment_submissions(A)}


def read_csv(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def both(postgres):
    """The class graded, exported and reported into SQLite and into PostgreSQL."""
    base = ROOT / "_build" / "test-postgres-course"
    shutil.rmtree(base, ignore_errors=True)
    (base / "sqlite").mkdir(parents=True)
    (base / "postgres").mkdir()
    lite = Course(base / "sqlite")
    pg = Course(base / "postgres", db_url=postgres.create_database("return_to_dust"))
    with ThreadPoolExecutor(2) as pool:  # nbgrader runs in subprocesses
        list(pool.map(submit_class, (lite, pg), [postgres.url()] * 2))
    runs = finish(autograde(lite), autograde(pg))
    runner = CliRunner()
    exports, reports = [], []
    for course in (lite, pg):  # PostgreSQL: --db for the export, the variable for the report
        db = [] if course is lite else ["--db", course.db_url]
        env = {} if course is lite else {"DUSTCOURSE_DB_URL": course.db_url}
        exports.append(runner.invoke(main, ["grade", "export", A, "--root", str(course.root),
                                            "--to", str(course.root / "out"), *db]))
        reports.append(runner.invoke(main, ["grade", "report", A, "--root", str(course.root),
                                            "--to", str(course.root / "report")], env=env))
    return lite, pg, runs, exports, reports


@pytest.mark.slow
def test_grading_into_postgres_gives_what_sqlite_gives(both):
    lite, pg, runs, exports, reports = both
    for code, output in runs:  # the corrupt file fails, as it should
        assert code == 1 and "1 submission(s) not graded to the end" in output, output
    for result in exports + reports:
        assert result.exit_code == 0, result.output

    rows = gradebook_rows(pg)
    assert rows == gradebook_rows(lite)
    assert set(rows) == {*SYNTHETIC, "reaches_postgres", "corrupt"}
    expected = sc.expected_scores()
    for student in SYNTHETIC:
        assert {k: rows[student][3][k][3] for k in sc.ITEMS} == expected[student], student

    for name in (f"{A}-questions.csv", f"{A}-totals.csv", f"{A}-needs-attention.csv"):
        assert read_csv(pg.root / "out" / name) == read_csv(lite.root / "out" / name), name
    for name in ("items.csv", "students.csv", "similarity.csv"):
        assert read_csv(pg.root / "report" / name) == read_csv(lite.root / "report" / name)


@pytest.mark.slow
def test_student_code_cannot_reach_the_postgres_gradebook(both):
    _, pg, *_ = both
    graded = nbformat.read(pg.root / "autograded" / "reaches_postgres" / A / f"{A}.ipynb",
                           as_version=4)
    printed = "".join(o.get("text", "") for c in graded.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert "blocked OperationalError" in printed and "gradebook reached" not in printed
    q1 = "q1_figures_per_article_tests"
    assert pg.scores("reaches_postgres", A)[q1] == sc.ITEMS[q1]


@pytest.mark.slow
def test_a_wrong_database_url_is_refused_without_showing_the_password(both, postgres):
    _, pg, *_ = both
    wrong = postgres.url("return_to_dust", user="return_to_dust", password="not-the-secret")
    result = CliRunner().invoke(main, ["grade", "autograde", A, "--root", str(pg.root),
                                       "--db", wrong])
    assert result.exit_code == 1
    assert "cannot connect" in result.output, result.output
    assert "password authentication failed" in result.output
    assert "not-the-secret" not in result.output and "***" in result.output
    out = ["--to", str(pg.root / "unused")]
    for command, options in (("export", out), ("report", out), ("feedback", [])):
        result = CliRunner().invoke(main, ["grade", command, A, "--root", str(pg.root),
                                           "--db", wrong, *options])  # one line, no traceback
        assert result.exit_code == 1, (command, result.output)
        assert "cannot use the gradebook: " in result.output, (command, result.output)
        assert "password authentication failed" in result.output
        assert "not-the-secret" not in result.output


def test_the_gradebook_url_comes_from_db_then_environment_then_config(tmp_path, monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    from dustcourse.grading import database
    from dustcourse.grading.autograde import load_config

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    assert load_config(tmp_path).CourseDirectory.db_url == f"sqlite:///{tmp_path}/gradebook.db"
    monkeypatch.setenv("DUSTCOURSE_DB_URL", "postgresql://grader@db.example.edu/course")
    assert load_config(tmp_path).CourseDirectory.db_url.startswith("postgresql://grader@")
    # nbgrader itself (formgrader, `nbgrader ...`) reads the course's config file
    stock = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    assert stock.CourseDirectory.db_url == "postgresql://grader@db.example.edu/course"
    with database.using("postgresql://other@db2.example.edu/course"):
        assert load_config(tmp_path).CourseDirectory.db_url.startswith("postgresql://other@")
    assert load_config(tmp_path).CourseDirectory.db_url.startswith("postgresql://grader@")


def test_database_urls_are_shown_without_password():
    from dustcourse.grading.database import shown, sqlite_file

    assert shown("postgresql://grader:s3cret@db.example.edu:5432/course") == (
        "postgresql://grader:***@db.example.edu:5432/course")
    assert "s3cret" not in shown("postgresql://grader:s3cret@/course?host=/run/x")
    assert shown("not a url : s3cret") == "<unreadable database URL>"
    assert sqlite_file("sqlite:////srv/course/gradebook.db") == Path("/srv/course/gradebook.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://grader@db.example.edu/course") is None
