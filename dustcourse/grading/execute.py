"""Execute one prepared notebook, from bytes to bytes, in a fresh sandboxed kernel.

:func:`execute_notebook` is the unit of work a grading executor runs: it takes the
notebook and the files it needs (data files of the assignment) as bytes, and returns
the executed notebook with a status. It never touches the gradebook or the course
folders, so it can run in a local worker process or on another machine.

A cell earns its points only if it ran to the end: a cell that runs past the cell
limit is interrupted (SIGINT to the kernel; if the cell does not stop within
``INTERRUPT_GRACE`` seconds, the kernel is killed) and gets a timeout error in its
own outputs; a cell cut short by a dead kernel or the notebook limit, and every cell
that never ran, gets an error output saying why, and nbgrader scores it as failed.
Later cells run as long as the kernel is alive.

As in ``nbgrader autograde``, the kernel sees ``NBGRADER_EXECUTION=autograde``, and
the files the notebook writes in its folder are sent back (regular files only,
size-bounded) to be stored beside the graded notebook.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from .sandbox import KERNEL_FILES, Limits

STATUS_OK = "ok"
STATUS_TIMEOUT = "timeout"
STATUS_KERNEL_DIED = "kernel_died"
STATUS_ERROR = "error"


@dataclass
class ExecutionResult:
    """What a worker sends back: the executed notebook (JSON text) and how it went."""

    notebook: str
    status: str
    reason: str
    seconds: float
    # files the notebook wrote in its folder (new or changed), for autograded/
    files: dict[str, bytes] = field(default_factory=dict)
    worker: str = ""  # who ran it (Dask worker address, or host:pid)
    robust: ExecutionResult | None = None  # the robustness run (perturbed data), if any
    warm: bool = False  # ran in a warm kernel of the worker's pool (see warm.py)
    forked: bool = False  # that kernel was forked from the pool's server (see forked.py)


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"refusing to write file outside the scratch folder: {name!r}")
    return path


# seconds a cell past its limit has to stop after the interrupt before the kernel is killed
INTERRUPT_GRACE = 5
KERNEL_ENV = {"NBGRADER_EXECUTION": "autograde"}  # as nbgrader's autograde sets it
# Files written by the notebook that are copied back: at most this many, this big
COPY_BACK_FILES = 100
COPY_BACK_FILE_BYTES = 10 * 1024**2
COPY_BACK_TOTAL_BYTES = 50 * 1024**2
# never copied back: notebooks and the submission's timestamp (the grader's own)
NOT_COPIED = ("*.ipynb", "timestamp.txt", *KERNEL_FILES, f"{KERNEL_FILES[1]}-*")


def _error(ename: str, reason: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=reason,
                                  traceback=[f"{ename}: {reason}"])


def _mark_unfinished(nb, finished: set[int], current: int | None, ename: str,
                     reason: str) -> int:
    """Give every code cell that did not run to the end an error output; return how many.

    The cell that was running (``current``) gets ``ename: reason``; the cells that
    never started get ``NotExecuted``.
    """
    count = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip() or index in finished:
            continue
        if index == current:
            cell.outputs = [*cell.get("outputs", []), _error(ename, reason)]
        else:
            cell.outputs = [_error("NotExecuted", reason)]
        count += 1
    return count


def _cell_name(nb, index: int) -> str:
    """'cell 7 (q1_answer)': the position in the student's notebook (without the
    grader's guard cells) and the grade id, if any."""
    from .guard import MARK

    position = sum(1 for c in nb.cells[: index + 1] if not c.metadata.get(MARK))
    grade_id = nb.cells[index].metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {position}" + (f" ({grade_id})" if grade_id else "")


def _grading_executor(limits: Limits):
    """nbgrader's Execute, keeping track of which cells ran to the end."""
    from nbgrader.preprocessors import Execute

    class GradingExecute(Execute):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.finished: set[int] = set()
            self.current: int | None = None
            self.timeouts: list[str] = []  # the cells that ran past the limit

        def on_cell_execute(self, **kwargs):
            self.current = kwargs["cell_index"]

        def on_cell_executed(self, **kwargs):
            super().on_cell_executed(**kwargs)
            self.finished.add(kwargs["cell_index"])

        async def _async_handle_timeout(self, timeout, cell=None):
            name = _cell_name(self.nb, self.current)
            message = f"{name} exceeded the {timeout} s cell limit"
            self.timeouts.append(message)
            self.error_on_timeout = {
                "ename": "CellTimeoutError", "evalue": message,
                "traceback": [f"\x1b[0;31mCellTimeoutError\x1b[0m: {message}: interrupted"],
            }
            return await super()._async_handle_timeout(timeout, cell)

    return GradingExecute(
        timeout=limits.cell_timeout, interrupt_on_timeout=True, allow_errors=True,
        raise_on_iopub_timeout=True, iopub_timeout=INTERRUPT_GRACE,
    )


