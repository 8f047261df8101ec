"""Warm kernels forked from one sandboxed server per pool, not started one by one.

Starting Python and ipykernel and importing pandas, matplotlib and scipy costs about a
second of CPU per kernel, and a worker has one or two cores. A :class:`ForkServer`
pays it once per pool: it runs ``fork_server.py`` inside a bubblewrap sandbox made
by the same :func:`~.sandbox.sandbox_policy` as a kernel's (the allow-list of files,
no network, the course folder hidden, a cleared environment), with the modules
loaded. For each kernel the server forks a copy of itself that enters fresh
namespaces of its own (mounts, PIDs, network, IPC, hostname), gets an empty ``/tmp``
holding only this kernel's scratch folder, sets the resource limits, drops every
capability and becomes a fresh unprivileged uid, and then runs ipykernel (see
``fork_server.py``). The student's code therefore meets the same sandbox as in a
kernel started on its own, in a process that nothing else ever ran in.

:class:`ForkedKernelManager` is the jupyter_client side: the kernel's process is a
:class:`ForkedKernel` (what ``subprocess.Popen`` would be), whose exit the server
reports over the kernel's own connection to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from .sandbox import (
    Limits,
    SandboxedKernelManager,
    bwrap_mounts,
    sandbox_policy,
    sandbox_tools,
)
from .socket_kernels import scratch_parent

SERVER_SOURCE = Path(__file__).with_name("fork_server.py")
POOL_PREFIX = "dustcourse-pool-"
STAGE = "/.dustcourse-stage"  # an empty folder where a fork sets aside what it keeps
START_TIMEOUT = 120  # seconds the server may take to load the modules
SPAWN_TIMEOUT = 30  # seconds a fork may take to report its kernel's pid


def _readable(stream, timeout: float | None) -> bool:
    """Whether ``stream`` (a socket or file) has data within ``timeout`` seconds (poll,
    not select: a Dask worker's descriptors go beyond select's 1024)."""
    poller = select.poll()
    poller.register(stream, select.POLLIN)
    return bool(poller.poll(None if timeout is None else int(timeout * 1000)))


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class ForkServerFailed(RuntimeError):
    """The fork server did not start or did not give a kernel."""


class ForkedKernel:
    """A forked kernel's process, as ``subprocess.Popen`` would show it.

    ``pid`` is the kernel's pid on the host (PID 1 of its own namespace: killing it
    ends everything the student started). The exit code comes from the server; if the
    server itself is gone, the kernel is gone with it (``-SIGKILL``).
    """

    stdin = stdout = stderr = None

    def __init__(self, conn: socket.socket):
        self._conn = conn
        self._buffer = b""
        self._lock = threading.Lock()
        self.returncode: int | None = None
        message = self._read(SPAWN_TIMEOUT)
        if message is None or "pid" not in message:
            conn.close()
            reason = (message or {}).get("error", "no answer") if message else "no answer"
            raise ForkServerFailed(f"the fork server gave no kernel: {reason}")
        self.pid: int = message["pid"]

    def _read(self, timeout: float | None) -> dict | None:
        """The server's next message (None: none within ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not _readable(self._conn, left):
                return None
            chunk = self._conn.recv(4096)
            if not chunk:  # the server and its forks are gone, and the kernel with them
                return {"exit": -signal.SIGKILL}
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _finish(self, timeout: float | None) -> bool:
        if self.returncode is None:
            message = self._read(timeout)
            if message is None:
                return False
            self.returncode = int(message.get("exit", -signal.SIGKILL))
            self._conn.close()
        return True

    def poll(self) -> int | None:
        if self._lock.acquire(blocking=False):  # (another thread is waiting for it)
            try:
                self._finish(0)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._lock:
            if not self._finish(timeout):
                raise subprocess.TimeoutExpired("forked kernel", timeout)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.kill()  # the kernel is its namespace's init, which ignores SIGTERM


