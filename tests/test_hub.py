"""The course on a real JupyterHub, the whole loop (issue 24).

One hub per test session (dustcourse/hub.py: JupyterHub, configurable-http-proxy, PAM
login of the Unix accounts made by scripts/setup.sh, each JupyterLab spawned as its
student from the course's .venv). The instructor's side uses the CLIs, in a course folder
closed to everyone else; the students' side goes through Chromium (Playwright):

1. the instructor releases ps0-warmup from exercises/ (`nbgrader release_assignment`);
2. both students log in through the hub's login page and fetch it from the Assignment
   List; dust-student1 answers right, validates and submits once; dust-student2 submits
   the blank notebook, then (after the deadline, which the instructor sets in between) a
   wrong answer, validated first;
3. the instructor collects (the second submission replaces the first), runs
   `dustcourse grade autograde` and `dustcourse grade feedback`, and releases feedback
   through the exchange (`nbgrader release_feedback`);
4. each student fetches the feedback from the Assignment List: their score, the public
   check's message, the late penalty, and no hidden test.

Then, from dust-student2's own kernel: the other student's home, the exchange's
submissions and feedback, and the instructor's solutions/ and gradebook are unreadable.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from conftest import VENV_BIN, Course, nbgrader_env, screenshot_dir
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from dustcourse.hub import HubError, configure, free_port, set_passwords, start_hub, stop_hub
from dustcourse.submissions import make_submission

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ASSIGNMENT = "ps0-warmup"
RIGHT, WRONG = "dust-student1", "dust-student2"
WRONG_ANSWER = {"q1_figures_per_article": "figures_per_article = len(figures)"}
WRONG_MESSAGE = "figures_per_article should be a pandas Series"
SPAWN_TIMEOUT = 180_000  # ms: two JupyterLabs starting on a busy 2-core machine
KERNEL_TIMEOUT = 120_000


class HubCourse:
    """The hub, its passwords, and the instructor's course (Course from conftest)."""

    def __init__(self, hub, passwords: dict[str, str], course: Course, top: Path):
        self.hub, self.passwords, self.course, self.top = hub, passwords, course, top
        self.external: list[str] = []
        # generate_assignment runs while the hub and the students' servers start
        self.generated = ThreadPoolExecutor(1).submit(course.generate, ASSIGNMENT)
        self.timestamps: dict[str, list[str]] = {}

    def nbgrader(self, step: str, assignment: str) -> dict:
        """An instructor's exchange step (release_assignment, collect, release_feedback)
        through nbgrader's API, which formgrader's buttons call, in this process (an
        nbgrader start-up less each; same course config, same exchange classes)."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        from dustcourse.grading.autograde import load_config

        self.generated.result()  # the gradebook knows the assignment
        config = load_config(self.course.root)
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        result = getattr(api, step)(assignment)
        assert result["success"], result
        return result

    def dustcourse(self, *args: str) -> str:
        result = subprocess.run(
            [str(VENV_BIN / "dustcourse"), *args, "--root", str(self.course.root)],
            env=nbgrader_env(self.course.home), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    def home(self, user: str) -> Path:
        return self.hub.home(user)


def _fresh_home(user: str) -> None:
    """Take away what an earlier test session left in a trial account's home."""
    home = Path(pwd.getpwnam(user).pw_dir)
    for name in (ASSIGNMENT, ".local/share/jupyter", ".jupyter/lab/workspaces"):
        shutil.rmtree(home / name, ignore_errors=True)


