"""Shared fixtures: the project's paths and a throw-away nbgrader course."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

# tests/xdist_groups.py: the tests sharing a session fixture run on one xdist worker
pytest_plugins = ["xdist_groups"]

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# A gradebook URL from the developer's shell would send every test course's grades
# there: each course names its own gradebook (Course.db_url).
os.environ.pop("DUSTCOURSE_DB_URL", None)


def nbgrader_env(home: Path) -> dict[str, str]:
    """Environment for running nbgrader: the venv first on PATH, a fake HOME so no
    user-level jupyter or nbgrader config can leak into the run."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["HOME"] = str(home)
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env.pop(var, None)
    return env


class Course:
    """A copy of the course's nbgrader setup in a temporary folder.

    nbgrader runs there as the instructor would run it in the project root
    (same nbgrader_config.py, same solutions/), but with its own gradebook: SQLite in
    gradebook.db, or the database at ``db_url`` (set as DUSTCOURSE_DB_URL for nbgrader).
    """

    def __init__(self, root: Path, db_url: str | None = None):
        self.root = root
        self.db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
        self._env = {"DUSTCOURSE_DB_URL": db_url} if db_url else {}
        self.home = root.parent / "home"
        self.home.mkdir(exist_ok=True)
        shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
        # symlinks=False: data files that are symlinks into data/ become real copies
        shutil.copytree(ROOT / "solutions", root / "solutions", symlinks=False)

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=self.root,
            env={**nbgrader_env(self.home), **self._env},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"nbgrader {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    @classmethod
    def fresh(cls, root: Path) -> Course:
        """A course in ``root``, emptied first (for paths outside pytest's tmp folders)."""
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return cls(root)

    def generate(self, assignment: str) -> tuple[Path, Path]:
        """Run generate_assignment; return the student (release) and source notebooks."""
        self.nbgrader("generate_assignment", assignment, "--force")
        return self.release(assignment), self.source(assignment)

    def release(self, assignment: str) -> Path:
        """The generated student version of ``assignment``."""
        return self.root / "exercises" / assignment / f"{assignment}.ipynb"

    def source(self, assignment: str) -> Path:
        """The instructor's version (solutions and all tests)."""
        return self.root / "solutions" / assignment / f"{assignment}.ipynb"

    def autograde(self, assignment: str, timeout: int = 5) -> subprocess.CompletedProcess:
        """Autograde every submission (per-cell timeout in seconds); never raises."""
        return self.nbgrader("autograde", assignment, f"--Execute.timeout={timeout}", check=False)

    def submit(self, student: str, assignment: str, notebook) -> Path:
        """Place a notebook (NotebookNode, or bytes for a corrupt file) as a submission."""
        import nbformat

        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{assignment}.ipynb"
        if isinstance(notebook, bytes):
            path.write_bytes(notebook)
        else:
            nbformat.write(notebook, path)
        (folder / "timestamp.txt").write_text("2026-11-23 09:00:00.000000 UTC\n")
        return path

    def submit_answers(self, student: str, assignment: str, answers=None, *, solve=True) -> Path:
        """Submit the released notebook with answers filled in (see make_submission):
        the instructor's solution, the given wrong answers, or blank (solve=False)."""
        from dustcourse.submissions import make_submission

        release = self.root / "exercises" / assignment / f"{assignment}.ipynb"
        source = self.root / "solutions" / assignment / f"{assignment}.ipynb"
        return self.submit(
            student, assignment, make_submission(release, source, answers, solve=solve)
        )

    def scores(self, student: str, assignment: str) -> dict[str, float | None]:
        """grade_id -> points the autograder gave each graded cell (None: graded by hand)."""
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url) as gb:
            nb = gb.find_submission_notebook(assignment, assignment, student)
            return {g.name: g.auto_score for g in nb.grades}


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (tests/postgres_server.py), started once per session;
    ``postgres.create_database(name)`` gives the URL of a new, empty database."""
    from postgres_server import PostgresServer

    with PostgresServer() as server:
        yield server


def _contract_course(root: Path, assignment: str, wrong: dict, correct: dict) -> Course:
    """The exercise contract's class, submitted but not yet graded: "perfect" (the
    instructor's solution), "blank" (the student version), one student per wrong answer
    and one per correct alternative answer (``{student: {grade_id: code}}``)."""
    root.mkdir(parents=True)
    course = Course(root)
    course.generate(assignment)
    course.submit_answers("perfect", assignment)
    course.submit_answers("blank", assignment, solve=False)
    for student, answers in {**wrong, **correct}.items():
        course.submit_answers(student, assignment, answers)
    return course


def _autograde_errors(result: subprocess.CompletedProcess) -> str:
    """What went wrong in a failed `nbgrader autograde` run: each traceback it logged,
    with the lines before it (nbgrader prints only a summary at the end)."""
    lines = (result.stdout + result.stderr).splitlines()
    starts = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line]
    if not starts:
        return "\n".join(lines[-40:])
    return "\n\n".join("\n".join(lines[max(0, i - 5):i + 40]) for i in starts[:3])


@pytest.fixture(scope="session")
def contract_courses(request, tmp_path_factory) -> dict[str, Course]:
    """The classes of every ExerciseContract selected in this session, built and graded
    by stock `nbgrader autograde` runs side by side (nbgrader grades serially, so the
    runs share the cores instead of waiting for each other)."""
    from concurrent.futures import ThreadPoolExecutor

    contracts = {item.cls.ASSIGNMENT: item.cls for item in request.session.items
                 if item.cls is not None and issubclass(item.cls, ExerciseContract)}

    # tmp_path_factory is not thread-safe (its base folder is made on first use)
    roots = {a: tmp_path_factory.mktemp(a) / "course" for a in contracts}

    def grade(contract) -> Course:
        root = roots[contract.ASSIGNMENT]
        course = _contract_course(root, contract.ASSIGNMENT, contract.WRONG, contract.CORRECT)
        contract.submit_more(course)
        result = course.autograde(contract.ASSIGNMENT, timeout=contract.TIMEOUT)
        if not contract.SOME_SUBMISSIONS_FAIL:
            assert result.returncode == 0, _autograde_errors(result)
        course.autograde_result = result
        return course

    with ThreadPoolExecutor(max(1, len(contracts))) as pool:
        futures = {a: pool.submit(grade, c) for a, c in contracts.items()}
        return {a: f.result() for a, f in futures.items()}


class ExerciseContract:
    """The exercise contract, checked through one real `nbgrader autograde` run.

    A test module subclasses it as ``class TestContract(ExerciseContract)`` and sets
    ASSIGNMENT, AUTOGRADED ({test grade id: points}), WRONG ({student: {answer grade
    id: code}}), EXPECTED_LOSS ({student: test grade ids it fails}) and optionally
    CORRECT (correct answers written differently). The solution and every CORRECT
    student score full marks (manual answers left for hand grading), the blank student
    version scores zero, and each wrong answer loses exactly the points it should.
    """

    ASSIGNMENT: ClassVar[str]
    AUTOGRADED: ClassVar[dict[str, float]]
    WRONG: ClassVar[dict[str, dict[str, str]]]
    EXPECTED_LOSS: ClassVar[dict[str, set[str]]]
    CORRECT: ClassVar[dict[str, dict[str, str]]] = {}
    TIMEOUT: ClassVar[int] = 30  # seconds per cell
    SOME_SUBMISSIONS_FAIL: ClassVar[bool] = False  # nbgrader exits non-zero (corrupt files)

    @classmethod
    def submit_more(cls, course: Course) -> None:
        """Further submissions of the class (robustness cases); none by default."""

    def pytest_generate_tests(self, metafunc):
        if "correct_student" in metafunc.fixturenames:
            metafunc.parametrize("correct_student", ["perfect", *sorted(self.CORRECT)])
        if "wrong_student" in metafunc.fixturenames:
            metafunc.parametrize("wrong_student", sorted(self.WRONG))

    @pytest.fixture
    def course(self, contract_courses):
        return contract_courses[self.ASSIGNMENT]

    def autograded(self, course, student):
        scores = course.scores(student, self.ASSIGNMENT)
        return {k: scores[k] for k in self.AUTOGRADED}

    def test_wrong_answers_are_realistic_and_accounted_for(self):
        assert set(self.EXPECTED_LOSS) == set(self.WRONG)
        assert all(loss <= set(self.AUTOGRADED) for loss in self.EXPECTED_LOSS.values())

    def test_correct_answers_score_full_marks(self, course, correct_student):
        assert self.autograded(course, correct_student) == self.AUTOGRADED
        scores = course.scores(correct_student, self.ASSIGNMENT)
        manual = {k: v for k, v in scores.items() if k not in self.AUTOGRADED}
        assert manual and all(v is None for v in manual.values()), manual  # hand grading

    def test_blank_student_version_scores_zero(self, course):
        assert self.autograded(course, "blank") == dict.fromkeys(self.AUTOGRADED, 0)

    def test_wrong_answer_loses_exactly_its_points(self, course, wrong_student):
        expected = {k: (0 if k in self.EXPECTED_LOSS[wrong_student] else v)
                    for k, v in self.AUTOGRADED.items()}
        assert self.autograded(course, wrong_student) == expected


def exercise_contract(assignment: str, autograded: dict, wrong: dict, expected_loss: dict,
                      correct: dict | None = None) -> type:
    """A test class checking ExerciseContract for one problem set (assign it to a
    module-level name starting with Test)."""
    return type("TestContract", (ExerciseContract,), {
        "ASSIGNMENT": assignment, "AUTOGRADED": autograded, "WRONG": wrong,
        "EXPECTED_LOSS": expected_loss, "CORRECT": correct or {},
        "__doc__": f"The exercise contract of {assignment}.",
    })


@pytest.fixture(scope="session")
def hostile_class():
    """tests/hostile_class.py's class, graded once with the local executor (2 workers)."""
    from hostile_class import build_and_grade

    # Not under /tmp, which the sandbox replaces anyway: the course folder must be
    # hidden from student code by the sandbox itself, as it is in real use.
    return build_and_grade(Course.fresh(ROOT / "_build" / "test-pipeline-course"), jobs=2)


