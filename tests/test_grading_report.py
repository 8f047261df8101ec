"""The instructor report on a synthetic class whose statistics are known in advance.

30 ps0-warmup submissions (tests/synthetic_class.py: independent correct answers in
different formulations, controlled mistakes, one blank notebook, one that loops
forever, one that writes outside the sandbox, one near-copy) are graded ONCE by the
pipeline (sandboxed, 2 workers) and reported on once; every test reads that run.
"""

from __future__ import annotations

import csv
import re
from collections import Counter

import numpy as np
import pytest
import synthetic_class as sc
from click.testing import CliRunner
from conftest import ROOT, Course, StaticServer, screenshot_dir

from dustcourse.cli import main
from dustcourse.grading.autograde import autograde
from dustcourse.grading.report import build_report
from dustcourse.grading.sandbox import Limits

pytestmark = pytest.mark.slow

A = "ps0-warmup"
LIMITS = Limits(cell_timeout=8, notebook_timeout=90)  # the looping answer stops after 8 s


@pytest.fixture(scope="module")
def graded():
    # Under the project (not /tmp), as in real use: the sandbox itself hides the course.
    root = ROOT / "_build" / "test-report-course"
    course = Course.fresh(root)
    course.generate(A)
    for student in sc.STUDENTS:
        answers = sc.answers(student)
        course.submit_answers(student, A, answers, solve=answers is not None)
    outcomes = {o.student: o for o in autograde(root, A, jobs=2, limits=LIMITS)}
    report = build_report(root, A)
    return course, outcomes, report


def expected_matrix() -> np.ndarray:
    scores = sc.expected_scores()
    return np.array([[scores[s][item] for item in sc.ITEMS] for s in sc.STUDENTS], float)


def html_row(html: str, cell: str) -> str:
    match = re.search(rf"<tr>(?:(?!</tr>).)*<code>{re.escape(cell)}</code>.*?</tr>", html, re.S)
    assert match, cell
    return match.group(0)


def test_the_class_is_graded_as_designed(graded):
    _, outcomes, report = graded
    got = {s.student: {item: s.scores[item] for item in sc.ITEMS}
           for s in report.results.students}
    assert got == sc.expected_scores()
    assert outcomes[sc.TIMEOUT].status == "timeout"
    assert {s for s, o in outcomes.items() if o.status != "ok"} == {sc.TIMEOUT}


def test_item_statistics_equal_the_expected_values(graded):
    """Mean, difficulty and item–rest discrimination, computed here with numpy from
    the design, equal the report's (objects, items.csv and the HTML table)."""
    _, _, report = graded
    matrix = expected_matrix()
    assert report.analysed_items == list(sc.ITEMS)  # the reflection awaits hand grading
    html = report.html.read_text(encoding="utf-8")
    with (report.html.parent / "items.csv").open() as handle:
        rows = {r["item"]: r for r in csv.DictReader(handle)}
    for j, (item, points) in enumerate(sc.ITEMS.items()):
        column = matrix[:, j]
        rest = matrix.sum(axis=1) - column
        mean, difficulty = column.mean(), column.mean() / points
        r = np.corrcoef(column, rest)[0, 1]
        stats = report.item_stats[j]
        assert stats.item == item
        assert stats.mean == pytest.approx(mean)
        assert stats.difficulty == pytest.approx(difficulty)
        assert stats.discrimination == pytest.approx(r)
        assert float(rows[item]["difficulty"]) == pytest.approx(difficulty, abs=1e-6)
        assert float(rows[item]["discrimination"]) == pytest.approx(r, abs=1e-6)
        row = html_row(html, item)
        for value in (mean, difficulty, r):
            assert f">{value:.2f}<" in row, (item, value, row)
    # the design makes q2 the hardest question: the common inverted rate
    assert min(report.item_stats, key=lambda s: s.difficulty).item == "q2_implied_rate_tests"


def test_score_distribution(graded):
    _, _, report = graded
    totals = expected_matrix().sum(axis=1) / 9 * 100  # 7 autograded + 2 reflection points
    assert report.scores["mean"] == pytest.approx(totals.mean())
    assert report.scores["median"] == pytest.approx(np.median(totals))
    assert report.scores["sd"] == pytest.approx(totals.std())
    assert (report.scores["min"], report.scores["max"]) == pytest.approx((0, 700 / 9))


def test_common_misconceptions_are_counted(graded):
    _, _, report = graded
    expected: dict[str, Counter] = {item: Counter() for item in sc.ITEMS}
    not_run = Counter()
    for student in sc.STUDENTS:
        for item, (_, message) in sc.expected_results(student).items():
            if message is None:
                not_run[item] += 1
            elif message:
                expected[item][message] += 1
    for item in sc.ITEMS:
        assert dict(report.misconceptions[item]) == dict(expected[item]), item
        assert report.not_run[item] == not_run[item]
    top_q2 = report.misconceptions["q2_implied_rate_tests"][0]
    assert top_q2 == (sc.MESSAGES["q2_inverted"], 12)  # 11 students and the copy
    assert "did you divide dollars by yuan?" in report.html.read_text(encoding="utf-8")


def test_timeouts_errors_and_sandbox_refusals_are_counted(graded):
    _, _, report = graded
    counts = report.counts
    assert counts["students"] == 30
    assert counts["notebook_timeouts"] == 1
    assert counts["errors"] == 0 and counts["kernel_died"] == 0
    assert counts["sandbox_refusals"] == 1
    refusing = [s for s in report.results.students if s.sandbox_refusals]
    assert [s.student for s in refusing] == [sc.SANDBOX]
    assert "Read-only file system" in refusing[0].sandbox_refusals[0]
    assert counts["manual_pending"] == 30