def _unsandboxed_manager(env: dict[str, str], scratch: str):
    """A plain kernel manager (no sandbox) whose kernel talks over Unix sockets in its
    scratch folder, like the sandboxed one (see :mod:`.socket_kernels`)."""
    from .socket_kernels import SocketKernelManager, socket_paths

    class EnvKernelManager(SocketKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            return await super()._async_pre_start_kernel(**kw)

    return EnvKernelManager(kernel_name="python3", **socket_paths(scratch))


def _written_files(scratch: str, given: dict[str, bytes]) -> tuple[dict[str, bytes], int]:
    """The regular files the notebook created or changed in its folder, size-bounded.

    Symbolic links, devices, fifos and sockets are skipped, and nothing is followed out
    of the folder. Returns (files, how many were left out for the limits).
    """
    import fnmatch
    import stat

    found: dict[str, bytes] = {}
    left_out, total = 0, 0
    for folder, dirs, names in os.walk(scratch):  # does not follow links to folders
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, scratch)
            if any(fnmatch.fnmatch(relative, pattern) for pattern in NOT_COPIED):
                continue
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode):
                    continue
                if info.st_size > COPY_BACK_FILE_BYTES or len(found) >= COPY_BACK_FILES \
                        or total + info.st_size > COPY_BACK_TOTAL_BYTES:
                    left_out += 1
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as handle:
                    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                        continue
                    content = handle.read(COPY_BACK_FILE_BYTES + 1)
            except OSError:
                continue
            if len(content) > COPY_BACK_FILE_BYTES:
                left_out += 1
                continue
            if given.get(relative) != content:
                found[relative] = content
                total += len(content)
    return found, left_out


# The sandboxes running in this process: kernel manager -> the Dask task it runs for
# (None for a local worker), so that an interrupted run can end them (kill_sandboxes).
_RUNNING: dict[object, object] = {}
_RUNNING_LOCK = threading.Lock()


def _current_task_key():
    try:
        from distributed.worker import thread_state

        return getattr(thread_state, "key", None)
    except ImportError:
        return None


def kill_sandboxes(keys=None) -> int:
    """Kill the sandboxes running in this process (those of the Dask tasks ``keys``,
    or all); return how many. Their notebooks end as if the kernel had died."""
    with _RUNNING_LOCK:
        chosen = [km for km, key in _RUNNING.items() if keys is None or key in keys]
    for km in chosen:
        with contextlib.suppress(Exception):
            os.kill(km.provisioner.pid, signal.SIGKILL)
    return len(chosen)


def _limit_output(nb, max_bytes: int) -> bool:
    """Keep at most ``max_bytes`` of output in all; True if anything was cut.

    Text is shortened with a note; a rich output (image, HTML) that does not fit is
    replaced by the note. Error outputs are always kept: they decide the score.
    """
    used, cut = 0, False
    note = "\n[... output truncated by the grader ...]\n"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            size = len(str(output))
            if output.get("output_type") == "error" or used + size <= max_bytes:
                used += size
                kept.append(output)
                continue
            cut = True
            room = max(0, max_bytes - used)
            if output.get("output_type") == "stream" and room:
                output.text = output.text[:room] + note
                kept.append(output)
            elif not (kept and kept[-1].get("text", "").endswith(note)):
                kept.append(nbformat.v4.new_output("stream", name="stderr", text=note))
            used = max_bytes
        cell.outputs = kept
    return cut


def close_client(client) -> None:
    """Close a kernel client and its own ZeroMQ context (its sockets and threads would
    otherwise outlive the notebook)."""
    with contextlib.suppress(Exception):
        client.stop_channels()
    with contextlib.suppress(Exception):
        client.context.destroy(linger=0)


def _close_client(executor) -> None:
    """Close the kernel client nbclient leaves open when it is given the kernel manager."""
    client, executor.kc = getattr(executor, "kc", None), None
    if client is not None:
        close_client(client)


