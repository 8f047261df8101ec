"""Run a Jupyter kernel for untrusted student code inside a bubblewrap sandbox.

The kernel process runs as an unprivileged user of its own (no account, a uid
unique to the worker) with every capability
dropped, in fresh namespaces (no network, its own PIDs, IPC and hostname), on a read-only view of
the file system with a private ``/tmp`` and one writable scratch folder that holds
the notebook's files. Resource limits (address space, CPU time, file size, number
of processes) are set with ``prlimit`` before Python starts.

Because the kernel has no network, it talks to the grader over ZeroMQ *IPC* sockets:
files in the scratch folder, which both sides can reach.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

# Each sandbox runs as a fresh unprivileged uid (no account needed): the kernel
# counts processes per uid, so one student's fork bomb (or its leftovers, still being
# reaped) cannot starve a sandbox that starts at the same time or just after.
SANDBOX_UID_BASE = 200_000
SANDBOX_UID_RANGE = 1_000_000


def sandbox_uid() -> int:
    """A fresh unprivileged uid for one sandbox."""
    return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_RANGE)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one notebook's kernel."""

    memory_bytes: int = 3 * 1024**3  # address space; numpy and pandas need ~1 GiB of it
    cpu_seconds: int = 600
    file_bytes: int = 64 * 1024**2
    processes: int = 256
    cell_timeout: int = 60  # seconds of wall-clock time per cell
    notebook_timeout: int = 600  # seconds of wall-clock time per notebook
    output_bytes: int = 10 * 1024**2  # largest output kept per notebook


def _reachable_mounts(paths: list[str]) -> list[str]:
    """bwrap arguments that let an unprivileged user reach ``paths``.

    A directory on the way that others may not enter (``/root`` holding a pyenv
    Python, say) is replaced by an empty tmpfs, and only the needed entry inside it
    is bound back read-only: the rest of that directory stays invisible.
    """
    args: list[str] = []
    hidden: set[str] = set()  # replaced by an empty tmpfs
    bound: set[str] = set()  # bound back inside a hidden directory
    for target in sorted({os.path.realpath(p) for p in paths}):
        parts = Path(target).parts
        for depth in range(len(parts) - 1):
            parent = str(Path(*parts[: depth + 1]))
            child = str(Path(*parts[: depth + 2]))
            if parent not in hidden and not os.stat(parent).st_mode & stat.S_IXOTH:
                args += ["--perms", "0755", "--tmpfs", parent]
                hidden.add(parent)
            if parent in hidden and child not in bound:
                args += ["--ro-bind", child, child]
                bound.add(child)
    return args


def bwrap_command(
    scratch: str, limits: Limits, hide: tuple[str, ...] = (), uid: int | None = None
) -> list[str]:
    """The command prefix that starts a program inside the sandbox.

    Namespaces come from bubblewrap (run as root, without a user namespace); then
    ``setpriv`` becomes the real unprivileged user ``nobody`` with no capabilities at
    all (so that the process limit applies: the kernel exempts root from it), and
    ``prlimit`` sets the resource limits.
    """
    tools = {name: shutil.which(name) for name in ("bwrap", "setpriv", "prlimit")}
    missing = [name for name, path in tools.items() if not path]
    if missing:
        raise SandboxUnavailable(
            f"{', '.join(missing)} not found: grading untrusted notebooks needs the Debian "
            "packages bubblewrap and util-linux (scripts/setup.sh installs them)"
        )
    python_homes = [sys.base_prefix, sys.prefix, os.path.realpath(sys.executable)]
    # A private /tmp, and the folders to hide (e.g. the course root: solutions,
    # gradebook, other students) replaced by empty ones; the Python running the
    # kernel is bound back if it lives in one of them (a clone under /tmp, a .venv
    # inside the course).
    masks = ["/tmp", *hide]
    masked: list[str] = []
    created: set[str] = set()

    def reach(path: str) -> None:
        """Create, traversable, the folders leading to ``path`` inside an earlier mask."""
        for folder in masks:
            if path.startswith(folder.rstrip("/") + "/") and folder != path:
                parts = Path(path).relative_to(folder).parts[:-1]
                for depth in range(1, len(parts) + 1):
                    step = str(Path(folder, *parts[:depth]))
                    if step not in created:
                        created.add(step)
                        masked.extend(["--perms", "0755", "--dir", step])

    for folder in masks:
        reach(folder)
        masked += ["--perms", "1777" if folder == "/tmp" else "0755", "--tmpfs", folder]
    for home in sorted(set(python_homes)):
        if any(home.startswith(folder.rstrip("/") + "/") for folder in masks):
            reach(home)
            masked += ["--ro-bind", home, home]
    uid = str(uid or sandbox_uid())
    return [
        tools["bwrap"],
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try",
        "--ro-bind", "/", "/",
        *_reachable_mounts(python_homes),
        "--dev", "/dev",
        "--proc", "/proc",
        *masked,
        "--bind", scratch, scratch,
        "--chdir", scratch,
        "--die-with-parent",
        "--new-session",
        # ipykernel would take the sandbox's init for a dead parent and exit
        "--unsetenv", "JPY_PARENT_PID",
        "--setenv", "HOME", "/tmp",
        "--setenv", "IPYTHONDIR", "/tmp/.ipython",
        "--setenv", "MPLCONFIGDIR", "/tmp/.matplotlib",
        "--",
        tools["setpriv"],
        f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs",
        "--",
        tools["prlimit"],
        f"--as={limits.memory_bytes}",
        f"--cpu={limits.cpu_seconds}",
        f"--fsize={limits.file_bytes}",
        f"--nproc={limits.processes}",
        "--",
    ]


@functools.cache
def check_sandbox(python: str = sys.executable) -> None:
    """Start Python in the sandbox once and import what a kernel needs; raise if it fails."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dustcourse-sandbox-check-") as scratch:
        os.chmod(scratch, 0o777)
        try:
            cmd = bwrap_command(scratch, Limits())
        except SandboxUnavailable:
            raise
        probe = (
            "import os, socket, ipykernel, pandas\n"
            f"assert os.getuid() >= {SANDBOX_UID_BASE}\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
            "except OSError:\n"
            "    pass\n"
            "else:\n"
            "    raise SystemExit('network reachable')\n"
        )
        result = subprocess.run(
            [*cmd, python, "-c", probe], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise SandboxUnavailable(
                "the grading sandbox could not start Python as an unprivileged user "
                f"(exit {result.returncode}): {result.stderr.strip()[-500:]}"
            )


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside :func:`bwrap_command`'s sandbox."""

    def __init__(self, scratch: str, limits: Limits, hide: tuple[str, ...] = (), **kwargs):
        super().__init__(
            transport="ipc",
            ip=os.path.join(scratch, "kernel-ipc"),
            connection_file=os.path.join(scratch, "kernel.json"),
            kernel_name="python3",
            **kwargs,
        )
        self._scratch = scratch
        self._limits = limits
        self._hide = hide
        self._uid = sandbox_uid()

    def write_connection_file(self, **kwargs):
        result = super().write_connection_file(**kwargs)
        # the kernel runs as nobody and must read its connection file
        os.chmod(self.connection_file, 0o644)
        return result

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # The kernel's own console chatter (connection banner) is not the grader's
        # business: what the student's code prints reaches the notebook anyway.
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        return bwrap_command(self._scratch, self._limits, self._hide, self._uid) + command
