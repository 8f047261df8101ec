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

import contextlib
import functools
import os
import secrets
import shutil
import signal
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


# What the sandbox sees of the machine: an allow-list, and nothing else. The root of
# the sandbox is an empty tmpfs; these system folders and files are bound into it
# read-only when they exist (symbolic links such as /bin -> usr/bin are recreated as
# links). The Python environment that runs the kernel is added by sandbox_policy().
SYSTEM_TREES = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_ETC = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",  # the dynamic linker
    "/etc/alternatives",  # /usr/bin/... links resolve through it
    "/etc/fonts",  # fontconfig (the CJK font for plot titles)
    "/etc/localtime", "/etc/timezone",
    "/etc/mime.types",
    "/etc/nsswitch.conf", "/etc/host.conf",
)
# The course's matplotlib settings (fonts with Chinese glyphs): the one file of the
# course package the sandbox sees, read-only, and named to the kernel by MATPLOTLIBRC.
# The course kernel's spec sets that variable (scripts/setup.sh), but the sandbox clears
# the environment and hides the course folder, so sandbox_policy() passes it on itself.
COURSE_MATPLOTLIBRC = os.path.realpath(Path(__file__).resolve().parent.parent / "matplotlibrc")
# Side-effect files copied back from the scratch folder into autograded/ (see execute.py)
KERNEL_FILES = ("kernel.json", "kernel-ipc")  # the kernel's connection file and sockets


@dataclass(frozen=True)
class Policy:
    """Everything the sandbox allows, in one place: mounts, environment and limits.

    ``mounts`` are bubblewrap operations applied in order: ``("ro", path)`` binds a
    path read-only, ``("rw", path)`` read-write, ``("link", target, path)`` makes a
    symbolic link, ``("tmpfs", path)`` an empty private folder, ``("dev", "/dev")``
    and ``("proc", "/proc")`` a minimal /dev and the sandbox's own /proc.
    """

    mounts: tuple[tuple[str, ...], ...]
    env: tuple[tuple[str, str], ...]
    limits: Limits
    uid: int
    workdir: str


def python_trees() -> list[str]:
    """The folders of the Python environment that runs the kernel (venv and base)."""
    trees = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                           sys.base_exec_prefix)}
    trees.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    # one tree inside another is bound once, as the outer one
    return sorted(t for t in trees if not any(t != o and t.startswith(o.rstrip("/") + "/")
                                                for o in trees))


def sandbox_policy(
    scratch: str, limits: Limits, hide: tuple[str, ...] = (), uid: int | None = None,
    env: dict[str, str] | None = None,
) -> Policy:
    """What one sandboxed kernel may see and do.

    Read-only: the system's programs and libraries (``SYSTEM_TREES``), a few files of
    ``/etc`` (``SYSTEM_ETC``) and the Python environment (:func:`python_trees`).
    Of the course itself, only its matplotlibrc (``COURSE_MATPLOTLIBRC``), read-only,
    so that students' plots show Chinese text in the course fonts, as in JupyterLab.
    Private and empty: ``/tmp`` (also the kernel's home). Read-write: the scratch
    folder holding the notebook and the assignment's data files. Nothing else of the
    machine exists inside: no home folders, no other checkouts, no course folders.
    ``hide`` names folders to mask even if they lie inside one of those trees.
    The environment is cleared; only ``env`` and what the kernel needs are set.
    """
    # /dev, /proc and the private /tmp first: a Python tree or scratch folder that lives
    # under /tmp (a clone in /tmp, say) is then bound on top of the empty /tmp, not hidden
    mounts: list[tuple[str, ...]] = [("dev", "/dev"), ("proc", "/proc"), ("tmpfs", "/tmp")]
    for path in (*SYSTEM_TREES, *SYSTEM_ETC):
        if os.path.islink(path):
            mounts.append(("link", os.readlink(path), path))
        elif os.path.exists(path):
            mounts.append(("ro", path))
    pythons = python_trees()
    mounts += [("ro", tree) for tree in pythons
               if not any(tree == m[-1] or tree.startswith(m[-1].rstrip("/") + "/")
                          for m in mounts if m[0] == "ro")]
    for folder in hide:
        folder = os.path.realpath(folder)
        inside = any(folder.startswith(m[-1].rstrip("/") + "/") for m in mounts if m[0] == "ro")
        if inside:
            mounts.append(("tmpfs", folder))
            mounts += [("ro", tree) for tree in pythons
                       if tree.startswith(folder.rstrip("/") + "/")]
    # after the hidden folders: the course folder may be one of them
    course_rc = {}
    if os.path.isfile(COURSE_MATPLOTLIBRC):
        mounts.append(("ro", COURSE_MATPLOTLIBRC))
        course_rc = {"MATPLOTLIBRC": COURSE_MATPLOTLIBRC}
    mounts.append(("rw", scratch))
    path = os.pathsep.join([os.path.join(sys.prefix, "bin"), "/usr/local/bin", "/usr/bin",
                            "/bin"])
    environment = {
        "PATH": path,
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "IPYTHONDIR": "/tmp/.ipython",
        "MPLCONFIGDIR": "/tmp/.matplotlib",
        **course_rc,
        **(env or {}),
    }
    return Policy(tuple(mounts), tuple(sorted(environment.items())), limits,
                  uid or sandbox_uid(), scratch)


