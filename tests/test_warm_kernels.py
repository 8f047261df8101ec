"""Warm sandboxed kernels (issue 23, item 1): nothing of one student reaches the next.

A student who patches imported modules, plants files in /tmp and in the working
folder, sets environment variables and leaves a thread and a detached process running
is graded first; the next notebook of the same pool (whose kernel was started while
the first one ran) must see none of it. Directly on a pool, then through the local
and the Dask executors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, Course

from dustcourse.grading.autograde import autograde
from dustcourse.grading.execute import STATUS_OK, execute_notebook
from dustcourse.grading.sandbox import Limits
from dustcourse.grading.warm import KernelPool, KernelSpec, assignment_imports

A = "ps0-warmup"
LIMITS = Limits(cell_timeout=30, notebook_timeout=120, memory_bytes=2 * 1024**3)
TOKEN = "987654"  # names the attacker's detached process: `sleep 987654`

ATTACK = f"""\
import os, statistics, subprocess, sys, threading, time, types
import numpy, pandas
statistics.mean = lambda *a, **k: "PATCHED"
pandas.read_csv = lambda *a, **k: "PATCHED"
numpy.PLANTED = True
sys.modules["planted_module"] = types.ModuleType("planted_module")
open("/tmp/planted.txt", "w").write("x")
open("planted.txt", "w").write("x")
os.environ["PLANTED"] = "1"
def _loop():
    while True:
        with open("/tmp/thread.txt", "a") as fh:
            fh.write("x")
        time.sleep(0.05)
threading.Thread(target=_loop).start()
subprocess.Popen(["sleep", "{TOKEN}"], start_new_session=True)
"""

# What the next notebook looks for (the first line runs before any import of its own)
CHECK = """\
import sys
preloaded = "pandas" in sys.modules
import json, os, pandas, numpy, statistics
procs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            procs.append(open(f"/proc/{pid}/cmdline", "rb").read().decode())
        except OSError:
            pass
