"""Warm sandboxed kernels: started ahead of need, each used for one notebook, then destroyed.

Starting a kernel inside a fresh sandbox and importing pandas, matplotlib and scipy
costs about a second of CPU per notebook. A worker process therefore keeps a small
:class:`KernelPool`: a filler thread starts kernels ahead of need, each in its **own
fresh sandbox** (its own scratch folder, private ``/tmp``, uid, PID namespace) with the
assignment's imports already loaded (:func:`assignment_imports`), while the worker runs
the previous notebook. :func:`~.execute.execute_notebook` takes one, copies the
notebook's files into its scratch folder and runs the notebook in it; afterwards the
kernel and its sandbox are killed and the scratch folder removed, exactly as for a
kernel started on demand. A kernel is never handed out twice, so nothing one student
does (a patched module, files in ``/tmp`` or the working folder, environment
variables, threads or processes left running) can reach another student's notebook.

The imports run before any student code, silently and outside the notebook's history
(no execution count, no output), by ``importlib`` (no name is bound in the notebook's
namespace). A module that fails to import is skipped: the notebook's own import then
fails as it would have. If a warm kernel cannot be had, the notebook runs in a kernel
started on demand, as before.
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import contextlib
import logging
import os
import shutil
import signal
import threading
from collections import deque
from dataclasses import dataclass

from .sandbox import Limits
from .socket_kernels import new_kernel_folder

log = logging.getLogger(__name__)

# modules the grader's own guard cells import (guard.py): worth loading in every kernel
GUARD_MODULES = ("math", "numpy", "pandas")
HISTORY_ARGS = ["--HistoryManager.hist_file=:memory:"]  # as nbclient starts a kernel
WARM_TIMEOUT = 120  # seconds a kernel may take to start and load the imports
TAKE_TIMEOUT = 120  # seconds a notebook waits for a warm kernel before starting its own


def assignment_imports(notebooks) -> tuple[str, ...]:
    """The modules imported (top level, absolute) by the code cells of ``notebooks``.

    ``notebooks`` are nbformat notebooks (the assignment's source: the instructor's
    cells, so the names are the course's, never a student's). ``import a.b`` and
    ``from a.b import c`` give ``a.b``; IPython magics and unparsable cells are skipped.
    """
    found: dict[str, None] = dict.fromkeys(GUARD_MODULES)
    for nb in notebooks:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines()
                               if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(dict.fromkeys(alias.name for alias in node.names))
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found[node.module] = None
    return tuple(found)


def preload_code(modules: tuple[str, ...]) -> str:
    """What a warm kernel runs before the notebook: import the modules, bind no name."""
    return (
        "def _dustcourse_preload(names):\n"
        "    import importlib\n"
        "    for name in names:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except BaseException:\n"
        "            pass\n"
        f"_dustcourse_preload({list(modules)!r})\n"
        "del _dustcourse_preload\n"
    )


@dataclass(frozen=True)
class KernelSpec:
    """What every kernel of a pool is started with (a pool serves one spec)."""

    limits: Limits
    sandbox: bool
    hide: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    modules: tuple[str, ...]
    fork: bool = True  # sandboxed kernels forked from a server with the modules loaded


class Kernel:
    """One kernel in its own scratch folder and sandbox; used once, then :meth:`discard`."""

    def __init__(self, spec: KernelSpec, server=None):
        from .execute import _unsandboxed_manager
        from .forked import ForkedKernelManager
        from .sandbox import SandboxedKernelManager

        self.spec = spec
        # the kernel's sockets live here too (a short path: see socket_kernels)
        self.scratch = new_kernel_folder(server.folder if server else None)
        os.chmod(self.scratch, 0o777)
        env = dict(spec.env)
        if server is not None:  # forked by the pool's server (forked.py)
            self.km = ForkedKernelManager(server, self.scratch, spec.limits, spec.hide, env)
        elif spec.sandbox:
            self.km = SandboxedKernelManager(self.scratch, spec.limits, spec.hide, env)
        else:
            self.km = _unsandboxed_manager(env, self.scratch)
        self.forked = server is not None
        self.warm = False

    def start(self) -> None:
        """Start the kernel and load the imports (in the calling thread, which must
        outlive the kernel: the sandbox dies with the thread that started it)."""
        asyncio.run(self.km.start_kernel(extra_arguments=list(HISTORY_ARGS),
                                         cwd=self.scratch))
        from jupyter_client.blocking import BlockingKernelClient

        from .execute import close_client

        kc = BlockingKernelClient()
        kc.load_connection_info(self.km.get_connection_info())
        kc.start_channels(hb=False)  # the heartbeat starts late in a busy sandbox
        try:
            kc.wait_for_ready(timeout=WARM_TIMEOUT)
            msg_id = kc.execute(preload_code(self.spec.modules), silent=True,
                                store_history=False)
            while True:
                reply = kc.get_shell_msg(timeout=WARM_TIMEOUT)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"loading the imports failed: {reply['content']}")
        finally:
            close_client(kc)
        self.warm = True

    def alive(self) -> bool:
        with contextlib.suppress(Exception):
            return self.km.has_kernel and self.km.provisioner.process.poll() is None
        return False

    def discard(self) -> None:
        """Kill the kernel and its sandbox (everything in it), remove the scratch folder
        (with the connection file and sockets)."""
        with contextlib.suppress(Exception):
            if self.km.has_kernel:
                os.kill(self.km.provisioner.pid, signal.SIGKILL)
                self.km.provisioner.process.wait(timeout=10)
        with contextlib.suppress(Exception):  # the manager's ZeroMQ context
            if self.km._created_context:
                self.km.context.destroy(linger=0)
        shutil.rmtree(self.scratch, ignore_errors=True)


class KernelPool:
    """Keeps ``depth`` warm kernels of one spec ready; one filler thread starts them."""

    def __init__(self, spec: KernelSpec, depth: int = 1):
        self.spec = spec
        self.depth = max(1, depth)
        self._ready: deque[Kernel] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._failures = 0
        self.started = 0  # kernels started by this pool (for tests and benchmarks)
        self._thread = threading.Thread(target=self._fill, name="dustcourse-warm-kernels",
                                        daemon=True)
        self._thread.start()

    def _start_server(self):
        """The pool's fork server (None: kernels are started one by one)."""
        if not (self.spec.sandbox and self.spec.fork):
            return None
        from .forked import ForkServer

        try:
            return ForkServer(self.spec.limits, self.spec.hide, dict(self.spec.env),
                              self.spec.modules)
        except Exception:
            log.exception("no fork server: warm kernels are started one by one")
            return None

    def _fill(self) -> None:
        # the server and every kernel it forks die with this thread (see forked.py)
        server = self._start_server()
        try:
            self._fill_with(server)
        finally:
            if server is not None:
                with self._cond:
                    kernels = list(self._ready)
                    self._ready.clear()
                for kernel in kernels:
                    kernel.discard()
                # kernels handed out end with their notebook (its time limit at most)
                server.wait_for_kernels(self.spec.limits.notebook_timeout + 30)
                server.close()

    def _fill_with(self, server) -> None:
        while True:
            with self._cond:
                while not self._closed and len(self._ready) >= self.depth:
                    self._cond.wait()
                if self._closed:
                    return
            kernel = Kernel(self.spec, server)
            try:
                kernel.start()
            except Exception:
                log.exception("a warm kernel could not start")
                kernel.discard()
                if server is not None and server.process.poll() is not None:
                    log.error("the fork server died (%s): kernels are started one by one",
                              server.log())
                    server.close()
                    server = None
                with self._cond:
                    self._failures += 1
                    self._cond.notify_all()
                    if self._failures >= 3:  # give up: notebooks start their own kernels
                        self._closed = True
                        return
                continue
            with self._cond:
                self.started += 1
                self._failures = 0
                if self._closed:
                    kernel.discard()
                    return
                self._ready.append(kernel)
                self._cond.notify_all()

    def take(self, timeout: float = TAKE_TIMEOUT) -> Kernel | None:
        """A warm kernel, never handed out before (None: none could be had in time)."""
        with self._cond:
            while True:
                while self._ready:
                    kernel = self._ready.popleft()
                    self._cond.notify_all()  # the filler starts the next one
                    if kernel.alive():
                        return kernel
                    kernel.discard()  # died while waiting (resource limit...)
                if self._closed or not self._cond.wait(timeout):
                    return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            kernels = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for kernel in kernels:
            kernel.discard()


_POOLS: dict[KernelSpec, KernelPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(spec: KernelSpec, depth: int = 1) -> KernelPool:
    """This process's pool for ``spec`` (pools of other specs are closed: a new run)."""
    with _POOLS_LOCK:
        for other in [s for s in _POOLS if s != spec]:
            _POOLS.pop(other).close()
        pool = _POOLS.get(spec)
        if pool is None:
            pool = _POOLS[spec] = KernelPool(spec, depth)
        pool.depth = max(pool.depth, depth)
        return pool


def close_pools() -> None:
    """End every warm kernel of this process (worker shutdown)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


atexit.register(close_pools)
with contextlib.suppress(Exception):  # worker processes of multiprocessing skip atexit
    from multiprocessing import util as _mp_util

    _mp_util.Finalize(None, close_pools, exitpriority=10)