class ForkServer:
    """One sandboxed server that forks the kernels of one pool.

    Start it in the thread that outlives its kernels (bubblewrap dies with the thread
    that started it, and every kernel with bubblewrap). Kernels' scratch folders go
    in :attr:`folder`; :meth:`close` kills the server and removes the folder.
    """

    def __init__(self, limits: Limits, hide: tuple[str, ...], env: dict[str, str],
                 modules: tuple[str, ...]):
        tools = sandbox_tools()
        self.folder = tempfile.mkdtemp(prefix=POOL_PREFIX,
                                       dir=scratch_parent(len(POOL_PREFIX) + 9))
        self.address = os.path.join(self.folder, "server.sock")
        policy = sandbox_policy(self.folder, limits, hide, env=env)
        # what the forks keep of the server's view of /tmp: Python trees in it (a
        # checkout in /tmp); everything else there, the pool's folder too, is covered
        covers = ["/tmp"] + ([] if _under(self.folder, "/tmp") else [self.folder])
        keep = [m[-1] for m in policy.mounts
                if m[0] == "ro" and any(_under(m[-1], c) for c in covers)]
        config = {"address": self.address, "pool": self.folder, "stage": STAGE,
                  "covers": covers, "keep": keep, "modules": list(modules)}
        self.kernel_env = dict(policy.env)  # what every kernel runs with (scratch aside)
        environment = dict(policy.env, MPLBACKEND="module://matplotlib_inline.backend_inline")
        command = [
            tools["bwrap"],
            "--unshare-ipc", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--clearenv",
            *bwrap_mounts(policy),
            "--dir", STAGE,
            "--remount-ro", "/",
            "--chdir", "/",
            "--die-with-parent",
            "--new-session",
            "--cap-add", "ALL",  # to make each fork's namespaces; the forks drop them all
            *[a for name, value in environment.items() for a in ("--setenv", name, value)],
            "--",
            sys.executable, "-Xfrozen_modules=off", "-c", SERVER_SOURCE.read_text(),
            json.dumps(config),
        ]
        self._kernels: list[ForkedKernel] = []
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=self._log)
        ready = _readable(self.process.stdout, START_TIMEOUT)
        if not ready or self.process.stdout.readline() != b"ready\n":  # type: ignore[union-attr]
            self.close()
            raise ForkServerFailed(f"the fork server did not start: {self.log()}")

    def log(self) -> str:
        with contextlib.suppress(Exception):
            self._log.seek(0)
            return self._log.read().decode(errors="replace").strip()[-1000:]
        return ""

    def spawn(self, argv: list[str], scratch: str, uid: int, limits: Limits) -> ForkedKernel:
        """Fork a kernel running ``argv`` (ipykernel's command) in ``scratch``."""
        request = {"argv": argv, "scratch": scratch, "uid": uid, "env": self.kernel_env,
                   "limits": {"memory_bytes": limits.memory_bytes,
                              "cpu_seconds": limits.cpu_seconds,
                              "file_bytes": limits.file_bytes,
                              "processes": limits.processes}}
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.address)
            conn.sendall(json.dumps(request).encode() + b"\n")
        except OSError as exc:
            conn.close()
            raise ForkServerFailed(f"the fork server is gone: {exc}; {self.log()}") from exc
        kernel = ForkedKernel(conn)
        self._kernels = [k for k in self._kernels if k.poll() is None] + [kernel]
        return kernel

    def wait_for_kernels(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until every kernel forked has ended:
        closing the server kills them, and one may still be grading a notebook."""
        deadline = time.monotonic() + timeout
        while any(k.poll() is None for k in self._kernels) and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        """Kill the server (and so every kernel it forked), remove the pool's folder."""
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.wait(timeout=10)
        with contextlib.suppress(Exception):
            self.process.stdout.close()  # type: ignore[union-attr]
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class ForkedKernelManager(SandboxedKernelManager):
    """A :class:`~.sandbox.SandboxedKernelManager` whose kernel ``server`` forks."""

    def __init__(self, server: ForkServer, scratch: str, limits: Limits,
                 hide: tuple[str, ...] = (), env: dict[str, str] | None = None, **kwargs):
        super().__init__(scratch, limits, hide, env, **kwargs)
        self._server = server

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        return AsyncKernelManager.format_kernel_cmd(self, extra_arguments)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        process = self._server.spawn(kernel_cmd, self._scratch, self._uid, self._limits)
        provisioner = self.provisioner
        provisioner.process = process  # type: ignore[union-attr]
        provisioner.pid = provisioner.pgid = process.pid  # type: ignore[union-attr]
        provisioner.cwd = self._scratch  # type: ignore[union-attr]
        self._reconcile_connection_info(provisioner.connection_info)  # type: ignore[union-attr]

    def _kernel_process(self) -> int | None:
        """The kernel's pid: the process the server forked (it leads its session)."""
        return self.provisioner.pid if self.has_kernel else None  # type: ignore[union-attr]
