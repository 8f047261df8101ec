"""Dask worker preload for the tests: a notebook marked KILL-THIS-WORKER kills its worker.

Student code runs in a sandbox and cannot kill the worker that runs it; a notebook
that crashes the worker process itself (a bug in a library, an out-of-memory kill of
the worker) is simulated here by exiting the worker when the task arrives.
"""

import os

from dustcourse.grading import executors

MARKER = "KILL-THIS-WORKER"
# Dask may import a preload module more than once: always wrap the real function.
_real_run_task = executors.__dict__.setdefault("_real_run_task", executors.run_task)


def run_task(notebook, *args, **kwargs):
    if MARKER in notebook:
        os._exit(1)
    return _real_run_task(notebook, *args, **kwargs)


executors.run_task = run_task


# A kit that a worker fails to fetch from another worker, once (whichever worker first
# fetches it while the file named by DUST_TEST_FLAKY_KIT exists; the file is removed):
# Dask then leaves the task that needed it waiting for good, and the coordinator must
# give that task up and send it again.
FLAKY_KIT = os.environ.get("DUST_TEST_FLAKY_KIT", "")


def _flaky_setstate(self, state):
    import sys

    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "gather_dep":
        frame = frame.f_back
    if frame is not None and FLAKY_KIT:
        try:
            os.unlink(FLAKY_KIT)  # one worker wins, once
        except FileNotFoundError:
            pass
        else:
            raise RuntimeError("this kit cannot be unpickled here (tests/dask_poison.py)")
    self.__dict__.update(state)


from dustcourse.grading import worker  # noqa: E402

worker.AssignmentKit.__setstate__ = _flaky_setstate
