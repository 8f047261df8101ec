"""Scale benchmark: the real Dask scheduler and our coordinator with many simulated workers.

A separate process runs a Dask scheduler with ``workers`` single-threaded workers
(in-process, so 100 of them fit on a laptop). Our coordinator
(:func:`dustcourse.grading.autograde.autograde`, connected to that scheduler) grades a
generated ps0 class, but each task only *holds* its worker for the measured worker time
per submission and returns the prepared notebook as if it had run: everything else
(scheduler, dispatch, the coordinator's preparing and recording) is real. Two runs:

* **full coordinator**: as `dustcourse grade autograde` runs today;
* **dispatch only**: preparing and recording replaced by no-ops, i.e. the coordinator
  once those steps run in the workers (issue 23, item 2).

For each: wall time, the coordinator's CPU per submission, and worker utilisation
(busy worker-seconds / (workers x wall)): near 1 means the coordinator keeps up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grading import ASSIGNMENT, _own_cpu, make_course
from measure import Section

HERE = Path(__file__).resolve().parent

# Started in its own process: the scheduler and the simulated workers
_CLUSTER = """
import sys, time
from distributed import LocalCluster
cluster = LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=1, processes=False,
                       dashboard_address=None, scheduler_port=0, protocol="tcp",
                       host="127.0.0.1")
print(cluster.scheduler_address, flush=True)
while True:
    time.sleep(3600)
"""


def hold(notebook, files, limits, sandbox, hide, *robust, warm=None, seconds=2.5):
    """The simulated task: occupy a worker thread for ``seconds``, return the notebook."""
    from dustcourse.grading.execute import STATUS_OK, ExecutionResult

    time.sleep(seconds)
    return ExecutionResult(notebook, STATUS_OK, "", seconds, worker="simulated")


def _start_cluster(workers: int) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", _CLUSTER, str(workers)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = process.stdout.readline().strip()
    if not address:
        process.kill()
        raise RuntimeError("the simulated cluster did not start")
    return process, address


def simulate(base: Path, name: str, students: int, workers: int, seconds: float,
             dispatch_only: bool) -> dict:
    """Grade a generated class on simulated workers; wall, coordinator CPU, utilisation."""
    import functools

    from dustcourse.grading import autograde as coordinator
    from dustcourse.grading.executors import dask_backend

    root = make_course(base, name, students)
    process, address = _start_cluster(workers)
    saved = {n: getattr(coordinator, n) for n in ("run_task", "prepare", "record", "_finish",
                                                  "_work_items", "_write_files")}
    try:
        backend = dask_backend(address, sandbox=False)
        coordinator.run_task = functools.partial(hold, seconds=seconds)
        if dispatch_only:
            from dustcourse.grading.prepare import Prepared

            notebook = (root / "submitted" / "s0000" / ASSIGNMENT /
                        f"{ASSIGNMENT}.ipynb").read_text()
            coordinator.prepare = lambda config, assignment, student: Prepared()
            coordinator._work_items = lambda config, assignment, student: [
                (ASSIGNMENT, notebook, {})]
            coordinator.record = lambda *args, **kwargs: None
            coordinator._write_files = lambda *args, **kwargs: None

            def finish(config, root, outcomes, pending, assignment, student):
                outcomes[student] = coordinator.Outcome(student, assignment, "ok")
            coordinator._finish = finish
        before, started = _own_cpu(), time.monotonic()
        try:
            outcomes = coordinator.autograde(root, ASSIGNMENT, sandbox=False, backend=backend,
                                             warm=False)
        finally:
            wall = time.monotonic() - started
            cpu = _own_cpu() - before
            backend.close()
    finally:
        for attr, value in saved.items():
            setattr(coordinator, attr, value)
        process.kill()
        process.wait()
    bad = [o for o in outcomes if o.status != "ok"]
    assert not bad, bad[:3]
    return {"wall": wall, "cpu": cpu / students,
            "utilisation": students * seconds / (workers * wall),
            "ideal": students * seconds / workers}


def benchmark(figures: dict | None, workers: int = 100, students: int | None = None,
              dispatch_students: int | None = None) -> Section:
    """The scale section; ``figures`` from the grading part (worker time per submission)."""
    seconds = (figures or {}).get("worker_seconds", 2.5)
    students = students or workers
    dispatch_students = dispatch_students or 3 * workers
    section = Section(f"Scale: real Dask scheduler, our coordinator, {workers} simulated "
                      f"single-threaded workers (each task holds its worker {seconds:.2f} s)")
    with tempfile.TemporaryDirectory(prefix="dustcourse-bench-scale-") as tmp:
        full = simulate(Path(tmp), "full", students, workers, seconds, dispatch_only=False)
        lean = simulate(Path(tmp), "lean", dispatch_students, workers, seconds,
                        dispatch_only=True)
    for label, run, n in (("full coordinator (prepare + record, as today)", full, students),
                          ("dispatch only (prepare and record in the workers)", lean,
                           dispatch_students)):
        section.add(f"{label}: {n} submissions, wall", f"{run['wall']:.1f} s",
                    f"ideal {run['ideal']:.1f} s (workers always busy)")
        section.add(f"{label}: coordinator CPU per submission", f"{run['cpu']:.4f} s",
                    "<= 0.02 s (issue 23)")
        section.add(f"{label}: worker utilisation", f"{run['utilisation']:.0%}",
                    "the coordinator keeps up when near 100%")
    for label, run in (("full coordinator", full), ("dispatch only", lean)):
        per_sub = max(run["cpu"], seconds / workers, run["wall"] / (
            students if run is full else dispatch_students))
        section.add(f"estimate: 10,000 submissions on {workers} single-core workers, "
                    f"{label}", f"{10_000 * per_sub / 60:.1f} min", "< 10 min (issue 23)")
    section.notes.append(
        "Estimate = 10,000 x the measured wall time per submission of that run (at least "
        "the coordinator's CPU per submission and worker time / workers). The simulated "
        "workers share one process and the machine with the coordinator: under load the "
        "figures are upper bounds.")
    return section
