"""Autograding on a Dask cluster gives the same grades as the local executor.

A real `dask scheduler` and two `dask worker` processes (each with a nanny, in its own
working folder) run on loopback for this module. The hostile class of
tests/hostile_class.py is graded on them and compared with its local grading; then a
worker is killed in the middle of a batch, and a submission that kills every worker it
lands on is given up after the scheduler's bounded number of retries. A small ps0 class
graded with the robustness run gives the same scores and robust_only as locally.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
from conftest import ROOT, VENV_BIN, Course, free_port
from hostile_class import ASSIGNMENT, LIMITS, build_and_grade

from dustcourse.grading.autograde import autograde

pytestmark = pytest.mark.slow

MARKER = "KILL-THIS-WORKER"  # tests/dask_poison.py (loaded by the workers, never here)

RIGHT = 'figures_per_article = figures["article"].value_counts()'
INVERTED = {"q2_implied_rate": (
    'pair = figures[figures["pair"] == "nc_gross_by_sep7"].set_index("unit")\n'
    'implied_rate = float(pair.loc["USD", "value"]) / float(pair.loc["yuan", "value"])')}


class DaskCluster:
    """A scheduler and named workers started as separate processes, as on real machines."""

    def __init__(self, base):
        self.base = base
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = dict(os.environ,
                        # a task is given up when its second worker dies
                        DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",
                        # while this file exists, a worker fails to fetch the kit once
                        DUST_TEST_FLAKY_KIT=str(base / "flaky-kit"))
        self._start("scheduler", "scheduler", "--host", "127.0.0.1",
                    "--port", self.address.rsplit(":", 1)[1], "--no-dashboard")

    def _start(self, name: str, *args: str) -> None:
        folder = self.base / name
        folder.mkdir(parents=True, exist_ok=True)
        self.processes[name] = subprocess.Popen(
            [str(VENV_BIN / "dask"), *args], cwd=folder, env=self.env,
            stdout=(folder / "log.txt").open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killed with its kernels
        )

    def add_worker(self, name: str) -> None:
        self._start(name, "worker", self.address, "--name", name, "--nthreads", "1",
                    "--no-dashboard", "--local-directory", str(self.base / name / "scratch"),
                    "--preload", str(ROOT / "tests" / "dask_poison.py"))

    def wait_for_workers(self, count: int) -> dict[str, str]:
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(count, timeout=120)
            return {info["name"]: address
                    for address, info in client.scheduler_info()["workers"].items()}

    def kill(self, name: str) -> None:
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait()

    def close(self) -> None:
        for name in reversed(list(self.processes)):
            if self.processes[name].poll() is None:
                self.kill(name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = DaskCluster(ROOT / "_build" / "test-dask-cluster")
    try:
        for name in ("w1", "w2"):
            cluster.add_worker(name)
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.close()


def small_class(name: str, students: dict[str, dict | None]) -> Course:
    course = Course.fresh(ROOT / "_build" / name)
    course.generate(ASSIGNMENT)
    for student, answers in students.items():
        course.submit_answers(student, ASSIGNMENT, answers, solve=answers is not None)
    return course


@pytest.fixture(scope="module")
def dask_graded(cluster):
    return build_and_grade(Course.fresh(ROOT / "_build" / "test-dask-course"),
                           executor="dask", scheduler=cluster.address)


def test_same_statuses_and_scores_as_the_local_executor(hostile_class, dask_graded):
    local_course, local, *_ = hostile_class
    course, remote, *_ = dask_graded
    assert set(remote) == set(local)
    for student, expected in local.items():
        got = remote[student]
        assert (got.status, got.score, got.max_score) == (
            expected.status, expected.score, expected.max_score), (student, got.reason)
        assert course.scores(student, ASSIGNMENT) == local_course.scores(student, ASSIGNMENT)


@pytest.fixture(scope="module")
def dask_robust(cluster):
    """A correct, a typed-numbers and a wrong submission of ps0 graded on the cluster with
    the robustness run (the fixed test secret)."""
    from exercise_fixtures import grade_with_robustness
    from test_grading_ps0 import WRONG
    from typed_answers import typed_answers

    course = Course.fresh(ROOT / "_build" / "test-dask-robust")
    course.generate(ASSIGNMENT)
    course.submit_answers("perfect", ASSIGNMENT)
    course.submit_answers("typed", ASSIGNMENT, typed_answers(course.source(ASSIGNMENT)))
    course.submit_answers("value_unit_only", ASSIGNMENT, WRONG["value_unit_only"])
    return course, grade_with_robustness(course, ASSIGNMENT, executor="dask",
                                         scheduler=cluster.address)


def test_robustness_run_gives_the_local_scores_and_statuses(robust_ps0_class, dask_robust):
    """The same students graded with the robustness run by the local executor (conftest's
    robust_ps0_class) and on Dask: same statuses, scores per question and robust_only."""
    local_course, local = robust_ps0_class
    course, remote = dask_robust
    assert set(remote) == {"perfect", "typed", "value_unit_only"}
    for student, got in remote.items():
        expected = local[student]
        assert (got.status, got.score, got.max_score, got.robust_only) == (
            expected.status, expected.score, expected.max_score, expected.robust_only
        ), (student, got.reason)
        assert course.scores(student, ASSIGNMENT) == local_course.scores(student, ASSIGNMENT)
    assert remote["typed"].robust_only and remote["typed"].score == 0  # the run judged
    assert remote["perfect"].robust_only == [] and remote["perfect"].score == 7


def test_both_workers_took_part(cluster, dask_graded):
    _, remote, *_ = dask_graded
    used = {worker for outcome in remote.values() for worker in outcome.workers}
    assert used == set(cluster.wait_for_workers(2).values())


def test_a_task_stuck_waiting_for_a_kit_its_worker_failed_to_fetch_is_sent_again(cluster):
    """A worker that fails to fetch the kit from another (it fails to unpickle there,
    once: tests/dask_poison.py) leaves the task needing it waiting for good, and would
    leave any new task needing that copy waiting too. The coordinator sees the task is
    stuck, gives it up and sends it again with the kit shared afresh: the run ends,
    and everyone is graded."""
    cluster.wait_for_workers(2)
    trigger = cluster.base / "flaky-kit"
    expected = {f"f{i:02d}": kind for i, kind in enumerate(["perfect", "inverted"] * 4)}
    course = small_class("test-dask-flaky-kit", {
        s: {"perfect": {}, "inverted": INVERTED}[kind] for s, kind in expected.items()})
    trigger.touch()
    try:
        outcomes = autograde(course.root, ASSIGNMENT, limits=LIMITS, executor="dask",
                             scheduler=cluster.address)
        assert not trigger.exists()  # a worker did fail to fetch the kit
    finally:
        trigger.unlink(missing_ok=True)
    score = {"perfect": 7, "inverted": 5}
    assert sorted((o.student, o.status, o.score) for o in outcomes) == [
        (s, "ok", score[kind]) for s, kind in sorted(expected.items())], \
        [o.reason for o in outcomes]


def test_a_submission_that_kills_its_workers_is_given_up_and_the_rest_graded(cluster):
    course = small_class("test-dask-poison", {
        "perfect": {}, "inverted": INVERTED, "blank": None,
        "poison": {"q1_figures_per_article": f"# {MARKER}\n{RIGHT}"},
    })
    outcomes = {o.student: o for o in autograde(course.root, ASSIGNMENT, limits=LIMITS,
                                                executor="dask", scheduler=cluster.address)}
    poison = outcomes["poison"]
    assert poison.status == "error" and "KilledWorker" in poison.reason, poison
    assert poison.score == 0
    assert [(outcomes[s].status, outcomes[s].score) for s in ("perfect", "inverted", "blank")] \
        == [("ok", 7), ("ok", 5), ("ok", 0)]
    # the verdict is final: a second run does not try the submission again
    again = autograde(course.root, ASSIGNMENT, ["poison"], limits=LIMITS,
                      executor="dask", scheduler=cluster.address)
    assert again[0].status == "skipped"


def test_cli_grades_on_a_new_local_dask_cluster():
    from click.testing import CliRunner

    from dustcourse.cli import main

    course = small_class("test-dask-cli", {"alice": {}, "bob": INVERTED})
    result = CliRunner().invoke(main, ["grade", "autograde", ASSIGNMENT, "--executor", "dask",
                                       "-j", "2", "--root", str(course.root)])
    assert result.exit_code == 0, result.output
    assert "7 / 9" in result.output and "5 / 9" in result.output
    assert "2 done, 0 failed" in result.output and "submissions/min" in result.output
    assert "workers: tcp://127.0.0.1:" in result.output


def test_cli_says_when_the_scheduler_cannot_be_reached(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from nbgrader.api import Gradebook

    from dustcourse.cli import main

    (tmp_path / "submitted" / "alice" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    # the assignment is known (generated), so the command goes on to the workers;
    # nbgrader creates the gradebook with the venv's alembic
    monkeypatch.setenv("PATH", os.pathsep.join([str(VENV_BIN),
                                                os.environ.get("PATH", "")]))
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", "return-to-dust") as gb:
        gb.add_assignment(ASSIGNMENT)
    result = CliRunner().invoke(main, ["grade", "autograde", ASSIGNMENT, "--executor", "dask",
                                       "--scheduler", f"tcp://127.0.0.1:{free_port()}",
                                       "--root", str(tmp_path)])
    assert result.exit_code != 0
    assert "cannot reach the workers" in result.output


def test_killing_a_worker_mid_batch_loses_nothing(cluster):
    cluster.wait_for_workers(2)  # the nanny has restarted the worker killed above
    expected = {f"s{i:02d}": kind for i, kind in enumerate(["perfect", "inverted", "blank"] * 3)}
    course = small_class("test-dask-kill", {
        s: {"perfect": {}, "inverted": INVERTED, "blank": None}[kind]
        for s, kind in expected.items()})
    graded: list[str] = []

    def progress(outcome, killed=[]):  # noqa: B006 (state of this one run)
        graded.append(outcome.student)
        if not killed:
            killed.append(len(graded))
            cluster.kill("w2")

    outcomes = autograde(course.root, ASSIGNMENT, limits=LIMITS, executor="dask",
                         scheduler=cluster.address, progress=progress)
    assert len(graded) == len(expected)  # the kill happened after the first of nine
    score = {"perfect": 7, "inverted": 5, "blank": 0}
    assert [(o.status, o.score) for o in outcomes] == [
        ("ok", score[expected[o.student]]) for o in outcomes], [o.reason for o in outcomes]
    by_student = {o.student: o for o in outcomes}
    survivors = {w for s in graded[-3:] for w in by_student[s].workers}
    assert len(survivors) == 1  # the last submissions all ran on the one worker left


def test_losing_every_worker_that_holds_the_kit_loses_nothing(cluster):
    """The assignment's kit is held by the workers; when all of them die mid-run, a new
    worker recomputes it and grades the rest (scattered data was lost for good, and
    every student still waiting was zeroed as "worker failed")."""
    cluster.wait_for_workers(1)
    expected = {f"k{i:02d}": kind for i, kind in enumerate(["perfect", "inverted", "blank"] * 2)}
    course = small_class("test-dask-kit", {
        s: {"perfect": {}, "inverted": INVERTED, "blank": None}[kind]
        for s, kind in expected.items()})

    def progress(outcome, killed=[]):  # noqa: B006 (state of this one run)
        if not killed:
            killed.append(True)
            for name in [n for n, p in cluster.processes.items()
                         if n != "scheduler" and p.poll() is None]:
                cluster.kill(name)  # every worker: nothing holds the kit any more
            cluster.add_worker("w3")

    outcomes = autograde(course.root, ASSIGNMENT, limits=LIMITS, executor="dask",
                         scheduler=cluster.address, progress=progress)
    score = {"perfect": 7, "inverted": 5, "blank": 0}
    assert sorted((o.student, o.status, o.score) for o in outcomes) == [
        (s, "ok", score[kind]) for s, kind in sorted(expected.items())], \
        [o.reason for o in outcomes]


def test_a_dask_worker_runs_notebooks_in_kernels_forked_from_its_pool(cluster):
    """A Dask worker holds many descriptors and threads; its warm kernels are still
    forked from its pool's server (not started one by one after the server failed)."""
    import nbformat
    from distributed import Client

    from dustcourse.grading.executors import run_task

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    cluster.wait_for_workers(1)
    with Client(cluster.address, timeout="60s") as client:
        futures = [client.submit(run_task, nbformat.writes(nb), {}, LIMITS, True, (),
                                 warm=("numpy",), pure=False) for _ in range(4)]
        results = client.gather(futures)
    assert [(r.status, r.warm, r.forked) for r in results] == [("ok", True, True)] * 4, \
        [r.reason for r in results]


