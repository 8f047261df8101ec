"""Where prepared notebooks run: local worker processes, or a Dask cluster.

An executor backend gives the coordinator (:mod:`.autograde`) three things: a
:class:`concurrent.futures.Executor` to submit :func:`run_task` to, the number of
tasks to keep in flight (one per worker thread, so a task never waits on a busy
worker while another is idle, and a worker that dies takes at most its own task
with it), and a way to close it.

The task carries everything it needs as bytes (the prepared notebook and the
assignment's data files), so a Dask worker needs the course's Python environment
but no shared file system and no access to the gradebook.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from .execute import KERNEL_ENV, ExecutionResult, execute_notebook, kill_sandboxes
from .sandbox import Limits, SandboxUnavailable, check_sandbox

EXECUTORS = ("local", "dask")
# The local Dask cluster the dask executor starts when given no scheduler. Dask's
# defaults suit many tasks of milliseconds; a grading task takes seconds, waiting on
# its kernel in another process. So its workers do not profile their tasks (a sample
# of the task thread's stack every 10 ms, for a dashboard this cluster does not
# serve), and its servers check their event loop's health every 500 ms, not 20 ms
# (a loop blocked for 3 s is still reported). Each setting costs the workers and
# the coordinator CPU that grading needs (docs/grading.md, Dask).
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": 2,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
}
SLOTS_REFRESH = 1.0  # seconds between two questions to the Dask scheduler about its workers
STALLED_WAIT = 5.0  # seconds the coordinator waits for the workers to say which tasks are stuck


def _worker_name() -> str:
    """The Dask worker's address, or host:pid for a local worker process."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def _dask_worker(worker=None):
    """The Dask worker this runs on (None in a local worker process)."""
    if worker is not None:
        return worker
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _folders_to_hide(hide: tuple[str, ...], worker=None) -> tuple[str, ...]:
    """The coordinator's folders that exist here, plus a Dask worker's own scratch space."""
    folders = [h for h in hide if os.path.isdir(h)]
    worker = _dask_worker(worker)
    if worker is not None:
        folders.append(worker.local_directory)  # other tasks' spilled data
    return tuple(folders)


def run_task(
    notebook: str, files: dict[str, bytes], limits: Limits, sandbox: bool, hide: tuple[str, ...],
    robust_files: dict[str, bytes] | None = None, robust_tests: frozenset[str] = frozenset(),
    *, warm: tuple[str, ...] | None = None,
) -> ExecutionResult:
    """Execute one prepared notebook on this worker; the unit of work of every executor.

    With ``robust_files`` (the perturbed data, see :mod:`.robustness`), the notebook runs
    a second time on them if it passed any of ``robust_tests``; that run is
    ``result.robust``. With ``warm`` (the modules to load, see :mod:`.warm`), each run
    takes a warm kernel of this worker's pool, used for that run only; the pool starts
    the next ones meanwhile. Raises :class:`SandboxUnavailable` (naming this worker)
    instead of running student code without the sandbox.
    """
    where = _worker_name()
    if sandbox:
        try:
            check_sandbox()
        except SandboxUnavailable as exc:
            raise SandboxUnavailable(f"worker {where}: {exc}") from None
    hidden = _folders_to_hide(hide)
    pool = None if warm is None else warm_pool(limits, sandbox, hidden, warm,
                                              robust_files is not None)
    result = execute_notebook(notebook, files, limits=limits, sandbox=sandbox, hide=hidden,
                              kernel=pool.take() if pool else None)
    result.worker = where
    if robust_files is not None:
        from .robustness import run_again

        result.robust = run_again(result, notebook, robust_files, robust_tests, limits,
                                  sandbox, hidden, pool=pool)
    return result


def _threads(worker=None) -> int:
    """Tasks this worker runs at once (a Dask worker's threads; 1 for a local process)."""
    worker = _dask_worker(worker)
    try:
        return max(1, int(worker.state.nthreads))
    except (AttributeError, TypeError, ValueError):
        return 1


def warm_pool(limits: Limits, sandbox: bool, hide: tuple[str, ...], modules: tuple[str, ...],
              robust: bool = False, worker=None):
    """This worker's pool of warm kernels for these options: one kernel ready per
    thread, two with the robustness run (its second run takes the second)."""
    from .warm import KernelSpec, pool_for

    spec = KernelSpec(limits, sandbox, tuple(hide), tuple(sorted(KERNEL_ENV.items())),
                      tuple(modules))
    return pool_for(spec, _threads(worker) * (2 if robust else 1))


def prewarm(limits: Limits, sandbox: bool, hide: tuple[str, ...], modules: tuple[str, ...],
            robust: bool = False, worker=None) -> None:
    """Start this worker's pool before the first task arrives (ahead of need)."""
    if sandbox and sandbox_report():
        return  # the tasks will say why
    warm_pool(limits, sandbox, _folders_to_hide(hide, worker), modules, robust, worker)


