"""Grade integrity on the execution side (issue 19, items 1, 5, 6, 7 and 10).

Real sandboxed runs of ps0 submissions, compared with stock `nbgrader autograde` where
nbgrader's own tests make an assertion (infinite-loop*.ipynb, timeout.ipynb,
validating-environment-variable.ipynb, side-effects.ipynb): the sandbox's cell limit,
the kernel's environment, the files a notebook writes, what the sandbox can see, the
exit status of `dustcourse grade autograde` and Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, Course, nbgrader_env

from dustcourse.grading import sandbox
from dustcourse.grading.autograde import autograde, read_status
from dustcourse.grading.execute import execute_notebook
from dustcourse.grading.sandbox import Limits

A = "ps0-warmup"
CELL_LIMIT = 10
LIMITS = Limits(cell_timeout=CELL_LIMIT, notebook_timeout=120, memory_bytes=2 * 1024**3)
ANSWER = 'figures_per_article = figures["article"].value_counts()\n'

# A hidden test hangs: the student's answer is right, but a trace hook makes any later
# code that checks figures_per_article loop forever (a test calling a looping function)
HANGING_TEST = ANSWER + (
    "import sys\n"
    "def _hook(frame, event, arg):\n"
    "    if {'figures_per_article', 'isinstance'} <= set(frame.f_code.co_names):\n"
    "        while True:\n"
    "            pass\n"
    "sys.settrace(_hook)\n"
)
SUBMISSIONS = {
    # nbgrader's infinite-loop.ipynb in an answer cell: the cell is interrupted
    "answer_loop": "while True:\n    pass\n",
    "hanging_test": HANGING_TEST,
    # ignores the interrupt: the kernel is killed, nothing after it counts
    "ignores_interrupt": ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                          "while True:\n    pass\n"),
    # nbgrader's validating-environment-variable.ipynb
    "env_check": ("import os\n" + ANSWER + "if os.getenv('NBGRADER_EXECUTION'):\n"
                  "    figures_per_article = None\n"),
    # nbgrader's side-effects.ipynb, and files that must not come back
    "side_effects": ANSWER + (
        "import os\n"
        "with open('side-effect.txt', 'w') as fh:\n"
        "    fh.write('a side effect')\n"
        "os.makedirs('out', exist_ok=True)\n"
        "open('out/table.csv', 'w').write('a,b\\n1,2\\n')\n"
        "open('big.bin', 'wb').write(b'x' * (11 * 1024**2))\n"
        "open('timestamp.txt', 'w').write('2000-01-01 00:00:00 UTC')\n"
        "for name, target in [('link.txt', '/etc/nsswitch.conf'), ('loop', '.')]:\n"
        "    os.symlink(target, name)\n"
        "os.mkfifo('fifo')\n"
    ),
}


@pytest.fixture(scope="module")
def graded():
    """The class graded by our pipeline (2 local workers, sandbox on) and by stock nbgrader."""
    course = Course.fresh(ROOT / "_build" / "test-execution-course")
    course.generate(A)
    course.submit_answers("perfect", A)
    for student, code in SUBMISSIONS.items():
        course.submit_answers(student, A, {"q1_figures_per_article": code})
    stock = Course.fresh(ROOT / "_build" / "test-execution-stock")
    stock.generate(A)
    for student in ("perfect", "answer_loop", "hanging_test", "env_check", "side_effects"):
        shutil.copytree(course.root / "submitted" / student, stock.root / "submitted" / student)
    stock_run = subprocess.Popen(
        [sys.executable, "-m", "nbgrader", "autograde", A, f"--Execute.timeout={CELL_LIMIT}"],
        cwd=stock.root, env=nbgrader_env(stock.home), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    outcomes = {o.student: o for o in autograde(course.root, A, jobs=2, limits=LIMITS)}
    stock_run.wait(timeout=600)
    return course, outcomes, stock


def _cell(course, student, grade_id):
    path = course.root / "autograded" / student / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_hanging_cells_score_as_in_stock_nbgrader(graded):
    """An interrupted cell scores 0 and the rest is graded, as stock nbgrader does."""
    course, outcomes, stock = graded
    for student in ("perfect", "answer_loop", "hanging_test", "env_check"):
        assert course.scores(student, A) == stock.scores(student, A), student
    scores = course.scores("hanging_test", A)
    assert scores["q1_figures_per_article_tests"] == 0
    assert scores["q2_implied_rate_tests"] == 2  # the next test still runs and passes
    assert outcomes["answer_loop"].score == outcomes["hanging_test"].score == 6


@pytest.mark.parametrize("student,grade_id", [("answer_loop", "q1_figures_per_article"),
                                              ("hanging_test", "q1_figures_per_article_tests")])
def test_a_cell_past_the_limit_gets_a_timeout_error_quoting_the_limit(graded, student, grade_id):
    course, outcomes, _ = graded
    errors = [o for o in _cell(course, student, grade_id).outputs if o.output_type == "error"]
    assert "CellTimeoutError" in [e.ename for e in errors]
    assert any(f"exceeded the {CELL_LIMIT} s cell limit" in e.evalue for e in errors)
    assert outcomes[student].status == "timeout"
    assert f"exceeded the {CELL_LIMIT} s cell limit" in outcomes[student].reason


def test_a_cell_ignoring_the_interrupt_is_killed_and_nothing_after_it_counts(graded):
    course, outcomes, _ = graded
    outcome = outcomes["ignores_interrupt"]
    assert (outcome.status, outcome.score) == ("timeout", 0), outcome
    assert "the kernel was stopped" in outcome.reason
    assert f"{CELL_LIMIT} s cell limit" in outcome.reason
    assert outcome.seconds < 4 * CELL_LIMIT + 60  # interrupted, then killed: not hung
    enames = [o.ename for o in _cell(course, "ignores_interrupt",
                                     "q1_figures_per_article").outputs
              if o.output_type == "error"]
    assert enames == ["CellTimeoutError"]


def test_the_kernel_sees_nbgrader_execution(graded):
    """nbgrader's test_grade_with_validating_envvar: the cell checking it scores 0."""
    course, _, stock = graded
    assert course.scores("env_check", A)["q1_figures_per_article_tests"] == 0
    assert stock.scores("env_check", A)["q1_figures_per_article_tests"] == 0


