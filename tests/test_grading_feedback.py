"""Student feedback pages: no hidden tests, no student script, no request (issue 19,
items 8 and 9).

One ps0 class is graded once by stock `nbgrader autograde`: a hostile student whose
answers put scripts, event handlers, remote images, frames, JavaScript, SVG and
Markdown into outputs and into the Markdown they wrote; a student who fails a public
check; one who fails a hidden check; the perfect one. Feedback is written by
`nbgrader generate_feedback` (what formgrader's Generate Feedback button runs, with the
course's nbgrader_config.py) and by `dustcourse grade feedback`, released by
`nbgrader release_feedback` (the Release Feedback button), and opened in Chromium.
"""

from __future__ import annotations

import html
import re
import shutil
from html.parser import HTMLParser

import nbformat
import pytest
from click.testing import CliRunner
from conftest import Course, StaticServer

from dustcourse.cli import main
from dustcourse.grading.feedback import GENERATOR, page_prefix, strip_hidden

pytestmark = pytest.mark.slow

A = "ps0-warmup"

HOSTILE_CODE = '''\
from IPython.display import HTML, SVG, Javascript, Markdown, display
display(HTML('<p>HTML-OUTPUT-MARKER</p><script>alert("html-script")</script>'
             '<img src="x" onerror="alert(\\'html-onerror\\')">'
             '<img src="http://192.0.2.1/track.png"><iframe src="https://example.com/"></iframe>'
             '<link rel="stylesheet" href="https://example.com/x.css">'
             '<style>body { background: url(https://example.com/bg.png) }</style>'
             '<meta http-equiv="refresh" content="0;url=https://example.com/">'
             '<form action="https://example.com/"><button>go</button></form>'
             '<a href="javascript:alert(1)">js-link</a>'))
display(Javascript('alert("js-output"); fetch("https://example.com/js")'))
display({"application/javascript": "alert('raw-js')", "text/plain": "<JS-FALLBACK-MARKER>"},
        raw=True)
display(Markdown('MD-OUTPUT-MARKER <img src=x onerror=alert("md-output")> '
                 '![t](https://example.com/md.png)'))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" '
            'onload="alert(1)"><script>alert("svg")</script>'
            '<image href="https://example.com/svg.png" width="9" height="9"/>'
            '<rect width="10" height="10"/></svg>'))
print('<script>alert("stream")</script>')
with open("written-by-student.html", "w") as handle:  # lands in autograded/ (stock nbgrader)
    handle.write('<script>alert("file")</script>')
figures_per_article = figures["article"].value_counts()
figures_per_article
'''

HOSTILE_ERROR = '''\
implied_rate = 7.0
raise ValueError('<img src=x onerror=alert("traceback")>')
'''

HOSTILE_MARKDOWN = (
    "REFLECTION-MARKER <script>alert('md-cell')</script> "
    "<img src=x onerror=\"alert('md-cell-img')\"> ![t](https://example.com/t.png) "
    "<a href=\"javascript:alert(1)\">js link</a> "
    "<iframe src=\"data:text/html,<script>alert(1)</script>\"></iframe> $x^2$"
)

STREAM_TEXT = '<script>alert("stream")</script>'
TRACEBACK_TEXT = '<img src=x onerror=alert("traceback")>'
# Texts the page must show as text (the hostile markup itself, or what is left of it)
VISIBLE = ["HTML-OUTPUT-MARKER", "MD-OUTPUT-MARKER", "REFLECTION-MARKER", STREAM_TEXT,
           TRACEBACK_TEXT, "<JS-FALLBACK-MARKER>", "EXTRA-CELL-MARKER",
           "A JavaScript output was left out"]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("feedback") / "course"
    root.mkdir()
    course = Course(root)
    release, source = course.generate(A)
    course.submit_answers("perfect", A)
    course.submit_answers("inverted_rate", A, {"q2_implied_rate": (
        'pair = figures[figures["pair"] == "nc_gross_by_sep7"].set_index("unit")\n'
        'implied_rate = float(pair.loc["USD", "value"]) / float(pair.loc["yuan", "value"])')})
    course.submit_answers("hidden_fail", A, {"q2_implied_rate": "implied_rate = 7.5"})
    from dustcourse.submissions import make_submission

    nb = make_submission(release, source, {"q1_figures_per_article": HOSTILE_CODE,
                                           "q2_implied_rate": HOSTILE_ERROR,
                                           "q5_reflection": HOSTILE_MARKDOWN})
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(
        "EXTRA-CELL-MARKER <svg onload=alert('extra')></svg><img src=x onerror=alert(2)>"))
    course.submit("hostile", A, nb)
    for student in STUDENTS:  # as `nbgrader submit` leaves it (release_feedback needs it)
        (root / "submitted" / student / A / "submission_secret.txt").write_text(f"s-{student}")
    result = course.autograde(A, timeout=30)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    course.nbgrader("generate_feedback", A)  # what formgrader's button runs
    return course


