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