seen = {
    "preloaded": preloaded,
    "mean": statistics.mean([1, 2]),
    "read_csv": pandas.read_csv.__name__,
    "numpy": hasattr(numpy, "PLANTED"),
    "module": "planted_module" in sys.modules,
    "tmp": sorted(os.listdir("/tmp")),
    "cwd": sorted(os.listdir(".")),
    "env": os.environ.get("PLANTED"),
    "procs": procs,
    "uid": os.getuid(),
}
print(json.dumps(seen))
"""


def _notebook(*sources: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb)


def _host_processes_naming(token: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if token.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_assignment_imports_are_the_instructors_modules():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%matplotlib inline\nimport pandas as pd, numpy\n"
                                  "from scipy import stats\nfrom . import local\n"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nthis is not python"),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\n"),
        nbformat.v4.new_markdown_cell("import os"),
    ])
    assert assignment_imports([nb]) == ("math", "numpy", "pandas", "scipy",
                                        "matplotlib.pyplot")


def test_a_warm_kernel_is_used_once_and_nothing_of_one_student_reaches_the_next():
    spec = KernelSpec(LIMITS, True, (), (("NBGRADER_EXECUTION", "autograde"),),
                      ("statistics", "numpy", "pandas"))
    pool = KernelPool(spec, depth=1)
    try:
        first = pool.take()
        assert first is not None and first.warm
        attacked = execute_notebook(_notebook(ATTACK), {"data.csv": b"a\n1\n"},
                                    limits=LIMITS, kernel=first)
        assert attacked.status == STATUS_OK, attacked.reason
        assert not Path(first.scratch).exists()  # its folder went with it
        assert _host_processes_naming(TOKEN) == []  # so did its detached process
        second = pool.take()
        assert second is not None and second is not first
        checked = execute_notebook(_notebook(CHECK), {"data.csv": b"a\n1\n"},
                                   limits=LIMITS, kernel=second)
        assert checked.status == STATUS_OK, checked.reason
    finally:
        pool.close()
    nb = nbformat.reads(checked.notebook, as_version=4)
    outputs = nb.cells[0].outputs
    assert [o.get("ename") for o in outputs if o.output_type == "error"] == []
    seen = json.loads(outputs[-1].text)
    assert seen["preloaded"]  # the kernel was warm: pandas loaded before the first cell
    assert nb.cells[0].execution_count == 1  # loading it left no trace in the history
    assert seen["mean"] == 1.5
    assert seen["read_csv"] == "read_csv"
    assert not seen["numpy"] and not seen["module"]
    assert not {"planted.txt", "thread.txt"} & set(seen["tmp"])
    assert "planted.txt" not in seen["cwd"] and "data.csv" in seen["cwd"]
    assert seen["env"] is None
    assert not any(TOKEN in p for p in seen["procs"])
    assert not any("_loop" in p for p in seen["procs"])


@pytest.fixture(scope="module")
def isolation_class() -> Course:
    """An attacker graded before its victim on one worker: the victim's answer cell
    refuses to answer if it sees anything of the attacker."""
    course = Course.fresh(ROOT / "_build" / "test-warm-isolation")
    course.generate(A)
    course.submit_answers("a_attacker", A, {"q1_figures_per_article": ATTACK + (
        'figures_per_article = figures["article"].value_counts()')})
    course.submit_answers("b_victim", A, {"q1_figures_per_article": CHECK + (
        "assert seen['mean'] == 1.5 and seen['read_csv'] == 'read_csv'\n"
        "assert not seen['numpy'] and not seen['module'] and seen['env'] is None\n"
        "assert not {'planted.txt', 'thread.txt'} & set(seen['tmp'] + seen['cwd'])\n"
        f"assert not any('{TOKEN}' in p for p in seen['procs'])\n"
        'figures_per_article = figures["article"].value_counts()')})
    course.submit_answers("c_perfect", A)
    return course


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_the_next_submission_on_the_same_worker_sees_nothing_of_the_previous(
        isolation_class, executor):
    course = isolation_class
    outcomes = {o.student: o for o in autograde(course.root, A, jobs=1, limits=LIMITS,
                                                executor=executor, force=True)}
    assert {o.status for o in outcomes.values()} == {STATUS_OK}, outcomes
    assert len({w for o in outcomes.values() for w in o.workers}) == 1  # one worker, in turn
    assert course.scores("b_victim", A) == course.scores("c_perfect", A)
    assert course.scores("a_attacker", A) == course.scores("c_perfect", A)
    assert _host_processes_naming(TOKEN) == []


def test_a_task_and_its_robustness_run_take_two_warm_kernels_of_the_workers_pool():
    """run_task, as a worker runs it: both runs warm, each in its own sandbox."""
    from dustcourse.grading.executors import run_task
    from dustcourse.grading.warm import close_pools

    modules = ("statistics", "numpy", "pandas")
    notebook = _notebook("import os\nprint(os.getuid())\n", "assert True")
    nb = nbformat.reads(notebook, as_version=4)
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1,
                                        "solution": False, "locked": True}
    result = run_task(nbformat.writes(nb), {"data.csv": b"a\n1\n"}, LIMITS, True, (),
                      {"data.csv": b"a\n2\n"}, frozenset({"t"}), warm=modules)
    try:
        assert result.status == STATUS_OK and result.warm, result.reason
        assert result.robust is not None and result.robust.warm
        uids = [nbformat.reads(r.notebook, as_version=4).cells[0].outputs[0].text
                for r in (result, result.robust)]
        assert uids[0] != uids[1]  # two sandboxes, two users
    finally:
        close_pools()


def test_a_deep_temporary_folder_still_runs_notebooks(tmp_path, monkeypatch):
    """The kernel's sockets live in its scratch folder, and a socket path holds 107
    bytes: under a deep TMPDIR the folder goes to /tmp instead of failing to start."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setattr("tempfile.tempdir", str(deep))
    spec = KernelSpec(LIMITS, True, (), (), ())
    pool = KernelPool(spec, depth=1)
    try:
        kernel = pool.take()
        assert kernel is not None and kernel.scratch.startswith("/tmp/dustcourse-")
        assert len(kernel.km.ip) + len("-65535") <= 107
        result = execute_notebook(_notebook("print(6 * 7)"), {}, limits=LIMITS,
                                  kernel=kernel)
    finally:
        pool.close()
    assert result.status == STATUS_OK, result.reason
    assert "42" in nbformat.reads(result.notebook, as_version=4).cells[0].outputs[0].text


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandboxed", "unsandboxed"])
def test_kernels_talk_over_unix_sockets_not_tcp_ports(sandbox):
    """A TCP port is picked free by the grader and bound later by the kernel, so
    kernels started side by side by several processes could race for one port
    ("Address already in use") and a submission would fail to grade: both kinds of
    kernel use Unix sockets in their own scratch folder instead."""
    spec = KernelSpec(LIMITS, sandbox, (), (), ())
    pool = KernelPool(spec, depth=1)
    try:
        kernel = pool.take()
        assert kernel is not None
        result = execute_notebook(
            _notebook("import json, ipykernel, os\n"
                      "info = json.loads(ipykernel.get_connection_info())\n"
                      "print(info['transport'], info['ip'].startswith(os.getcwd()))"),
            {}, limits=LIMITS, kernel=kernel)
    finally:
        pool.close()
    assert result.status == STATUS_OK, result.reason
    assert nbformat.reads(result.notebook, as_version=4).cells[0].outputs[0].text.split() \
        == ["ipc", "True"]