@pytest.fixture(scope="session")
def hub_course():
    """The hub (once per session) and a released assignment."""
    if os.geteuid() != 0:
        pytest.skip("the hub runs as root (it spawns each student's server as the student)")
    top = Path(tempfile.mkdtemp(prefix="dustcourse-hub-"))
    top.chmod(0o755)  # the students reach the exchange and their settings through it
    try:
        hub = configure(top / "hub", exchange=top / "exchange", port=free_port())
    except HubError as exc:
        shutil.rmtree(top)
        pytest.fail(str(exc))
    for user in hub.students:
        _fresh_home(user)
    passwords = set_passwords(hub.students)
    # The instructor's course, closed as an instructor's home is (0700).
    instructor = top / "instructor"
    instructor.mkdir(mode=0o700)
    (instructor / "course").mkdir()
    course = Course(instructor / "course")
    with (course.root / "nbgrader_config.py").open("a") as config:
        config.write(f"\n# the hub's exchange (tests/test_hub.py)\n"
                     f"c.Exchange.root = {str(hub.exchange)!r}\n"
                     "c.LateSubmissionPlugin.penalty_method = 'zero'\n")
    hub_course = HubCourse(hub, passwords, course, top)
    try:
        start_hub(hub)
        yield hub_course
    except HubError as exc:
        pytest.fail(str(exc))
    finally:
        stop_hub(hub)
        wait([hub_course.generated])
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def students(browser, hub_course):
    """A logged-in page in its own browser context for each student."""
    pages, contexts = {}, []
    url = hub_course.hub.url

    def outside(route) -> None:  # record and refuse anything not for the hub
        hub_course.external.append(route.request.url)
        route.abort()

    for user in (RIGHT, WRONG):  # both log in first: their servers start side by side
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route(re.compile(r"^(?!" + re.escape(url) + r"|data:|blob:).*"), outside)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/hub/login")
        page.locator("#username_input").fill(user)
        page.locator("#password_input").fill(hub_course.passwords[user])
        page.locator("#login_submit").click()
        pages[user] = page
    for user, page in pages.items():
        try:
            page.wait_for_url(re.compile(rf"/user/{user}/lab"), timeout=SPAWN_TIMEOUT)
            page.locator("#jp-MainMenu").wait_for(timeout=SPAWN_TIMEOUT)
        except PlaywrightError as exc:
            pytest.fail(f"{user}'s JupyterLab did not open ({exc}); the hub's log:\n"
                        + hub_course.hub.log.read_text()[-3000:])
    yield pages
    for context in contexts:
        context.close()


# --- what a student does in JupyterLab's Assignment List ----------------------------

def shot(page, name: str) -> None:
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"hub-{name}.png")


def assignment_list(page):
    """Open Nbgrader -> Assignment List (once) and return its panel."""
    panel = page.locator("#nbgrader-assignment-list")
    if not panel.is_visible():
        page.locator("#jp-MainMenu").get_by_text("Nbgrader", exact=True).click()
        page.locator('li.lm-Menu-item[data-command="nbgrader:open-assignment-list"]').click()
    panel.wait_for()
    return panel


def row(panel, list_id: str):
    return panel.locator(f"#{list_id} .list_item").filter(has_text=ASSIGNMENT).first


def fetch(page) -> None:
    panel = assignment_list(page)
    row(panel, "released_assignments_list").get_by_role("button", name="Fetch").click()
    row(panel, "fetched_assignments_list").wait_for()


def answer(hub_course, user: str, answers: dict | None, *, solve: bool) -> None:
    """The student's notebook answered (written into their fetched copy, as theirs)."""
    path = hub_course.home(user) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    source = hub_course.course.source(ASSIGNMENT)
    nbformat.write(make_submission(path, source, answers, solve=solve), path)
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def validate(page) -> str:
    """Validate the notebook from the Assignment List; the dialog's text."""
    panel = assignment_list(page)
    fetched = row(panel, "fetched_assignments_list")
    button = fetched.get_by_role("button", name="Validate").first
    if not button.is_visible():
        fetched.locator("a").filter(has_text=ASSIGNMENT).first.click()  # its notebooks
    button.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=KERNEL_TIMEOUT)
    text = dialog.text_content()
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached")
    return text


def submit(page, count: int) -> None:
    """Submit; wait until the Assignment List shows ``count`` submissions."""
    panel = assignment_list(page)
    row(panel, "fetched_assignments_list").get_by_role("button", name="Submit").click()
    expect(panel.locator("#submitted_assignments_list .nested_list_item")
           .filter(has_text=re.compile(r"\d{4}-\d\d-\d\d"))).to_have_count(count, timeout=60_000)


def fetch_feedback(page) -> None:
    panel = assignment_list(page)
    panel.get_by_role("button", name="Fetch Feedback").first.click()
    expect(panel.get_by_text("(view feedback)").first).to_be_visible(timeout=60_000)


def submission_times(hub_course, user: str) -> list[str]:
    """Timestamps of the student's submissions in the exchange's inbound (the
    instructor's view), oldest first."""
    inbound = hub_course.hub.exchange / hub_course.hub.course_id / "inbound"
    return sorted(p.name.split("+")[2] for p in inbound.glob(f"{user}+{ASSIGNMENT}+*"))


