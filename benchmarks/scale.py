"""Scale benchmark: the real Dask scheduler and our coordinator with many simulated workers.

A separate process runs a Dask scheduler and ``workers`` worker threads (slots), in a
few in-process Dask workers of many threads each: a simulated task only sleeps, so 100
threads fit on a laptop where 100 worker objects, each with its own event loop traffic,
swamped the 2-core machine before the coordinator was measured at all. Our coordinator
(:func:`dustcourse.grading.autograde.autograde`, connected to that scheduler) grades a
generated ps0 class, but each task (:func:`dustcourse.grading.worker.grade_submission`,
which prepares, executes and scores a submission) only *holds* its worker for the
measured worker time per submission and returns the result a real worker returned for
a submission of the same class. Everything else is real: the scheduler, the dispatch,
the kit shared with the workers, the submissions read and sent, the batched gradebook
transactions, the graded folders and status files written.

Measured: wall time, the coordinator's CPU per submission, and worker utilisation
(busy worker-seconds / (workers x wall)): near 1 means the coordinator keeps up. The
estimate for 10,000 submissions on 100 single-core workers follows from the measured
coordinator CPU and worker time.
"""

from __future__ import annotations

import copy
import functools
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
import dask
from distributed import LocalCluster
# many worker threads in one process: no stack profiler or fast system monitor (they
# would cost more than the tasks), and patient connections on a loaded machine
dask.config.set(%r)
slots = int(sys.argv[1])
workers = max(1, min(slots, (slots + 24) // 25))  # 25 threads per worker
assert slots %% workers == 0, "slots must split evenly over the workers"
cluster = LocalCluster(n_workers=workers, threads_per_worker=slots // workers,
                       processes=False,
                       dashboard_address=None, scheduler_port=0, protocol="tcp",
                       host="127.0.0.1")
print(cluster.scheduler_address, flush=True)
while True:
    time.sleep(3600)
"""
_DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.comm.timeouts.connect": "120s",
    "distributed.comm.timeouts.tcp": "600s",
}


def hold(kit, student, files, limits, sandbox, hide, *robust, warm=None, seconds=2.5,
         template=None):
    """The simulated task: occupy a worker thread for ``seconds``, return ``template``
    (a real worker's result) as this student's."""
    time.sleep(seconds)
    result = copy.copy(template)
    result.student, result.worker = student, "simulated"
    return result


def real_result(root: Path, student: str):
    """What a real worker returns for one submission of the class (run here, once)."""
    from dustcourse.grading.autograde import _coursedir, load_config
    from dustcourse.grading.sandbox import Limits
    from dustcourse.grading.worker import _read_folder, build_kit, grade_submission

    config = load_config(root)
    coursedir = _coursedir(config)
    folder = Path(coursedir.format_path(coursedir.submitted_directory, student, ASSIGNMENT))
    return grade_submission(build_kit(config, ASSIGNMENT), student, _read_folder(folder),
                            Limits(cell_timeout=60), False, ())


def _start_cluster(workers: int) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-c", _CLUSTER % _DASK_CONFIG, str(workers)],
                               env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = process.stdout.readline().strip()
    if not address:
        process.kill()
        raise RuntimeError("the simulated cluster did not start")
    return process, address


def simulate(base: Path, name: str, students: int, workers: int, seconds: float) -> dict:
    """Grade a generated class on simulated workers; wall, coordinator CPU, utilisation."""
    import dask

    from dustcourse.grading import autograde as coordinator
    from dustcourse.grading.executors import dask_backend

    root = make_course(base, name, students)
    template = real_result(root, "s0000")  # a perfect submission, really graded here
    assert template.error is None and template.notebooks, template
    process, address = _start_cluster(workers)
    saved = coordinator.grade_submission
    patience = dask.config.set({k: v for k, v in _DASK_CONFIG.items() if ".comm." in k})
    try:
        backend = dask_backend(address, sandbox=False)
        coordinator.grade_submission = functools.partial(hold, seconds=seconds,
                                                         template=template)
        before, started = _own_cpu(), time.monotonic()
        try:
            outcomes = coordinator.autograde(root, ASSIGNMENT, sandbox=False, backend=backend,
                                             warm=False)
        finally:
            wall = time.monotonic() - started
            cpu = _own_cpu() - before
            backend.close()
    finally:
        patience.__exit__(None, None, None)
        coordinator.grade_submission = saved
        process.kill()
        process.wait()
    bad = [o for o in outcomes if o.status != "ok"]
    assert not bad, bad[:3]
    return {"wall": wall, "cpu": cpu / students, "busy": cpu / wall,
            "utilisation": students * seconds / (workers * wall),
            "ideal": students * seconds / workers}


def benchmark(figures: dict | None, workers: int = 100, students: int | None = None) -> Section:
    """The scale section; ``figures`` from the grading part (worker time per submission)."""
    measured = bool((figures or {}).get("worker_seconds"))
    seconds = figures["worker_seconds"] if measured else 2.5
    students = students or 4 * workers
    section = Section(f"Scale: real Dask scheduler, our coordinator, {workers} simulated "
                      f"worker slots (each task holds its slot {seconds:.2f} s)")
    with tempfile.TemporaryDirectory(prefix="dustcourse-bench-scale-") as tmp:
        run = simulate(Path(tmp), "scale", students, workers, seconds)
    section.add(f"{students} submissions, wall", f"{run['wall']:.1f} s",
                f"ideal {run['ideal']:.1f} s (workers always busy)")
    section.add("coordinator CPU per submission (its whole process)", f"{run['cpu']:.4f} s",
                "<= 0.02 s (issue 23)")
    section.add("worker utilisation", f"{run['utilisation']:.0%}",
                "near 100%: nothing holds the workers back")
    section.add("coordinator busy (its CPU / wall)", f"{run['busy']:.0%}",
                "well below 100%: the coordinator waits for the workers, it is not the bound")
    section.add("submissions the coordinator can take per second (1 / its CPU per "
                "submission)", f"{1 / run['cpu']:.0f}",
                f"{workers} workers need {workers / seconds:.0f}")
    per_sub = max(run["cpu"], seconds / 100)
    bound = "coordinator" if run["cpu"] >= seconds / 100 else "workers"
    section.add("estimate: 10,000 submissions on 100 single-core workers",
                f"{10_000 * per_sub / 60:.1f} min", f"< 10 min (issue 23); limited by the {bound}")
    section.notes.append(
        "Estimate = 10,000 x max(coordinator CPU per submission, worker time per submission "
        "/ 100), " + ("both measured in this run." if measured else
                      "with the worker time NOT measured in this run (2.5 s assumed; run the "
                      "grading part with the scale part).")
        + " The simulated slots are threads of a few Dask workers in one process (a task "
        "only sleeps); they share the machine with the coordinator and the scheduler: "
        "on a loaded machine the wall time and utilisation are lower bounds of what the "
        "coordinator sustains.")
    return section