CONFINEMENT = """\
import json, os, resource, socket
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines()
              if ":\\t" in line)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    network = True
except OSError:
    network = False
def visible(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "caps": [status[k].strip() for k in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb")],
    "no_new_privs": status["NoNewPrivs"].strip(),
    "network": network,
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "tmp": sorted(os.listdir("/tmp")),
    "course": os.path.exists(os.path.join(COURSE, "README.md")),
    "passwd": os.path.exists("/etc/passwd"), "home": visible("/home"),
    "limits": [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU,
                                                  resource.RLIMIT_FSIZE, resource.RLIMIT_NPROC)],
    "writable_usr": os.access("/usr", os.W_OK),
    "beside": [n for n in os.listdir(os.path.dirname(os.getcwd())) if not n.startswith(".")],
    "here": os.path.basename(os.getcwd()),
}))
"""


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "started-alone"])
def test_a_forked_kernel_is_confined_as_one_started_on_its_own(fork):
    """The pool's kernels are forked from one sandboxed server with the modules loaded
    (forked.py): each still runs as a fresh unprivileged user with no capabilities, no
    network, its own PIDs and /tmp, the resource limits, and none of the course."""
    spec = KernelSpec(LIMITS, True, (str(ROOT),), (), ("numpy", "pandas"), fork=fork)
    pool = KernelPool(spec, depth=1)
    try:
        kernels = [pool.take(), pool.take()]
        assert [k.forked for k in kernels] == [fork, fork]
        results = [execute_notebook(_notebook(f"COURSE = {str(ROOT)!r}\n" + CONFINEMENT),
                                    {}, limits=LIMITS, kernel=k) for k in kernels]
    finally:
        pool.close()
    # a checkout in /tmp: its Python tree (and the empty folder hiding the course) are
    # in the sandbox's /tmp too
    under_tmp = {Path(p).parts[2] for p in (sys.prefix, sys.base_prefix, str(ROOT))
                 if p.startswith("/tmp/")}
    seen = []
    for result in results:
        assert result.status == STATUS_OK, result.reason
        outputs = nbformat.reads(result.notebook, as_version=4).cells[0].outputs
        assert [o.get("evalue") for o in outputs if o.output_type == "error"] == []
        seen.append(json.loads(outputs[-1].text))
    for one in seen:
        assert one["uid"] >= 200_000 and one["gid"] == one["uid"] and one["groups"] == []
        assert set(one["caps"]) == {"0000000000000000"} and one["no_new_privs"] == "1"
        assert not one["network"] and not one["course"]
        assert not one["passwd"] and not one["home"]
        assert max(one["pids"]) < 100  # its own PID namespace: no process of the host
        assert not one["writable_usr"]
        assert one["limits"] == [LIMITS.memory_bytes, LIMITS.cpu_seconds, LIMITS.file_bytes,
                                 LIMITS.processes]
        assert all(name.startswith((".", "dustcourse-")) or name in under_tmp
                   for name in one["tmp"]), one["tmp"]
        # not the other kernel's folder (both alive)
        assert [n for n in one["beside"] if n not in under_tmp] == [one["here"]]
    assert seen[0]["uid"] != seen[1]["uid"]  # a fresh user for each kernel


def test_forked_kernels_start_in_a_process_holding_many_open_files():
    """A Dask worker holds well over 1024 descriptors: the pool's talk with its fork
    server must not depend on descriptor numbers (select() fails beyond 1024)."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("this machine allows fewer than 2048 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    pool = KernelPool(KernelSpec(LIMITS, True, (), (), ()), depth=1)
    try:
        kernel = pool.take()
        assert kernel is not None and kernel.forked
        result = execute_notebook(_notebook("print(6 * 7)"), {}, limits=LIMITS, kernel=kernel)
    finally:
        pool.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert result.status == STATUS_OK, result.reason


def test_a_worker_grading_many_notebooks_keeps_no_sockets_or_threads_of_old_kernels():
    """A worker grades hundreds of notebooks: each kernel's client and ZeroMQ context
    (sockets and threads) must go with it. Before, each notebook left about 18 open
    descriptors and 5 threads behind, until the worker ran out of them."""
    import os

    def held() -> tuple[int, int]:
        return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))

    pool = KernelPool(KernelSpec(LIMITS, True, (), (), ()), depth=1)
    try:
        for _ in range(2):
            execute_notebook(_notebook("print(1)"), {}, limits=LIMITS, kernel=pool.take())
        before = held()
        for _ in range(8):
            result = execute_notebook(_notebook("print(1)"), {}, limits=LIMITS,
                                      kernel=pool.take())
            assert result.status == STATUS_OK, result.reason
        after = held()
    finally:
        pool.close()
    assert after[0] - before[0] <= 4 and after[1] - before[1] <= 2, (before, after)
