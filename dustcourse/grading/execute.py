"""Execute one prepared notebook, from bytes to bytes, in a fresh sandboxed kernel.

:func:`execute_notebook` is the unit of work a grading executor runs: it takes the
notebook and the files it needs (data files of the assignment) as bytes, and returns
the executed notebook with a status. It never touches the gradebook or the course
folders, so it can run in a local worker process or on another machine.

A notebook that runs out of time or kills its kernel does not get points for the
cells that never ran: each unexecuted code cell receives an error output saying why,
and nbgrader scores it as failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import nbformat

from .sandbox import Limits, SandboxedKernelManager

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
    worker: str = ""  # who ran it (Dask worker address, or host:pid)
    robust: ExecutionResult | None = None  # the robustness run (perturbed data), if any


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"refusing to write file outside the scratch folder: {name!r}")
    return path


def _mark_unexecuted(nb, reason: str) -> int:
    """Give every code cell that never ran an error output; return how many."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
            cell.outputs = [
                nbformat.v4.new_output(
                    "error", ename="NotExecuted", evalue=reason,
                    traceback=[f"NotExecuted: {reason}"],
                )
            ]
            count += 1
    return count


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


def execute_notebook(
    notebook: str | bytes,
    files: dict[str, bytes] | None = None,
    *,
    limits: Limits | None = None,
    sandbox: bool = True,
    hide: tuple[str, ...] = (),
) -> ExecutionResult:
    """Run every cell of ``notebook`` in a fresh kernel; errors in cells do not stop it.

    ``hide`` lists folders the student code must not see at all (the course root, with
    the solutions, the gradebook and the other submissions): they appear empty.
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.preprocessors import Execute

    limits = limits or Limits()
    started = time.monotonic()
    nb = nbformat.reads(notebook if isinstance(notebook, str) else notebook.decode(), as_version=4)
    status, reason = STATUS_OK, ""
    with tempfile.TemporaryDirectory(prefix="dustcourse-run-") as scratch:
        os.chmod(scratch, 0o777)
        for name, content in (files or {}).items():
            target = Path(scratch, _safe_relative(name))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        for path in Path(scratch).rglob("*"):
            path.chmod(0o777 if path.is_dir() else 0o644)

        if sandbox:
            km = SandboxedKernelManager(scratch, limits, hide)
        else:
            from jupyter_client.manager import AsyncKernelManager

            km = AsyncKernelManager(kernel_name="python3")
        executor = Execute(
            timeout=limits.cell_timeout, interrupt_on_timeout=True, allow_errors=True
        )
        timed_out = threading.Event()

        def stop_kernel() -> None:
            timed_out.set()
            with contextlib.suppress(Exception):
                os.kill(km.provisioner.pid, signal.SIGKILL)  # the sandbox dies with it

        watchdog = threading.Timer(limits.notebook_timeout, stop_kernel)
        watchdog.daemon = True
        watchdog.start()
        try:
            executor.preprocess(nb, {"metadata": {"path": scratch}}, km=km)
        except DeadKernelError as exc:
            status = STATUS_TIMEOUT if timed_out.is_set() else STATUS_KERNEL_DIED
            reason = (
                f"notebook time limit of {limits.notebook_timeout} s exceeded"
                if timed_out.is_set()
                else f"the kernel died (crash, exit or resource limit): {exc}"
            )
        except CellTimeoutError as exc:
            status, reason = STATUS_TIMEOUT, f"a cell did not finish: {exc}"
        except Exception as exc:  # kernel failed to start, protocol errors...
            status, reason = STATUS_ERROR, f"{type(exc).__name__}: {exc}"
        finally:
            watchdog.cancel()
            with contextlib.suppress(Exception):
                if km.has_kernel:
                    os.kill(km.provisioner.pid, signal.SIGKILL)
    if status != STATUS_OK:
        _mark_unexecuted(nb, reason)
    if _limit_output(nb, limits.output_bytes):
        reason = (reason + "; " if reason else "") + "output truncated"
    return ExecutionResult(nbformat.writes(nb), status, reason, time.monotonic() - started)