@pytest.fixture(scope="session")
def robust_ps0_class(tmp_path_factory):
    """ps0 graded once with the robustness run (local executor, 2 workers, fixed secret):
    (course, {student: Outcome}). The solution ("perfect"), the blank version, the
    typed-numbers student ("typed"), a wrong answer ("value_unit_only") and the correct
    answers in other idioms of tests/test_grading_ps0.py."""
    from exercise_fixtures import grade_with_robustness
    from test_grading_ps0 import CORRECT, WRONG
    from typed_answers import typed_answers

    assignment = "ps0-warmup"
    course = Course.fresh(tmp_path_factory.mktemp("robust") / "course")
    course.generate(assignment)
    course.submit_answers("perfect", assignment)
    course.submit_answers("blank", assignment, solve=False)
    course.submit_answers("typed", assignment, typed_answers(course.source(assignment)))
    course.submit_answers("value_unit_only", assignment, WRONG["value_unit_only"])
    for student, answers in CORRECT.items():
        course.submit_answers(student, assignment, answers)
    return course, grade_with_robustness(course, assignment)


@pytest.fixture
def course(tmp_path: Path) -> Course:
    root = tmp_path / "course"
    root.mkdir()
    return Course(root)


# --- Browser tests: Debian's Chromium driven by Playwright ---------------------------

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package, installed by scripts/setup.sh
# Headless and quiet: no sandbox (CI runs as root), no GPU, and none of Chromium's own
# connections (updates, sync, field trials), which this machine's closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for a whole test module (never a browser Playwright downloads)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


class StaticServer:
    """Serve a folder over HTTP on 127.0.0.1 (random port) from a thread.

    with StaticServer(folder) as base_url: ...   # base_url ends with "/"
    """

    def __init__(self, directory: Path):
        import functools
        import http.server

        class QuietHandler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"

    def __enter__(self) -> str:
        import threading

        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.url

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def book_html() -> Path:
    """The built book the browser tests read: $DUSTCOURSE_BOOK_HTML or _build/html."""
    return Path(os.environ.get("DUSTCOURSE_BOOK_HTML", ROOT / "_build" / "html")).resolve()


def screenshot_dir() -> Path:
    """Where the browser tests save their screenshots: beside the built book."""
    return book_html().parent / "test-screenshots"