def test_files_the_notebook_writes_are_copied_back_safely(graded):
    """nbgrader's test_side_effects, with only regular files of bounded size."""
    course, outcomes, stock = graded
    ours = course.root / "autograded" / "side_effects" / A
    theirs = stock.root / "autograded" / "side_effects" / A
    assert (theirs / "side-effect.txt").is_file()  # what nbgrader's test asserts
    assert (ours / "side-effect.txt").read_text() == "a side effect"
    assert (ours / "out" / "table.csv").read_text() == "a,b\n1,2\n"
    assert not (course.root / "submitted" / "side_effects" / A / "side-effect.txt").exists()
    for name in ("link.txt", "loop", "fifo", "big.bin", "kernel.json"):
        assert not os.path.lexists(ours / name), name
    assert "2000" not in (ours / "timestamp.txt").read_text()
    assert outcomes["side_effects"].score == 7
    assert "not kept (size limits)" in outcomes["side_effects"].reason


# --- what the sandbox sees ---------------------------------------------------------

def test_sandbox_policy_is_an_allow_list(tmp_path):
    from dustcourse.grading.sandbox import python_trees, sandbox_policy

    scratch = str(tmp_path)
    policy = sandbox_policy(scratch, Limits(), env={"NBGRADER_EXECUTION": "autograde"})
    bound = [m for m in policy.mounts if m[0] in ("ro", "rw")]
    pythons = python_trees()
    # of the course folder, one file: its matplotlibrc (the fonts), read-only and named
    rc = str((ROOT / "dustcourse" / "matplotlibrc").resolve())
    assert ("ro", rc) in bound and dict(policy.env)["MATPLOTLIBRC"] == rc
    assert policy.mounts.index(("ro", rc)) > max(
        i for i, m in enumerate(policy.mounts) if m[0] == "tmpfs"), "after the hidden folders"
    for kind, path in bound:
        assert kind == "ro" or path == scratch, (kind, path)
        top = "/" + Path(path).parts[1]
        if top in ("/root", "/home", "/work", "/srv", "/opt", "/mnt", "/var", "/run", "/tmp"):
            assert path in pythons or path in (scratch, rc), path
    assert not any(path in ("/", "/etc", "/root", "/home", "/work") for _, path in bound)
    assert ("tmpfs", "/tmp") in policy.mounts
    assert policy.mounts.index(("tmpfs", "/tmp")) < policy.mounts.index(("rw", scratch))
    assert dict(policy.env)["NBGRADER_EXECUTION"] == "autograde"
    assert dict(policy.env)["HOME"] == "/tmp"
    assert "DUSTCOURSE_GRADING_SECRET" not in dict(policy.env)  # the environment is cleared
    assert policy.limits == Limits() and policy.workdir == scratch