def hidden_lines(source: Path) -> list[str]:
    """The lines of the instructor's hidden tests (long enough to be telling)."""
    from dustcourse.grading.feedback import BEGIN_HIDDEN, END_HIDDEN

    lines, inside = [], False
    for cell in nbformat.read(source, as_version=4).cells:
        for line in cell.source.splitlines():
            if BEGIN_HIDDEN in line or END_HIDDEN in line:
                inside = BEGIN_HIDDEN in line
            elif inside and len(line.strip()) > 25:
                lines.append(line.strip())
    return lines


# --- the loop ---------------------------------------------------------------------

def test_release_fetch_submit_grade_and_return_feedback(hub_course, students):
    from nbgrader.api import Gradebook

    course, hub = hub_course.course, hub_course.hub
    right, wrong = students[RIGHT], students[WRONG]

    # 1. The instructor releases the exercise (exercises/ps0-warmup) to the exchange.
    hub_course.nbgrader("release_assignment", ASSIGNMENT)
    outbound = hub.exchange / hub.course_id / "outbound" / ASSIGNMENT
    assert (outbound / f"{ASSIGNMENT}.ipynb").is_file()

    # 2. Both students fetch it from the Assignment List into their home.
    for user, page in students.items():
        fetch(page)
        fetched = hub_course.home(user) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert fetched.stat().st_uid == pwd.getpwnam(user).pw_uid  # theirs, not root's
    shot(right, "1-fetched")

    # 3. dust-student1: the right answers, validated, submitted on time.
    answer(hub_course, RIGHT, None, solve=True)
    assert "Success! Your notebook passes all the tests." in validate(right)
    submit(right, 1)

    # dust-student2: the blank notebook submitted on time ...
    submit(wrong, 1)
    # ... the deadline passes (the instructor sets it in the gradebook) ...
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=datetime.now(UTC)
                                       .replace(tzinfo=None))
    # ... then a wrong answer, validated (its public check fails) and submitted late.
    answer(hub_course, WRONG, WRONG_ANSWER, solve=True)
    report = validate(wrong)
    assert WRONG_MESSAGE in report and "Success!" not in report, report
    submit(wrong, 2)
    shot(wrong, "2-submitted-twice")
    assert len(submission_times(hub_course, WRONG)) == 2

    # 4. The instructor collects, grades, writes and releases feedback.
    hub_course.nbgrader("collect", ASSIGNMENT)
    submitted = course.root / "submitted" / WRONG / ASSIGNMENT
    # the second submission replaced the first: its time and its (wrong) answer
    assert (submitted / "timestamp.txt").read_text().strip() == submission_times(
        hub_course, WRONG)[-1]
    assert "len(figures)" in (submitted / f"{ASSIGNMENT}.ipynb").read_text()
    # (the robustness run is the grading tests' concern: left out of this one)
    hub_course.dustcourse("grade", "autograde", ASSIGNMENT, "--no-robustness")
    hub_course.dustcourse("grade", "feedback", ASSIGNMENT)
    for user in (RIGHT, WRONG):  # nbgrader's key to the student's copy of the feedback
        assert (course.root / "feedback" / user / ASSIGNMENT / "submission_secret.txt").is_file()
    hub_course.nbgrader("release_feedback", ASSIGNMENT)

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        on_time = gb.find_submission(ASSIGNMENT, RIGHT)
        late = gb.find_submission(ASSIGNMENT, WRONG)
        assert on_time.total_seconds_late == 0 and late.total_seconds_late > 0
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, WRONG)
        raw, penalty = notebook.score, notebook.late_submission_penalty
        right_score, max_score = on_time.score, on_time.max_score
    assert 0 < raw < right_score  # the wrong answer lost its points ...
    assert penalty == raw  # ... and the late penalty ('zero') took the rest

    # 5. Each student fetches the feedback from the Assignment List and reads it.
    pages = {}
    for user, page in students.items():
        fetch_feedback(page)
        shot(page, f"3-feedback-{user}")
        html = sorted((hub_course.home(user) / ASSIGNMENT / "feedback").glob(
            f"*/{ASSIGNMENT}.html"))
        assert len(html) == 1, html
        page.goto(f"{hub.url}/user/{user}/files/{html[0].relative_to(hub_course.home(user))}")
        pages[user] = page.locator("body").inner_text()
        shot(page, f"4-feedback-page-{user}")
    hidden = hidden_lines(course.source(ASSIGNMENT))
    assert hidden, "ps0-warmup has hidden tests"
    for text in pages.values():
        assert "HIDDEN TESTS" not in text
        assert not [line for line in hidden if line in text]
    failed = f"AssertionError: {WRONG_MESSAGE}"  # the failed public check's message
    assert failed in pages[WRONG] and failed not in pages[RIGHT]
    assert f"Score: {right_score:.1f} / {max_score:.1f}" in pages[RIGHT]
    assert f"Score: 0.0 / {max_score:.1f}" in pages[WRONG]
    assert f"Late submission penalty: −{raw:.1f}" in pages[WRONG]
    assert "Late submission" not in pages[RIGHT]

    # Nothing the students' browsers asked for left this machine.
    assert not hub_course.external, hub_course.external


