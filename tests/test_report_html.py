"""The instructor report's page (report.render_html, templates/report.html.j2) on
hostile values: student ids, failed-check messages, reasons, sandbox errors and code
excerpts come from student work and are shown as text; the page carries a policy
allowing no script and no request beyond its own plot files."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

from dustcourse.grading.item_analysis import ItemStats
from dustcourse.grading.pages import style_hash
from dustcourse.grading.report import (
    ClassResults,
    Item,
    Report,
    StudentResult,
    render_html,
    report_css,
)
from dustcourse.grading.similarity import SimilarPair

EVIL = '<img src=x onerror=alert(1)><script>alert("r")</script>'
FILES = {"scores": Path("scores.png"), "items": Path("items.png"),
         "similarity": Path("similarity.png")}


def hostile_report() -> Report:
    items = [Item("q1_tests", 1, False), Item("q5_reflection", 2, True)]
    students = [
        StudentResult(f"s1{EVIL}", 1, 3, "ok", "", {"q1_tests": 1, "q5_reflection": None}, {}),
        StudentResult("s2", 0, 3, "error", f"reason {EVIL}",
                      {"q1_tests": 0, "q5_reflection": None}, {}, cell_timeouts=1,
                      sandbox_refusals=[f"OSError: Read-only file system {EVIL}"]),
    ]
    pair = SimilarPair(f"s1{EVIL}", "s2", 0.9, 0.8, 10, f"x = '{EVIL}'", "y = 2", 0.85)
    counts = {"students": 2, "graded_ok": 1, "notebook_timeouts": 0, "cell_timeouts": 1,
              "kernel_died": 0, "errors": 1, "sandbox_refusals": 1,
              "students_with_sandbox_refusals": 1, "manual_pending": 2,
              "robust_only": 0, "students_with_robust_only": 0}
    return Report(
        f"ps0{EVIL}", Path("report.html"), [], ClassResults(f"ps0{EVIL}", items, students, ""),
        ["q1_tests"], [ItemStats("q1_tests", 1, 2, 0.5, 0.5, None)], None,
        {"mean": 50, "median": 50, "sd": 10, "min": 0, "max": 100},
        {"q1_tests": [(f"message {EVIL}", 1)]}, {"q1_tests": 1}, counts, [pair], [pair], 0.7)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_student_values_are_text():
    page = render_html(hostile_report(), FILES)
    parser = Tags()
    parser.feed(page)
    assert not [t for t, _ in parser.tags if t == "script"]
    assert not [(t, a) for t, a in parser.tags for name in a if name.startswith("on")]
    assert [a["src"] for t, a in parser.tags if t == "img"] == [
        "scores.png", "items.png", "similarity.png"]
    text = "".join(parser.text)
    assert text.count(EVIL) >= 8  # id, assignment, message, reason, excerpt...
    assert "reason " + EVIL in text and "message " + EVIL in text


def test_policy_forbids_scripts_and_requests_and_allows_own_style():
    page = render_html(hostile_report(), FILES)
    policy = html.unescape(re.search(
        r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page).group(1))
    for rule in ("default-src 'none'", "script-src 'none'", "img-src 'self' data:",
                 "form-action 'none'", f"style-src {style_hash(report_css())}"):
        assert rule in policy, rule
    assert page.index("Content-Security-Policy") < page.index("<style>")
    assert f"<style>{report_css()}</style>" in page  # exactly what the hash covers


def test_look_is_kept():
    """The markup the report always had: numeric cells, flagged rows, breakable ids."""
    page = render_html(hostile_report(), FILES)
    assert '<td class="num">0.50</td>' in page
    assert '<th scope="col">q5_<wbr>reflection</th>' in page
    assert '<tr class="flag"><td>s2</td>' in page
    assert '<span class="fail">0</span>' in page
    assert "1 cell(s) stopped by the time limit<br>sandbox: " in page