def _shared(value):
    """The task behind :func:`dask_backend`'s ``share``: the value itself."""
    return value


def sandbox_report() -> str:
    """'' if the sandbox starts on this worker, else why not (run on every Dask worker)."""
    try:
        check_sandbox()
    except SandboxUnavailable as exc:
        return str(exc)
    return ""


@dataclass
class Backend:
    """An executor and what the coordinator needs to know about it."""

    pool: Executor
    slots: Callable[[], int]  # tasks to keep in flight now (0: no worker is available)
    close: Callable[[], None] = field(default=lambda: None)
    # end the given tasks now, running sandboxes included (Ctrl-C); their results are dropped
    abort: Callable[[list], None] = field(default=lambda futures: None)
    # an argument every task takes (the assignment's kit), sent to the workers once where
    # the executor can (Dask: the result of one task, fetched once by each worker and
    # made again if lost); what to pass to submit instead
    share: Callable[[object], object] = field(default=lambda value: value)
    # which of the given tasks in flight are known never to finish (Dask: waiting on a
    # worker for a dependency that worker failed to fetch); asked now and then
    stalled: Callable[[list], list] = field(default=lambda futures: [])


def _ignore_sigint(prewarm_args: tuple | None = None) -> None:
    """Worker processes leave Ctrl-C to the coordinator, which ends them itself; with
    ``prewarm_args`` (see :func:`prewarm`) they start their warm kernels at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if prewarm_args is not None:
        _prewarm_quietly(prewarm_args)


def local_backend(jobs: int | None = None, prewarm: tuple | None = None) -> Backend:
    """A pool of local worker processes (forkserver: no inherited threads or sockets)."""
    jobs = jobs or os.cpu_count() or 1
    pool = ProcessPoolExecutor(max_workers=jobs,
                               mp_context=multiprocessing.get_context("forkserver"),
                               initializer=_ignore_sigint, initargs=(prewarm,))

    def abort(futures) -> None:
        # a killed worker takes its sandbox with it (bwrap --die-with-parent)
        for process in list((pool._processes or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    return Backend(
        pool=pool,
        slots=lambda: jobs + 1,  # one queued ahead hides the pool's hand-over latency
        close=lambda: pool.shutdown(wait=True, cancel_futures=True),
        abort=abort,
    )


def dask_backend(scheduler: str | None = None, jobs: int | None = None,
                 sandbox: bool = True, prewarm: tuple | None = None) -> Backend:
    """A client of the Dask scheduler at ``scheduler`` (or of a new ``LocalCluster``).

    Every worker connected now must be able to start the sandbox (when ``sandbox`` is
    on), or nothing is graded; a worker that joins later and cannot start it fails
    its tasks with the reason. How often a task is retried after its worker dies is
    the scheduler's ``distributed.scheduler.allowed-failures`` setting; after that the
    task fails with ``KilledWorker`` and the submission is recorded as failed.
    """
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="10s")
    else:
        with dask.config.set(LOCAL_CLUSTER_CONFIG):
            cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1,
                                   threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        client = Client(cluster)

    def close() -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    try:
        client.wait_for_workers(1, timeout=60)
        if sandbox or prewarm is not None:  # one round: check, then start warm kernels
            broken = {w: r for w, r in client.run(_get_ready, sandbox, prewarm).items() if r}
            if broken:
                raise SandboxUnavailable(
                    "Dask worker(s) cannot start the grading sandbox: "
                    + "; ".join(f"{w}: {r}" for w, r in sorted(broken.items()))
                )
    except BaseException:
        close()
        raise

    known = {"slots": 0, "at": float("-inf")}

    def slots() -> int:
        # the scheduler's count of worker threads, asked at most once a second (the
        # dispatch loop runs far more often; a round trip each time costs the coordinator)
        now = time.monotonic()
        if now - known["at"] >= SLOTS_REFRESH:
            try:
                known["slots"] = sum(client.nthreads().values())
            except Exception:  # the scheduler is out of reach: no worker for now
                known["slots"] = 0
            known["at"] = now
        return known["slots"]

    def share(value):
        # a task that returns the value, not scattered data: scattered data lost with
        # the workers that held it (a submission that kills its workers, a worker that
        # dies) cannot be made again, and every task needing it was cancelled (its
        # students zeroed as "worker failed"); a task's result is simply recomputed
        return client.submit(_shared, value, pure=False)

    executor = _keyed_executor(client, pure=False)
    asking = {"question": None}  # the workers' answer to the last question, pending

    def stalled(futures) -> list:
        # asked from a thread and waited on for STALLED_WAIT at most: a worker out of
        # reach must not hold the coordinator (the next question waits for its answer)
        question = asking["question"]
        if question is None or question.done():
            question = asking["question"] = _in_daemon_thread(
                client.run, _stalled_keys, [f.key for f in futures], on_error="ignore")
        try:
            found = question.result(timeout=STALLED_WAIT)
        except Exception:  # no answer yet, or the scheduler is out of reach
            return []
        asking["question"] = None
        stuck = {k for held in found.values() for k in held}
        return [f for f in futures if f.key in stuck]

    def abort(futures) -> None:
        # the coordinator holds concurrent.futures wrappers: end every task not done
        tasks = [f for f in list(executor._futures) if not f.done()]
        keys = [f.key for f in tasks]
        client.cancel(tasks, force=True)
        # a running task cannot be stopped from outside: end its sandbox, and the
        # task returns at once (its result is dropped)
        client.run(kill_sandboxes, keys)

    return Backend(
        pool=executor,
        slots=slots,
        close=close,
        abort=abort,
        share=share,
        stalled=stalled,
    )


def _in_daemon_thread(function, *args, **kwargs) -> Future:
    """Call ``function`` in a daemon thread: a thread the coordinator's exit does not
    wait for (Ctrl-C must end the run at once, even while a worker has not answered)."""
    future = Future()

    def call() -> None:
        try:
            future.set_result(function(*args, **kwargs))
        except Exception as exc:  # handed to whoever waits on it
            future.set_exception(exc)

    threading.Thread(target=call, name="dustcourse-stalled", daemon=True).start()
    return future


def _keyed_executor(client, **kwargs):
    """Dask's concurrent.futures executor, whose futures know their task's key."""
    from distributed.cfexecutor import ClientExecutor

    class KeyedExecutor(ClientExecutor):
        def _wrap_future(self, future):
            wrapped = super()._wrap_future(future)
            wrapped.key = future.key
            return wrapped

    return KeyedExecutor(client, **kwargs)


def _stalled_keys(keys: list, dask_worker=None) -> list:
    """On a Dask worker: which of these tasks wait for a dependency in error here.

    When a worker fails to fetch a dependency from another (its data fails to
    unpickle, say), Dask marks that dependency as erred on this worker and leaves the
    tasks needing it waiting for good; a new task needing it here would wait too."""
    tasks = dask_worker.state.tasks
    return [key for key in keys if key in tasks and tasks[key].state == "waiting"
            and any(dep.state == "error" for dep in tasks[key].dependencies)]


def _prewarm_quietly(args: tuple, dask_worker=None) -> None:
    """:func:`prewarm` on a local worker process (its initializer), or on a Dask worker
    in the thread :func:`_prewarm_dask_worker` starts (given its ``dask_worker``)."""
    with contextlib.suppress(Exception):  # the tasks themselves will say what fails
        prewarm(*args, worker=dask_worker)


async def _get_ready(sandbox: bool, prewarm_args: tuple | None, dask_worker=None) -> str:
    """On a Dask worker, when the coordinator connects: '' if it can grade, else why
    not (the sandbox cannot start here); a worker that can starts its warm kernels
    (``prewarm_args``: see :func:`prewarm`) without waiting for the other workers'
    answers. One round trip, before any task is sent."""
    report = sandbox_report() if sandbox else ""
    if not report and prewarm_args is not None:
        await _prewarm_dask_worker(prewarm_args, dask_worker)
    return report


async def _prewarm_dask_worker(args: tuple, dask_worker=None) -> None:
    """On a Dask worker: start the pool from a thread, never blocking its event loop.

    What that thread imports is imported here first, on the event loop: the loop
    unpickles the assignment's kit (nbgrader's configuration) meanwhile, and two
    threads importing the same package at once made the kit's fetch fail
    (``KeyError: 'nbgrader.preprocessors'``), leaving its task waiting for good.
    """
    import nbgrader.converters
    import nbgrader.preprocessors  # noqa: F401

    from . import execute, forked, prepare, warm, worker  # noqa: F401

    threading.Thread(target=_prewarm_quietly, args=(args, dask_worker), daemon=True).start()


def open_backend(executor: str = "local", *, jobs: int | None = None,
                 scheduler: str | None = None, sandbox: bool = True,
                 prewarm: tuple | None = None) -> Backend:
    """``prewarm``: the arguments of :func:`prewarm`, to start the workers' warm kernels
    as soon as they exist (None: kernels start on demand)."""
    if executor == "local":
        if scheduler:
            raise ValueError("--scheduler is for the dask executor")
        return local_backend(jobs, prewarm)
    if executor == "dask":
        return dask_backend(scheduler, jobs, sandbox, prewarm)
    raise ValueError(f"unknown executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