# --- isolation, from a student's own kernel ----------------------------------------

def run_in_kernel(hub_course, user: str, code: str) -> str:
    """Run ``code`` in a new kernel of ``user``'s JupyterLab (the hub's API with the
    course tools' token); what it printed (and any traceback)."""
    import requests
    import websocket

    hub = hub_course.hub
    headers = {"Authorization": f"token {hub.api_token}"}
    base = f"{hub.url}/user/{user}/api/kernels"
    kernel = requests.post(base, headers=headers, json={}, timeout=60).json()
    ws = websocket.create_connection(
        f"{base.replace('http', 'ws', 1)}/{kernel['id']}/channels",
        header=[f"Authorization: token {hub.api_token}"], timeout=KERNEL_TIMEOUT / 1000)
    msg_id = uuid.uuid4().hex
    try:
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user,
                       "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
        }))
        out = []
        while True:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                out.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        ws.close()
        requests.delete(f"{base}/{kernel['id']}", headers=headers, timeout=60)


PROBE = """
import os, pwd
print("user", pwd.getpwuid(os.getuid()).pw_name)
for path in {paths!r}:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").read(1)
        print("READABLE", path)
    except PermissionError:
        print("refused", path)
"""


def submissions(hub_course, user: str) -> list[Path]:
    """The notebooks of ``user``'s submissions in the exchange's inbound."""
    inbound = hub_course.hub.exchange / hub_course.hub.course_id / "inbound"
    found = sorted(inbound.glob(f"{user}+{ASSIGNMENT}+*/{ASSIGNMENT}.ipynb"))
    assert found, "the loop's test submitted first"
    return found


def test_a_student_reads_no_one_elses_work_nor_the_instructors(hub_course, students):
    hub, course = hub_course.hub, hub_course.course
    other = hub_course.home(RIGHT)
    exchange = hub.exchange / hub.course_id
    closed = [
        other,  # the other student's home: their work, fetched feedback, submission cache
        other / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        other / ".local/share/jupyter/nbgrader_cache",
        exchange / "inbound",  # everyone's submissions: not listable
        exchange / "feedback",  # everyone's released feedback: not listable
        *submissions(hub_course, RIGHT),  # even by its full name (dustcourse.hub_exchange)
        course.root,
        course.root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        course.root / "gradebook.db",
        course.root / "submitted" / RIGHT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        course.root / "feedback" / RIGHT / ASSIGNMENT / f"{ASSIGNMENT}.html",
    ]
    # submissions belong to the student and the group of inbound/ (the instructor's)
    inbound = exchange / "inbound"
    for notebook in submissions(hub_course, RIGHT):
        folder = notebook.parent.stat()
        assert folder.st_gid == inbound.stat().st_gid and folder.st_mode & 0o777 == 0o770
        assert notebook.stat().st_mode & 0o777 == 0o640
    out = run_in_kernel(hub_course, WRONG, PROBE.format(paths=[str(p) for p in closed]))
    assert f"user {WRONG}" in out, out  # the kernel runs as the student, not as root
    assert "READABLE" not in out, out
    assert out.count("refused") == len(closed), out
    # and the student's own work is theirs to read
    own = [hub_course.home(WRONG) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
           submissions(hub_course, WRONG)[-1]]
    out = run_in_kernel(hub_course, WRONG, PROBE.format(paths=[str(p) for p in own]))
    assert out.count("READABLE") == len(own), out
