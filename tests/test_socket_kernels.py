"""Kernels on Unix sockets (dustcourse.grading.socket_kernels), for stock nbgrader too.

On TCP, jupyter_client picks a free port and the kernel binds it a moment later, so
kernels started side by side by several processes could race for a port: the loser
died with "ZMQError: Address already in use" and its submission was not graded (seen
when the exercise contracts' `nbgrader autograde` runs ran side by side under load).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from conftest import Course
from nbclient import NotebookClient

from dustcourse.grading.socket_kernels import SocketKernelManager

_WHERE = ("import ipykernel, json\n"
          "info = json.loads(ipykernel.get_connection_info())\n"
          "print(info['transport'], info['ip'])")


def _run_where(path: Path) -> tuple[str, str]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_WHERE)])
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   kernel_manager_class=SocketKernelManager,
                   resources={"metadata": {"path": str(path)}}).execute()
    transport, ip = nb.cells[0].outputs[0].text.split()
    return transport, ip


def test_kernels_started_side_by_side_each_get_a_socket_folder_removed_after(tmp_path):
    with ThreadPoolExecutor(3) as pool:
        seen = list(pool.map(_run_where, [tmp_path] * 3))
    assert {transport for transport, _ in seen} == {"ipc"}
    folders = {os.path.dirname(ip) for _, ip in seen}
    assert len(folders) == 3, "each kernel has a folder of its own"
    assert all(len(ip) + len("-65535") <= 107 for _, ip in seen), "socket paths fit sun_path"
    assert not any(os.path.exists(f) for f in folders), "folders are removed at shutdown"
    assert not list(tmp_path.iterdir()), "nothing is left in the notebook's folder"


@pytest.mark.slow
def test_stock_nbgrader_autograde_runs_kernels_on_unix_sockets(tmp_path):
    """The course's nbgrader_config.py puts the socket kernels into `nbgrader
    autograde`: a student's extra cell there reports the kernel's transport."""
    course = Course.fresh(tmp_path / "course")
    release, _ = course.generate("ps0-warmup")
    nb = nbformat.read(release, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_WHERE))
    course.submit("curious", "ps0-warmup", nb)
    result = course.autograde("ps0-warmup")
    assert result.returncode == 0, result.stderr[-3000:]

    graded = nbformat.read(course.root / "autograded" / "curious" / "ps0-warmup"
                           / "ps0-warmup.ipynb", as_version=4)
    transport, ip = graded.cells[-1].outputs[0].text.split()
    assert transport == "ipc"
    assert not os.path.exists(os.path.dirname(ip)), "the socket folder is removed"


def test_a_students_check_runs_its_kernel_on_a_unix_socket(tmp_path):
    """`dustcourse check` (nbgrader's validator) too: checks run side by side, as the
    test suite's and a hub's students' do, cannot race for a TCP port."""
    from dustcourse.check import check

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        _WHERE + "\nopen('where.txt', 'w').write(info['transport'] + ' ' + info['ip'])")])
    nbformat.write(nb, tmp_path / "probe.ipynb")
    check(tmp_path / "probe.ipynb")
    transport, ip = (tmp_path / "where.txt").read_text().split()
    assert transport == "ipc"
    assert not os.path.exists(os.path.dirname(ip)), "the socket folder is removed"