def sandbox_tools() -> dict[str, str]:
    """The paths of bwrap, setpriv and prlimit (raise :class:`SandboxUnavailable` if one
    is missing)."""
    tools = {name: shutil.which(name) for name in ("bwrap", "setpriv", "prlimit")}
    missing = [name for name, path in tools.items() if not path]
    if missing:
        raise SandboxUnavailable(
            f"{', '.join(missing)} not found: grading untrusted notebooks needs the Debian "
            "packages bubblewrap and util-linux (scripts/setup.sh installs them)"
        )
    return tools  # type: ignore[return-value]


def bwrap_mounts(policy: Policy) -> list[str]:
    """bubblewrap's arguments for ``policy.mounts``, in order (with the folders that
    lead to each mount point, traversable by the sandbox's user)."""
    mounts: list[str] = []
    targets = {m[-1] for m in policy.mounts}
    created: set[str] = set()
    for kind, *args in policy.mounts:
        # the folders leading to a mount point, traversable by the sandbox's user
        for depth in range(2, len(Path(args[-1]).parts)):
            folder = str(Path(*Path(args[-1]).parts[:depth]))
            if folder not in created and folder not in targets:
                mounts += ["--perms", "0755", "--dir", folder]
                created.add(folder)
        if kind == "tmpfs":
            created = {f for f in created if not f.startswith(args[0].rstrip("/") + "/")}
        if kind == "ro":
            mounts += ["--ro-bind", args[0], args[0]]
        elif kind == "rw":
            mounts += ["--bind", args[0], args[0]]
        elif kind == "link":
            mounts += ["--symlink", args[0], args[1]]
        elif kind == "tmpfs":
            mounts += ["--perms", "1777" if args[0] == "/tmp" else "0755", "--tmpfs", args[0]]
        else:  # dev, proc
            mounts += [f"--{kind}", args[0]]
    return mounts


def bwrap_command(
    scratch: str, limits: Limits, hide: tuple[str, ...] = (), uid: int | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """The command prefix that starts a program inside the sandbox of :func:`sandbox_policy`.

    Namespaces come from bubblewrap (run as root, without a user namespace); then
    ``setpriv`` becomes a real unprivileged user with no capabilities at all (so that
    the process limit applies: the kernel exempts root from it), and ``prlimit`` sets
    the resource limits.
    """
    tools = sandbox_tools()
    policy = sandbox_policy(scratch, limits, hide, uid, env)
    mounts = bwrap_mounts(policy)
    environment = [a for name, value in policy.env for a in ("--setenv", name, value)]
    limits = policy.limits
    return [
        tools["bwrap"],
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try",
        "--clearenv",
        *mounts,
        "--remount-ro", "/",
        "--chdir", policy.workdir,
        "--die-with-parent",
        "--new-session",
        *environment,
        "--",
        tools["setpriv"],
        f"--reuid={policy.uid}", f"--regid={policy.uid}", "--clear-groups",
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


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def kernel_pid(sandbox_pid: int) -> int | None:
    """The kernel's pid (as seen from outside) in the sandbox started as ``sandbox_pid``.

    bubblewrap with its own PID namespace runs as: bwrap (``sandbox_pid``) -> bwrap as
    the namespace's init -> the kernel (after setpriv and prlimit replaced themselves
    with it). Signals sent to ``sandbox_pid`` reach neither of the last two.
    """
    for init in _children(sandbox_pid):
        for child in _children(init):
            return child
    return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside :func:`bwrap_command`'s sandbox.

    Interrupts are signals to the kernel's own process group inside the sandbox:
    jupyter_client's would go to bubblewrap, which does not pass them on.
    """

    def __init__(self, scratch: str, limits: Limits, hide: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, **kwargs):
        from .socket_kernels import socket_paths  # (it imports this module)

        super().__init__(kernel_name="python3", **socket_paths(scratch), **kwargs)
        self._scratch = scratch
        self._limits = limits
        self._hide = hide
        self._env = env
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
        return bwrap_command(self._scratch, self._limits, self._hide, self._uid,
                             self._env) + command

    def _kernel_process(self) -> int | None:
        """The pid of the kernel itself (inside bubblewrap's sandbox)."""
        return kernel_pid(self.provisioner.pid) if self.has_kernel else None

    async def interrupt_kernel(self) -> None:
        """SIGINT to the kernel's process group (the kernel is a session leader)."""
        pid = self._kernel_process()
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGINT)
        except OSError:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGINT)

    _async_interrupt_kernel = interrupt_kernel