STUDENTS = ["perfect", "inverted_rate", "hidden_fail", "hostile"]


def page(course, student: str) -> str:
    return (course.root / "feedback" / student / A / f"{A}.html").read_text(encoding="utf-8")


class Text(HTMLParser):
    """The text a reader sees, and every tag and attribute of the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(source: str) -> Text:
    parser = Text()
    parser.feed(source)
    parser.close()
    return parser


def hidden_lines(course) -> dict[str, list[str]]:
    """grade id -> the lines of its hidden tests (the assert messages among them)."""
    nb = nbformat.read(course.source(A), as_version=4)
    hidden = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and "BEGIN HIDDEN" in cell.source:
            public = {line.strip() for line in strip_hidden(cell.source).splitlines()}
            hidden[meta["grade_id"]] = [
                line.strip() for line in cell.source.splitlines()
                if line.strip() not in public and len(line.strip().strip('"()')) > 8]
    assert hidden and all(hidden.values())
    return hidden


@pytest.mark.parametrize("student", STUDENTS)
def test_nbgrader_generate_feedback_shows_no_hidden_test(course, student):
    source = page(course, student)
    text = html.unescape("".join(parse(source).text))
    assert "HIDDEN TESTS" not in text and "HIDDEN TESTS" not in source
    # The message of a hidden check shows where that check failed (it is the feedback
    # the student needs); its source and every other hidden line never show.
    failed = {"hidden_fail": "the rate is not the one implied by the nc_gross_by_sep7 pair"}
    for grade_id, lines in hidden_lines(course).items():
        for line in lines:
            if failed.get(student, "\0") in line:
                continue
            assert line not in text, (student, grade_id, line)
    for secret in ("_expected", "_f.loc", "_true_m2", "_printed_m2"):
        assert secret not in text, (student, secret)
    if student in failed:
        assert "AssertionError: " + failed[student] in text


def test_scores_and_failed_check_messages(course):
    assert "Score: 7.0 / 9.0" in page(course, "perfect")
    inverted = page(course, "inverted_rate")
    assert "Score: 5.0 / 9.0" in inverted
    assert "did you divide dollars by yuan?" in inverted  # the public check's message


@pytest.mark.parametrize("student", STUDENTS)
def test_every_page_has_the_policy_and_nothing_active(course, student):
    source = page(course, student)
    assert source.startswith(page_prefix())
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', source)
    policy = html.unescape(policy.group(1))
    for rule in ("default-src 'none'", "script-src 'none'", "img-src data:",
                 "form-action 'none'", "base-uri 'none'"):
        assert rule in policy
    assert f'content="{GENERATOR}"' in source
    assert "mathjax" not in source.lower() and "cdn" not in source.lower()
    tags = parse(source).tags
    assert [t for t, _ in tags if t == "style"] == ["style"]  # the page's own, in <head>
    for tag, attrs in tags:
        assert tag not in ("script", "iframe", "object", "embed", "link", "form", "base",
                           "svg", "input", "button"), tag
        if tag == "meta":
            assert attrs.get("http-equiv", "Content-Security-Policy") == \
                "Content-Security-Policy", attrs
        for name, value in attrs.items():
            assert not name.startswith("on") and name not in ("style", "srcset"), (tag, name)
            if name == "src":
                assert value.startswith("data:image/"), (tag, value[:80])
            if name == "href":
                assert value.startswith(("#", "https:", "http:", "mailto:")), (tag, value)


def test_hostile_content_is_shown_as_text(course):
    text = "".join(parse(page(course, "hostile")).text)
    for visible in VISIBLE:
        assert visible in text, visible
    source = page(course, "hostile")
    assert "alert(&#34;stream&#34;)" in source  # escaped, not markup
    assert source.count("data:image/svg+xml;base64,") == 1  # the SVG, as an image


def test_student_files_stay_out_of_the_feedback_folder(course):
    """nbgrader copies the autograded folder's other files (data, files the student's
    code wrote) beside the page; release_feedback would publish any .html there."""
    assert (course.root / "autograded" / "hostile" / A / "written-by-student.html").is_file()
    for student in STUDENTS:
        folder = course.root / "feedback" / student / A
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [f"{A}.html", "timestamp.txt", "submission_secret.txt"])


def test_dustcourse_grade_feedback_writes_the_same_pages(course, tmp_path):
    """`dustcourse grade feedback` and `nbgrader generate_feedback` (the button) agree."""
    by_nbgrader = {s: page(course, s) for s in STUDENTS}
    result = CliRunner().invoke(main, ["grade", "feedback", A, "--root", str(course.root)])
    assert result.exit_code == 0, result.output
    assert f"wrote {len(STUDENTS)} feedback file(s)" in result.output
    assert {s: page(course, s) for s in STUDENTS} == by_nbgrader


def test_release_feedback_releases_only_safe_pages(course, tmp_path):
    """`nbgrader release_feedback` (the Release Feedback button) copies the safe pages to
    the exchange, and refuses to release a stock nbgrader page."""
    exchange = tmp_path / "exchange"
    exchange.mkdir()
    course.nbgrader("release_feedback", A, f"--Exchange.root={exchange}")
    released = sorted((exchange / "return-to-dust" / "feedback").glob("*.html"))
    assert len(released) == len(STUDENTS)
    for path in released:
        source = path.read_text(encoding="utf-8")
        assert source.startswith(page_prefix())
        assert "HIDDEN TESTS" not in source and "_expected" not in source

    # A page from stock nbgrader feedback (hidden tests, raw student HTML) is refused,
    # and nothing is released in that run.
    stock = course.root / "feedback" / "hostile" / A / f"{A}.html"
    safe = stock.read_text(encoding="utf-8")
    stock.write_text("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\" />\n"
                     + safe.replace("<body>", "<body><pre>### BEGIN HIDDEN TESTS</pre>"),
                     encoding="utf-8")
    shutil.rmtree(exchange / "return-to-dust" / "feedback")
    try:
        result = course.nbgrader("release_feedback", A, f"--Exchange.root={exchange}",
                                 check=False)
    finally:
        stock.write_text(safe, encoding="utf-8")
    assert result.returncode != 0
    assert "not written by `dustcourse grade feedback`" in result.stdout + result.stderr
    assert not list((exchange / "return-to-dust" / "feedback").glob("*.html"))


def test_formgrader_buttons_write_and_release_the_same_pages(course, tmp_path):
    """formgrader's Generate Feedback and Release Feedback buttons call nbgrader's
    NbGraderAPI (configured from the course's nbgrader_config.py, as formgrader is)."""
    from nbgrader.apps.api import NbGraderAPI

    from dustcourse.grading.autograde import load_config

    before = {s: page(course, s) for s in STUDENTS}
    for student in STUDENTS:
        (course.root / "feedback" / student / A / f"{A}.html").unlink()
    config = load_config(course.root)
    config.Exchange.root = str(tmp_path / "exchange")
    (tmp_path / "exchange").mkdir()
    api = NbGraderAPI(config=config)
    result = api.generate_feedback(A)
    assert result["success"], result
    assert {s: page(course, s) for s in STUDENTS} == before
    result = api.release_feedback(A)
    assert result["success"], result
    released = sorted((tmp_path / "exchange" / "return-to-dust" / "feedback").glob("*.html"))
    assert sorted(p.read_text(encoding="utf-8") for p in released) == sorted(before.values())


@pytest.mark.browser
def test_hostile_feedback_in_chromium(course, browser):
    """Opened from file:// and from a local server: no dialog, no request beyond the
    page itself, no console message, and the hostile text is visible as text."""
    folder = course.root / "feedback" / "hostile" / A
    path = folder / f"{A}.html"
    with StaticServer(folder) as base:
        for url in (path.as_uri(), base + f"{A}.html"):
            context = browser.new_context()
            pg = context.new_page()
            dialogs, requests, console = [], [], []
            pg.on("dialog", lambda d, s=dialogs: (s.append(d.message), d.dismiss()))
            pg.on("console", lambda m, s=console: s.append(f"{m.type}: {m.text}"))
            pg.on("pageerror", lambda e, s=console: s.append(f"pageerror: {e}"))
            pg.on("request", lambda r, s=requests: s.append(r.url))

            def refuse(route, s=requests, page_url=url):
                if route.request.url != page_url:
                    s.append(f"routed {route.request.url}")
                    route.abort()
                else:
                    route.continue_()

            context.route("**/*", refuse)
            pg.goto(url, wait_until="load")
            pg.wait_for_timeout(1500)  # a delayed script or meta refresh would act by now
            for visible in VISIBLE:
                assert pg.get_by_text(visible, exact=False).first.is_visible(), visible
            assert pg.url == url  # no refresh, no navigation
            assert dialogs == [], dialogs
            assert console == [], console
            assert requests == [url], requests
            context.close()
