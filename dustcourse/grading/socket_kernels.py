"""Kernels that talk over Unix sockets in a private folder, not over TCP ports.

jupyter_client picks free TCP ports for a kernel and the kernel binds them a moment
later, so kernels started side by side by several processes (two ``nbgrader autograde``
runs, grading workers) can race for one port: the loser dies with "ZMQError: Address
already in use" and its notebook is not graded. A Unix socket in a folder of its own
cannot be taken by another kernel.

:class:`SocketKernelManager` is such a kernel manager; :class:`Execute` is nbgrader's
Execute preprocessor using it (the course's ``nbgrader_config.py`` puts it in place of
nbgrader's for ``nbgrader autograde``).
"""

from __future__ import annotations

import os
import shutil
import tempfile

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute as NbgraderExecute
from traitlets import default

from .sandbox import KERNEL_FILES

# A Unix socket's path holds at most 107 bytes (``sun_path``): the folder goes to /tmp
# when the temporary folder's path leaves no room for the socket names.
_SOCKET_PATH_MAX = 107
_FOLDER_PREFIX = "dustcourse-run-"
_FOLDER_ROOM = len(_FOLDER_PREFIX) + 8 + len(f"/{KERNEL_FILES[1]}-65535")  # mkdtemp adds 8


def scratch_parent(extra: int = 0) -> str:
    """Where kernels' folders go: the temporary folder, if its path leaves room for the
    kernel's socket names (and ``extra`` characters of folders between); otherwise
    ``/tmp``."""
    parent = tempfile.gettempdir()
    if len(os.path.join(parent, "")) + extra + _FOLDER_ROOM > _SOCKET_PATH_MAX:
        return "/tmp"
    return parent


def new_kernel_folder(parent: str | None = None) -> str:
    """A new, empty folder for one kernel's connection file and sockets (in ``parent``,
    made by :func:`scratch_parent` with room for it, or in ``scratch_parent()``)."""
    return tempfile.mkdtemp(prefix=_FOLDER_PREFIX, dir=parent or scratch_parent())


def socket_paths(folder: str) -> dict[str, str]:
    """The kernel-manager settings that put a kernel's connection file and sockets in
    ``folder``."""
    return {"transport": "ipc", "ip": os.path.join(folder, KERNEL_FILES[1]),
            "connection_file": os.path.join(folder, KERNEL_FILES[0])}


class SocketKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel uses Unix sockets in a folder of its own (made
    when the kernel starts, removed when it shuts down), unless it is given a
    ``connection_file`` (then the caller's folder holds the sockets and stays)."""

    _own_folder: str | None = None

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    async def _async_pre_start_kernel(self, **kw):
        if self.transport == "ipc" and not self._own_folder and not self.connection_file:
            self._own_folder = new_kernel_folder()
            paths = socket_paths(self._own_folder)
            self.ip, self.connection_file = paths["ip"], paths["connection_file"]
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._own_folder:
            shutil.rmtree(self._own_folder, ignore_errors=True)
            self._own_folder, self.connection_file = None, ""


class Execute(NbgraderExecute):
    """nbgrader's Execute preprocessor, with kernels on Unix sockets
    (:class:`SocketKernelManager`); its settings are still ``c.Execute.*``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SocketKernelManager)
        super().__init__(*args, **kwargs)