def execute_notebook(
    notebook: str | bytes,
    files: dict[str, bytes] | None = None,
    *,
    limits: Limits | None = None,
    sandbox: bool = True,
    hide: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    kernel=None,
) -> ExecutionResult:
    """Run every cell of ``notebook`` in a fresh kernel; errors in cells do not stop it.

    The sandbox sees only what :func:`~.sandbox.sandbox_policy` allows; ``hide`` lists
    folders to mask even inside those. ``env`` is set in the kernel's environment
    (default: ``NBGRADER_EXECUTION=autograde``). ``kernel`` is a warm
    :class:`~.warm.Kernel` started with the same limits, sandbox, ``hide`` and ``env``
    (never used before); without it a kernel is started here. Either way the kernel, its
    sandbox and its scratch folder are destroyed when the notebook is done.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    limits = limits or Limits()
    env = KERNEL_ENV if env is None else env
    started = time.monotonic()
    try:
        nb = nbformat.reads(notebook if isinstance(notebook, str) else notebook.decode(),
                            as_version=4)
    except BaseException:
        if kernel is not None:
            kernel.discard()
        raise
    status, reason = STATUS_OK, ""
    written: dict[str, bytes] = {}
    if kernel is None:  # started on demand, by nbclient, as before the pool existed
        from .warm import Kernel, KernelSpec

        kernel = Kernel(KernelSpec(limits, sandbox, tuple(hide), tuple(sorted(env.items())), ()))
    scratch = kernel.scratch
    try:
        for name, content in (files or {}).items():
            target = Path(scratch, _safe_relative(name))
            for folder in reversed(target.parents):
                if folder.is_relative_to(scratch) and not folder.is_dir():
                    folder.mkdir()
                    folder.chmod(0o777)
            target.write_bytes(content)
            target.chmod(0o644)

        km = kernel.km
        executor = _grading_executor(limits)
        timed_out = threading.Event()

        def stop_kernel() -> None:
            timed_out.set()
            with contextlib.suppress(Exception):
                os.kill(km.provisioner.pid, signal.SIGKILL)  # the sandbox dies with it

        watchdog = threading.Timer(limits.notebook_timeout, stop_kernel)
        watchdog.daemon = True
        watchdog.start()
        with _RUNNING_LOCK:
            _RUNNING[km] = _current_task_key()
        ename = "Error"
        try:
            executor.preprocess(nb, {"metadata": {"path": scratch}}, km=km)
        except DeadKernelError as exc:
            if timed_out.is_set():
                status, ename = STATUS_TIMEOUT, "NotebookTimeoutError"
                reason = f"the notebook exceeded its {limits.notebook_timeout} s time limit"
            else:
                status, ename = STATUS_KERNEL_DIED, "DeadKernelError"
                reason = f"the kernel died (crash, exit or resource limit): {exc}"
        except CellTimeoutError:
            # the cell ran past its limit and went on after the interrupt, or its
            # output never arrived: the kernel is killed below
            status, ename = STATUS_TIMEOUT, "CellTimeoutError"
            name = _cell_name(nb, executor.current) if executor.current is not None else "a cell"
            reason = (executor.timeouts[-1] if executor.timeouts
                      else f"{name} did not send its output") + (
                f" and did not stop within {INTERRUPT_GRACE} s of the interrupt: "
                "the kernel was stopped")
        except Exception as exc:  # kernel failed to start, protocol errors...
            status, reason = STATUS_ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            watchdog.cancel()
            _close_client(executor)
            with contextlib.suppress(Exception):
                if km.has_kernel:
                    os.kill(km.provisioner.pid, signal.SIGKILL)
                    km.provisioner.process.wait(timeout=10)  # nothing writes any more
            with _RUNNING_LOCK:
                _RUNNING.pop(km, None)
        if status == STATUS_OK and executor.timeouts:
            status = STATUS_TIMEOUT
            reason = "; ".join(executor.timeouts) + " (interrupted, scored 0; the rest ran)"
        written, left_out = _written_files(scratch, files or {})
        if left_out:
            reason = (reason + "; " if reason else "") + (
                f"{left_out} file(s) written by the notebook not kept (size limits)")
    finally:
        kernel.discard()  # used once: the kernel, its sandbox and its folder are gone
    _mark_unfinished(nb, executor.finished, executor.current if status != STATUS_OK else None,
                     ename, reason or "the cell did not run to the end")
    if _limit_output(nb, limits.output_bytes):
        reason = (reason + "; " if reason else "") + "output truncated"
    return ExecutionResult(nbformat.writes(nb), status, reason, time.monotonic() - started,
                           written, warm=kernel.warm, forked=kernel.forked)