@pytest.fixture
def decoys():
    """Files holding hidden tests beside the course, in $HOME and in another checkout."""
    home = Path(os.path.expanduser("~"))
    places = [ROOT.parent / f"decoy-checkout-{os.getpid()}" / "solutions" / A,  # beside
              home / f".decoy-{os.getpid()}" / "solutions" / A,
              ROOT / "_build" / f"decoy-{os.getpid()}" / "solutions" / A]
    files = []
    for place in places:
        place.mkdir(parents=True)
        (place / f"{A}.ipynb").write_text("### BEGIN HIDDEN TESTS\nassert secret\n")
        (place / f"{A}.ipynb").chmod(0o644)
        files.append(place / f"{A}.ipynb")
    yield files
    for place in places:
        shutil.rmtree(place.parents[1], ignore_errors=True)


def test_student_code_cannot_read_or_list_files_outside_its_folder(decoys):
    probe = (
        "import os\n"
        f"paths = {[str(p) for p in decoys]!r}\n"
        "found = []\n"
        "for p in paths:\n"
        "    try:\n"
        "        found.append(open(p).read()[:30])\n"
        "    except OSError:\n"
        "        pass\n"
        "listed = []\n"
        "for p in paths:\n"
        "    for up in (1, 2, 3, 4):\n"
        "        folder = p\n"
        "        for _ in range(up):\n"
        "            folder = os.path.dirname(folder)\n"
        "        try:\n"
        "            listed += [n for n in os.listdir(folder)\n"
        "                       if 'decoy' in n or n == 'solutions']\n"
        "        except OSError:\n"
        "            pass\n"
        "hits = []\n"
        "for top in ('/work', '/root', '/home', '/srv', '/opt', '/mnt', '/var', '/tmp'):\n"
        "    for folder, _, names in os.walk(top):\n"
        "        for n in names:\n"
        "            if n.endswith('.ipynb') and 'decoy' in folder:\n"
        "                hits.append(os.path.join(folder, n))\n"
        "print('FOUND', found, 'LISTED', listed, 'HITS', hits)\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(probe)]
    result = execute_notebook(nbformat.writes(nb), limits=Limits(cell_timeout=120))
    assert result.status == "ok", result.reason
    out = nbformat.reads(result.notebook, as_version=4).cells[0].outputs
    assert [o.get("text") for o in out] == ["FOUND [] LISTED [] HITS []\n"], out
    # the same probe outside the sandbox does find them: the test can tell
    outside = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert "BEGIN HIDDEN" in outside.stdout


def test_matplotlib_pandas_and_the_cjk_font_work_in_the_sandbox(tmp_path):
    os.chmod(tmp_path, 0o777)
    code = (
        "import matplotlib\n"
        "matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt, pandas as pd\n"
        "from matplotlib import font_manager\n"
        "cjk = [f.name for f in font_manager.fontManager.ttflist if 'CJK' in f.name]\n"
        "assert cjk, 'no CJK font'\n"
        "plt.rcParams['font.family'] = cjk[0]\n"
        "ax = pd.Series([1, 2]).plot()\n"
        "ax.set_title('隐入尘烟')\n"
        "plt.savefig('plot.png')\n"
        "print('ok', cjk[0])\n"
    )
    cmd = sandbox.bwrap_command(str(tmp_path), Limits())
    result = subprocess.run([*cmd, sys.executable, "-W", "error::UserWarning", "-c", code],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok Noto")
    assert (tmp_path / "plot.png").stat().st_size > 1000


# --- the command: exit status and Ctrl-C -------------------------------------------

def _cli(root: Path, *args: str, tmpdir: Path) -> subprocess.Popen:
    env = nbgrader_env(root.parent / "home")
    env["TMPDIR"] = str(tmpdir)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dustcourse"), "grade", "autograde", A,
         "--root", str(root), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def run_tmp():
    """The run's TMPDIR, short enough that its kernels' scratch folders stay in it
    (a deep one sends them to /tmp; see socket_kernels.scratch_parent), so :func:`_sandboxes`
    finds them. pytest's tmp_path is deeper under pytest-xdist."""
    folder = Path(tempfile.mkdtemp(prefix="dc-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _sandboxes(tmpdir: Path) -> list[int]:
    """Processes of sandboxes started by one run (their command names its scratch)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(tmpdir).encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_exit_status_lists_failed_submissions(graded, run_tmp):
    """A class with timeouts exits 1 and lists them; a clean class exits 0 (test_grading_cli)."""
    course, *_ = graded
    process = _cli(course.root, "--force", "--student", "ignores_interrupt", "--student",
                   "perfect", "--cell-timeout", str(CELL_LIMIT), "-j", "2", tmpdir=run_tmp)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1, out + err
    listed = out.split("not graded to the end")[1]
    assert "ignores_interrupt  timeout" in listed and "cell limit" in listed
    assert "perfect" not in listed


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_ctrl_c_stops_at_once_records_nothing_half_done_and_the_next_run_resumes(
        run_tmp, executor):
    root = ROOT / "_build" / f"test-ctrl-c-course-{executor}"
    course = Course.fresh(root)
    course.generate(A)
    for student in ("a_fast", "b_fast"):
        course.submit_answers(student, A)
    for student in ("c_slow", "d_slow"):
        course.submit_answers(student, A, {"q1_figures_per_article":
                                           "import time\ntime.sleep(20)\n" + ANSWER})
    scratch = run_tmp
    process = _cli(root, "-j", "2", "--cell-timeout", "60", "--executor", executor,
                   tmpdir=scratch)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # the fast ones recorded, the slow ones running
        fast = all(read_status(root, A, s) for s in ("a_fast", "b_fast"))
        if fast and len(_sandboxes(scratch)) >= 2 and process.poll() is None:
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the slow submissions never started")
    time.sleep(1)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    took = time.monotonic() - sent
    assert process.returncode == 130, out + err
    assert took < 5, took
    assert "run the same command again" in err
    time.sleep(1)
    assert _sandboxes(scratch) == []  # every sandbox of the run is gone
    from nbgrader.api import Gradebook

    for student in ("c_slow", "d_slow"):
        assert read_status(root, A, student) == {}
        assert not (root / "autograded" / student).exists()
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        recorded = {s.student.id for s in gb.find_assignment(A).submissions}
    assert recorded == {"a_fast", "b_fast"}

    # the interrupted two resubmit without the sleep (as a student may between runs): the
    # next run grades what was not recorded, without waiting 2 x 20 s (plain and
    # robustness runs) for the slow cells again
    for student in ("c_slow", "d_slow"):
        course.submit_answers(student, A)
    process = _cli(root, "-j", "2", "--cell-timeout", "60", "--executor", executor,
                   tmpdir=scratch)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, out + err
    assert "2 ok, 2 skipped" in out, out
    assert course.scores("c_slow", A) == course.scores("a_fast", A)