def test_only_the_near_copies_are_flagged(graded):
    _, _, report = graded
    assert [(p.first, p.second) for p in report.flagged] == [(sc.COPIED, sc.COPIER)]
    others = [p.similarity for p in report.pairs if (p.first, p.second) != (sc.COPIED, sc.COPIER)]
    assert max(others) < report.threshold - 0.05, "too close to the threshold to be robust"
    # the starter code is not compared: the blank notebook matches nobody
    assert not [p for p in report.pairs if sc.BLANK in (p.first, p.second)]
    html = report.html.read_text(encoding="utf-8")
    assert "flags for a person to review, not verdicts" in html


@pytest.mark.browser
def test_report_opens_in_chromium_without_errors(graded, browser):
    """From file:// and from a local server: no console errors, failed requests or
    external requests, and every image loads."""
    _, _, report = graded
    folder = report.html.parent
    with StaticServer(folder) as base:
        for url in (report.html.as_uri(), base + "report.html"):
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            problems, requests = [], []
            page.on("console", lambda m, p=problems: m.type in ("error", "warning")
                    and p.append(m.text))
            page.on("pageerror", lambda exc, p=problems: p.append(str(exc)))
            page.on("requestfailed", lambda r, p=problems: p.append(f"failed {r.url}"))
            page.on("request", lambda r, q=requests: q.append(r.url))
            page.goto(url, wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, "
                "i.naturalWidth, i.alt])")
            assert len(images) == 3
            for src, complete, width, alt in images:
                assert complete and width > 0, src
                assert alt, src
            assert problems == [], problems
            assert all(r.startswith(("file://", base)) for r in requests), requests
            if url.startswith("http"):
                screenshot_dir().mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot_dir() / "grading-report.png"),
                                full_page=True)
            page.close()


def test_report_command(graded, tmp_path):
    course, *_ = graded
    runner = CliRunner()
    result = runner.invoke(main, ["grade", "report", "--help"])
    assert result.exit_code == 0 and "difficulty" in result.output
    result = runner.invoke(main, ["grade", "report", A, "--root", str(course.root),
                                  "--to", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert f"{sc.COPIED} ~ {sc.COPIER}" in result.output
    assert "similarity flags (>= 0.70): 1 pair(s)" in result.output
    for name in ("report.html", "scores.png", "items.png", "similarity.png", "items.csv",
                 "students.csv", "similarity.csv"):
        assert (tmp_path / "r" / name).is_file(), name


def test_lms_export_with_roster_reports_unmatched_students(graded, tmp_path):
    """Canvas: a roster shaped like Canvas's own gradebook export, missing one graded
    student and holding one who never submitted."""
    course, *_ = graded
    roster = tmp_path / "canvas-roster.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "PS0"])
        writer.writerow(["    Points Possible", "", "", "", "", "9"])
        for i, student in enumerate(sc.STUDENTS[:-1]):
            writer.writerow([f"Name{i}, Given", student, f"sis{i}", f"login{i}", "A", ""])
        writer.writerow(["Late, Joiner", "s99", "sis99", "login99", "A", ""])
    out = tmp_path / "exports"
    result = CliRunner().invoke(main, [
        "grade", "export", A, "--root", str(course.root), "--to", str(out),
        "--lms", "canvas", "--roster", str(roster), "--lms-column", "PS0 warm-up (4711)",
        "--allow-provisional"])  # the reflections are not hand graded in this class
    assert result.exit_code == 0, result.output
    assert "29 student(s)" in result.output
    assert "1 graded student(s) not in the roster" in result.output and "s30" in result.output
    assert "s99 Late, Joiner: missing: in the roster, no submission" in result.output
    rows = list(csv.reader((out / f"{A}-canvas.csv").open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "PS0 warm-up (4711)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "9"]
    by_id = {r[1]: r for r in rows[2:]}
    assert len(by_id) == 29 and "s30" not in by_id
    assert by_id["s01"] == ["Name0, Given", "s01", "sis0", "login0", "A", "7"]
    unmatched = list(csv.DictReader((out / f"{A}-canvas-unmatched.csv").open()))
    assert [(r["student_id"], r["score"]) for r in unmatched] == [("s30", "0")]


def test_lms_export_moodle_from_grading_worksheet(graded, tmp_path):
    course, *_ = graded
    roster = tmp_path / "worksheet.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Identifier", "Full name", "Email address", "Status", "Grade"])
        for i, student in enumerate(sc.STUDENTS):
            writer.writerow([f"Participant {student}", f"Student {i}", f"st{i}@example.edu",
                             "Submitted", ""])
    out = tmp_path / "exports"
    result = CliRunner().invoke(main, [
        "grade", "export", A, "--root", str(course.root), "--to", str(out),
        "--lms", "moodle", "--roster", str(roster), "--allow-provisional"])
    assert result.exit_code == 0, result.output
    assert "not in the roster" not in result.output
    rows = list(csv.reader((out / f"{A}-moodle.csv").open()))
    assert rows[0] == ["Full name", "Email address", "ID number", "Username", A]
    assert ["Student 0", "st0@example.edu", "", "", "7"] in rows
    assert len(rows) == 31