def test_a_worker_without_the_sandbox_stops_the_run_before_grading_anything():
    """A worker that cannot start the sandbox (no bubblewrap on its PATH) is named in
    the error, and nothing is graded: student code never runs unsandboxed."""
    from dustcourse.grading.sandbox import SandboxUnavailable

    course = small_class("test-dask-no-sandbox", {"n00": {}})
    cluster = DaskCluster(ROOT / "_build" / "test-dask-no-sandbox-cluster")
    try:
        cluster.env["PATH"] = str(VENV_BIN)  # no /usr/bin: no bwrap
        cluster.add_worker("nobwrap")
        address = cluster.wait_for_workers(1)["nobwrap"]
        with pytest.raises(SandboxUnavailable, match="cannot start the grading sandbox") as e:
            autograde(course.root, ASSIGNMENT, limits=LIMITS, executor="dask",
                      scheduler=cluster.address)
        assert address in str(e.value)
    finally:
        cluster.close()
    assert not list((course.root / "autograded").glob("*/*"))


def _grading_settings(dask_worker=None) -> tuple:
    import dask

    return ("profile" in dask_worker.periodic_callbacks,
            dask.config.get("distributed.admin.tick.interval"),
            dask.config.get("distributed.scheduler.allowed-failures"))


def test_the_local_cluster_runs_with_the_grading_settings():
    """The cluster `--executor dask` starts: workers that do not profile their tasks,
    event-loop checks every 500 ms, 2 retries of a task whose workers die."""
    from dustcourse.grading.executors import open_backend

    backend = open_backend("dask", jobs=1, sandbox=False)
    try:
        client = backend.pool._client
        settings = client.run(_grading_settings)
        scheduler = client.run_on_scheduler(
            lambda dask_scheduler: (dask_scheduler.allowed_failures,
                                    dask_scheduler._tick_interval))
    finally:
        backend.close()
    assert list(settings.values()) == [(False, "500ms", 2)]
    assert scheduler == (2, 0.5)


def test_unknown_executor_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown executor"):
        from dustcourse.grading.executors import open_backend

        open_backend("threads")

