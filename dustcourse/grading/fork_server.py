"""The fork server of a warm-kernel pool: runs inside its own bubblewrap sandbox.

This file is run as a script (``python -c``): the sandbox hides the course folder, so
it imports nothing of the course, only the standard library and what the kernels load.
:mod:`.forked` starts it and talks to it; read that module first.

The server imports ipykernel and the assignment's modules once, then waits on a Unix
socket. For each request (one JSON line: the kernel's command, scratch folder, uid,
limits and environment) it forks a *waiter*, which

1. enters new mount, PID, network, IPC and UTS namespaces;
2. mounts a fresh, empty ``/tmp`` (and, if the pool's folder is elsewhere, a fresh
   folder over it) holding only this kernel's scratch folder and the Python trees
   that live under ``/tmp``, each at the same path as on the host;
3. forks the kernel, PID 1 of the new PID namespace: it mounts its own ``/proc``,
   starts a new session, sets the resource limits, drops every capability and
   becomes the request's unprivileged uid with ``no_new_privs``, then runs ipykernel
   in the scratch folder with the request's environment, the modules already loaded;
4. sends ``{"pid": <the kernel's pid on the host>}``, waits for the kernel and sends
   ``{"exit": <its exit code>}``.

Killing the kernel (PID 1) ends everything the student started. The waiter dies with
the server and the kernel with its waiter (``PR_SET_PDEATHSIG``); the server dies with
bubblewrap, which dies with the grading worker. No student code ever runs in the server
or a waiter: each kernel is a fresh copy of the untouched server.
"""

import contextlib
import ctypes
import json
import os
import resource
import signal
import socket
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522
RLIMITS = {"memory_bytes": resource.RLIMIT_AS, "cpu_seconds": resource.RLIMIT_CPU,
           "file_bytes": resource.RLIMIT_FSIZE, "processes": resource.RLIMIT_NPROC}

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(text):
    return None if text is None else text.encode()


def mount(source, target, fstype, flags, data=None) -> None:
    _check(libc.mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags),
                      _bytes(data)), f"mount {target}")


def prctl(option: int, arg: int = 0) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0)), f"prctl {option}")


def drop_capabilities() -> None:
    """Empty the bounding, ambient and inheritable sets (setuid then empties the rest)."""
    cap = 0
    while libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) == 0:
        cap += 1
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), 0, 0, 0)


def clear_capability_sets() -> None:
    header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable (two words each)
    _check(libc.capset(header, data), "capset")


def under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def run_kernel(request: dict) -> None:
    """In the forked kernel process (PID 1 of its namespace): confine, then be ipykernel."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        for name, limit in RLIMITS.items():
            value = request["limits"][name]
            resource.setrlimit(limit, (value, value))
        uid = request["uid"]
        drop_capabilities()
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        clear_capability_sets()
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.umask(0o022)
        os.chdir(request["scratch"])
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:  # not the server's seed, shared by every kernel
            numpy_random.seed()
        argv = request["argv"]
        module = argv.index("-m")
        if argv[module + 1] != "ipykernel_launcher":
            raise SystemExit(f"not an ipykernel command: {argv}")
        sys.argv = [argv[module + 1], *argv[module + 2:]]
        if sys.path and sys.path[0] == "":  # as ipykernel_launcher does (IPython adds it back)
            del sys.path[0]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # nowhere to report it but the exit code
        code = 1
    finally:
        import atexit

        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def send(conn: socket.socket, message: dict) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def private_view(scratch: str, config: dict) -> None:
    """New namespaces; fresh, empty ``config["covers"]`` (``/tmp``, the pool's folder)
    with only ``config["keep"]`` (Python trees under ``/tmp``) and ``scratch`` in them."""
    libc.unshare.argtypes = [ctypes.c_int]
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
                        | CLONE_NEWUTS), "unshare")
    stage = config["stage"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700")
    paths = [*config["keep"], scratch]
    for number, path in enumerate(paths):  # set aside what stays visible
        spot = os.path.join(stage, str(number))
        if os.path.isdir(path):
            os.mkdir(spot)
        else:
            open(spot, "w").close()
        mount(path, spot, None, MS_BIND | MS_REC)
    for folder in config["covers"]:
        mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=1777" if folder == "/tmp" else "mode=0755")
    for number, path in enumerate(paths):  # and put it back, at the same path
        spot = os.path.join(stage, str(number))
        if os.path.isdir(spot):
            os.makedirs(path, 0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            open(path, "w").close()
        mount(spot, path, None, MS_MOVE)
    _check(libc.umount2(_bytes(stage), MNT_DETACH), f"umount {stage}")


def wait_for_kernel(conn: socket.socket, request: dict, config: dict) -> None:
    """In a waiter: new namespaces and a private view of the files, then the kernel."""
    scratch = os.path.realpath(request["scratch"])
    pool = config["pool"]
    if not under(scratch, pool) or scratch == pool:
        raise SystemExit(f"scratch folder {scratch} not in the pool's folder")
    private_view(scratch, config)
    pid = os.fork()
    if pid == 0:
        conn.close()
        run_kernel(request)
    send(conn, {"pid": pid})
    _, status = os.waitpid(pid, 0)
    send(conn, {"exit": os.waitstatus_to_exitcode(status)})


def serve(listener: socket.socket, config: dict) -> None:
    server = os.getpid()
    while True:
        conn, _ = listener.accept()
        while True:  # reap the waiters that are done
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        with conn.makefile("rb") as reader:
            line = reader.readline()
        pid = os.fork()
        if pid == 0:
            try:
                listener.close()
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                if os.getppid() != server:
                    os._exit(1)
                wait_for_kernel(conn, json.loads(line), config)
            except BaseException as exc:  # the client reads the reason
                with contextlib.suppress(OSError):
                    send(conn, {"error": f"{type(exc).__name__}: {exc}"})
            finally:
                os._exit(0)
        conn.close()


def main() -> None:
    """``python -c SOURCE CONFIG``: CONFIG is JSON with the socket's ``address``, the
    ``pool`` folder, an empty ``stage`` folder, the ``covers`` and ``keep`` of
    :func:`private_view` and the ``modules`` to load."""
    config = json.loads(sys.argv[1])
    import importlib

    import ipykernel.kernelapp  # noqa: F401 (loaded once, for every kernel)

    for name in config["modules"]:
        try:
            importlib.import_module(name)
        except BaseException:  # the notebook's own import will fail as it would have
            continue
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(config["address"])
    os.chmod(config["address"], 0o600)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    serve(listener, config)


if __name__ == "__main__":
    main()
