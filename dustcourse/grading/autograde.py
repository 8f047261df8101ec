"""Autograde a class in parallel, sandboxed, with nbgrader's gradebook as the record.

The coordinator (this module) only dispatches and records. Workers (local processes
or a Dask cluster, see :mod:`.executors`) prepare, execute and score each whole
submission (:func:`.worker.grade_submission`) from the assignment's kit, built once
here, and the student's files; they return plain results. The coordinator writes them
into nbgrader's gradebook in batched transactions (:func:`record_batch`), with the
graded folders and status files: only it touches the gradebook and the course folders.
It keeps one task per worker thread in flight, so memory stays bounded for any class
size. A task that fails as a whole is prepared here and recorded as failed.

A run is idempotent: a submission whose files have not changed since it was last
graded is skipped unless ``force`` is given, so an interrupted run resumes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .execute import STATUS_ERROR, STATUS_OK, ExecutionResult, _safe_relative
from .executors import Backend, open_backend
from .guard import add_guard, remove_guard
from .prepare import _finish_failed, _zero_scores, prepare, quiet_autoflush
from .robustness import robustness_setup
from .sandbox import Limits, check_sandbox
from .worker import GradedSubmission, build_kit, grade_submission, task_files
from .worker import _read_folder as read_folder

# The grading machinery failed (a worker died for good, no worker was available):
# the submission scores zero for now and is graded again by the next run.
STATUS_WORKER_FAILED = "worker_failed"

STATUS_DIR = Path("grading") / "status"  # under the course root; gitignored
# Finished submissions are recorded together once half the worker slots' worth have
# finished, or the oldest has waited this long (seconds), or nothing else is running.
BATCH_WAIT = 1.0
# A task with no result after twice its notebooks' time limits plus this margin
# (seconds: preparing, starting the sandbox, fetching the kit, waiting behind one other
# task) is given up and sent again, once; see :func:`task_deadline`.
TASK_MARGIN = 300.0
TASK_TRIES = 2
# Tasks in flight longer than this (seconds) are checked now and then for being known
# never to finish (Backend.stalled), and given up at once if so.
STALL_CHECK = 10.0


@dataclass
class Outcome:
    """How one student's submission of one assignment was graded."""

    student: str
    assignment: str
    status: str  # ok, timeout, kernel_died, error, worker_failed, skipped
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    notebooks: dict[str, str] = field(default_factory=dict)  # notebook -> status
    workers: list[str] = field(default_factory=list)  # who executed its notebooks
    robust_only: list[str] = field(default_factory=list)  # tests failed only on perturbed data


def load_config(root: Path):
    """nbgrader's configuration from the course's nbgrader_config.py (the gradebook's
    URL as chosen by ``--db`` or ``DUSTCOURSE_DB_URL``, see :mod:`.database`)."""
    from traitlets.config.loader import PyFileConfigLoader

    from . import database

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    database.apply(config)
    return config


def _coursedir(config):
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config)


def submitted_students(root: Path, assignment: str, config=None) -> list[str]:
    coursedir = _coursedir(config or load_config(root))
    submitted = Path(coursedir.root) / coursedir.submitted_directory
    return sorted(
        p.name for p in submitted.glob("*")
        if (p / assignment).is_dir() and not p.name.startswith(".")
    )


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _status_path(root: Path, assignment: str, student: str) -> Path:
    return root / STATUS_DIR / assignment / f"{student}.json"


def read_status(root: Path, assignment: str, student: str) -> dict:
    """The last run's record of a submission: {"fingerprint", "outcome"} ({} if none)."""
    path = _status_path(root, assignment, student)
    return json.loads(path.read_text()) if path.is_file() else {}


def record(
    config, assignment: str, student: str, notebook_id: str, result: ExecutionResult
) -> None:
    """nbgrader's scoring preprocessors on an executed notebook: gradebook + autograded/."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from .metadata import CheckCellMetadata

    coursedir = _coursedir(config)
    nb = nbformat.reads(result.notebook, as_version=4)
    remove_guard(nb)
    resources = {
        "unique_key": notebook_id,
        "output_files_dir": f"{notebook_id}_files",
        "nbgrader": {
            "student": student,
            "assignment": assignment,
            "notebook": notebook_id,
            "db_url": coursedir.db_url,
            "course_id": coursedir.course_id,
        },
    }
    for cls in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                AssignLatePenalties, CheckCellMetadata):
        nb, resources = cls(config=config)(nb, resources)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    nbformat.write(nb, folder / f"{notebook_id}.ipynb")


def _assignment_modules(config, assignment: str) -> tuple[str, ...]:
    """The modules the assignment's source notebooks import: a warm kernel loads them."""
    from .warm import assignment_imports

    coursedir = _coursedir(config)
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    return assignment_imports(nbformat.read(path, as_version=4)
                              for path in sorted(source.glob("*.ipynb")))


def _scores(config, assignment: str, student: str) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    coursedir = _coursedir(config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        return submission.score, submission.max_score


def _work_items(config, assignment: str, student: str) -> list[tuple[str, str, dict[str, bytes]]]:
    """(notebook id, notebook JSON, other files) for each prepared notebook of a student."""
    coursedir = _coursedir(config)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    files = {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix != ".ipynb" and not p.is_symlink()
    }
    return [(p.stem, add_guard(p.read_text(encoding="utf-8")), files)
            for p in sorted(folder.glob("*.ipynb"))]


class Interrupted(KeyboardInterrupt):
    """The run was stopped (Ctrl-C): the finished submissions are recorded, the others
    left as they were before the run (graded by the next run)."""

    def __init__(self, outcomes: list[Outcome], left: list[str]):
        super().__init__(f"interrupted: {len(left)} submission(s) left for the next run")
        self.outcomes = outcomes
        self.left = left


class _CtrlC:
    """SIGINT stops the run, but never in the middle of recording a result."""

    def __init__(self):
        self.requested = False
        self._critical = 0
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame):
        if self.requested:
            return  # already stopping
        self.requested = True
        if not self._critical:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def recording(self):
        """A result is recorded whole (gradebook, autograded/, status) or not at all."""
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if self.requested and not self._critical:
            raise KeyboardInterrupt


def _write_files(config, assignment: str, student: str, files: dict[str, bytes]) -> None:
    """Store the files the notebook wrote beside its graded copy in autograded/, as
    nbgrader's autograde leaves them (never through a link, never over a notebook)."""
    coursedir = _coursedir(config)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    for name, content in files.items():
        target = folder / _safe_relative(name)
        if target.suffix == ".ipynb" or any(
            p.is_symlink() for p in [target, *target.parents] if p.is_relative_to(folder)
        ):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.parent.resolve().is_relative_to(folder.resolve()):
            continue
        target.write_bytes(content)


def _forget(config, root: Path, assignment: str, student: str, new: bool) -> None:
    """Undo what an interrupted run started for ``student``: the next run grades it.

    A submission never graded before loses its gradebook row and autograded/ folder;
    any status file goes, so that the submission is not skipped next time.
    """
    _status_path(root, assignment, student).unlink(missing_ok=True)
    if not new:
        return
    from nbgrader.api import Gradebook, MissingEntry

    coursedir = _coursedir(config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb, \
            contextlib.suppress(MissingEntry):
        gb.remove_submission(assignment, student)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # the student's folder, if nothing else is in it


def autograde(
    root: Path,
    assignment: str,
    students: Iterable[str] | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
    sandbox: bool = True,
    limits: Limits | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    backend: Backend | None = None,
    progress: Callable[[Outcome], None] | None = None,
    worker_wait: float = 120.0,
    robustness: bool = False,
    warm: bool = True,
    task_deadline: float | None = None,
) -> list[Outcome]:
    """Grade the submissions of ``assignment`` found in ``root/submitted``.

    ``executor`` is ``"local"`` (``jobs`` worker processes) or ``"dask"`` (the Dask
    scheduler at ``scheduler``, or a new local Dask cluster); see :mod:`.executors`.
    Raises :class:`~dustcourse.grading.sandbox.SandboxUnavailable` before grading
    anything if ``sandbox`` is true and the sandbox cannot start. If no worker is
    available for ``worker_wait`` seconds, the submissions still waiting are recorded
    as failed (and graded again by the next run) instead of stalling the batch.
    With ``robustness``, each submission also runs on perturbed data (:mod:`.robustness`).
    With ``warm`` (the default), every notebook runs in a warm kernel of its worker's
    pool (:mod:`.warm`): started ahead of need in its own fresh sandbox with the
    assignment's imports loaded, used once, then destroyed.
    A task with no result after ``task_deadline`` seconds (default: :func:`task_deadline`)
    is cancelled and sent again; after a second time the submission is recorded as
    failed (graded again by the next run) instead of holding up the batch for good.
    """
    root = Path(root).resolve()
    config = load_config(root)
    if limits is None:
        timeout = config.Execute.get("timeout", 60) if "Execute" in config else 60
        limits = Limits(cell_timeout=int(timeout))
    if sandbox and executor == "local" and backend is None:
        check_sandbox()
    students = sorted(students) if students else submitted_students(root, assignment, config)
    coursedir = _coursedir(config)

    outcomes: dict[str, Outcome] = {}
    pending: dict[str, dict] = {}
    for student in students:
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        fingerprint = _fingerprint(folder) if folder.is_dir() else ""
        previous = {} if force else read_status(root, assignment, student)
        if fingerprint and previous.get("fingerprint") == fingerprint:
            outcomes[student] = Outcome(**{**previous["outcome"], "status": "skipped"})
            continue
        if not folder.is_dir():
            outcomes[student] = Outcome(
                student, assignment, STATUS_ERROR, f"no submission in {folder}"
            )
            continue
        pending[student] = {"fingerprint": fingerprint, "started": time.monotonic(),
                            "notebooks": {}, "workers": set(), "new": not previous}
    if not pending:
        return [outcomes[s] for s in students]

    robust = robustness_setup(root, config, assignment, limits, sandbox) if robustness else None
    modules = _assignment_modules(config, assignment) if warm else None
    prewarm = None if modules is None else (limits, sandbox, (str(root),), modules,
                                            robust is not None)
    kit = build_kit(config, assignment, robust)
    deadline = task_deadline if task_deadline is not None else _task_deadline(kit, limits)
    own_backend = backend is None
    backend = backend or open_backend(executor, jobs=jobs, scheduler=scheduler, sandbox=sandbox,
                                      prewarm=prewarm)

    def done(student: str) -> None:
        if progress:
            progress(outcomes[student])

    waiting = list(pending)  # not yet dispatched
    in_flight: dict[Future, str] = {}
    sent_at: dict[Future, float] = {}  # when each task in flight was submitted
    tries: dict[str, int] = {}  # tasks of a student given up for want of a result
    started: list[str] = []  # dispatched
    shared_kit = [backend.share(kit)]  # sent to the workers once, where the backend can

    def submit(student: str) -> None:
        started.append(student)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        files = read_folder(folder)
        extra = () if robust is None else (robust.task_files(task_files(kit, files)),)
        try:
            future = backend.pool.submit(grade_submission, shared_kit[0], student, files, limits,
                                         sandbox, (str(root),), *extra, warm=modules)
        except Exception as exc:  # e.g. a local pool broken by a killed worker
            with ctrl_c.recording():
                _record_failure(student, STATUS_WORKER_FAILED,
                                f"could not start the task: {type(exc).__name__}: {exc}")
            return
        in_flight[future] = student
        sent_at[future] = time.monotonic()

    finished: list[tuple[Future, str]] = []  # done, not yet recorded (in batches)
    first_done = [0.0]  # when the oldest of them finished

    def dispatch() -> None:
        no_worker_since = None
        while waiting or in_flight or finished:
            slots = backend.slots()
            while len(in_flight) < slots and waiting:
                submit(waiting.pop(0))
            if slots:
                no_worker_since = None
            else:  # every worker is gone: wait for one, but not forever
                no_worker_since = no_worker_since or time.monotonic()
                if time.monotonic() - no_worker_since > worker_wait:
                    with ctrl_c.recording():
                        collect()
                        give_up(f"no worker was available for {worker_wait:g} s")
                    break
            if in_flight:
                linger = BATCH_WAIT - (time.monotonic() - first_done[0]) if finished else 1.0
                done, _ = wait(in_flight, timeout=max(0.0, linger),
                               return_when=FIRST_COMPLETED)
                if done and not finished:
                    first_done[0] = time.monotonic()
                for future in done:  # their slots are refilled before anything is recorded
                    finished.append((future, in_flight.pop(future)))
                    del sent_at[future]
                overdue()
            elif not finished:
                time.sleep(0.5)
                continue
            if finished and (not in_flight or len(finished) >= max(2, slots // 2)
                             or time.monotonic() - first_done[0] >= BATCH_WAIT):
                with ctrl_c.recording():
                    collect()

    looked = {"late": time.monotonic(), "stalled": time.monotonic()}

    def overdue() -> None:
        """Give up the tasks in flight that will not finish: past the deadline (a hung
        worker, a lost message), or known to be stuck (a Dask task waiting for the kit
        its worker failed to fetch). They must not hold the run for good. Each is
        cancelled and sent again, once, with the kit shared afresh (its old copy may be
        what is broken); then the submission is recorded as failed, and graded again
        by the next run."""
        now = time.monotonic()
        if now - looked["late"] < 1.0:
            return
        looked["late"] = now
        late = [f for f in in_flight if now - sent_at[f] > deadline]
        if now - looked["stalled"] >= STALL_CHECK:
            looked["stalled"] = now
            old = [f for f in in_flight if STALL_CHECK < now - sent_at[f] <= deadline]
            late += backend.stalled(old) if old else []
        for future in late:
            student = in_flight.pop(future)
            del sent_at[future]
            # a Dask task is cancelled on the cluster; a local task already running
            # cannot be, and ends within its own limits: a late result is ignored
            future.cancel()
            tries[student] = tries.get(student, 0) + 1
            if tries[student] < TASK_TRIES:
                waiting.insert(0, student)
                continue
            with ctrl_c.recording():
                _record_failure(student, STATUS_WORKER_FAILED,
                                f"no result from the workers after {TASK_TRIES} tries "
                                f"(each given up after {deadline:g} s or when stuck)")
        if late:
            shared_kit[0] = backend.share(kit)

    def give_up(reason: str) -> None:
        for future, student in list(in_flight.items()):
            future.cancel()
            _record_failure(student, STATUS_WORKER_FAILED, reason)
        in_flight.clear()
        for student in waiting:
            _finish_failed(config, root, outcomes, pending, assignment,
                           student, reason, final=False)
            done(student)

    def _record_failure(student: str, status: str, reason: str) -> None:
        """The task failed as a whole: the coordinator prepares the submission itself
        (as nbgrader would leave it) and records it as failed (rare: no batching)."""
        with quiet_autoflush():
            prepared = prepare(config, assignment, student)
        items = [] if prepared.error else _work_items(config, assignment, student)
        if prepared.error or not items:
            _finish_failed(config, root, outcomes, pending, assignment, student,
                           prepared.error or "no notebook of this assignment was submitted")
        else:
            state = pending[student]
            state["notes"] = prepared.notes
            state["notebooks"] = {notebook_id: (status, reason) for notebook_id, *_ in items}
            _finish(config, root, outcomes, pending, assignment, student)
        done(student)

    def collect() -> None:
        """Record the finished submissions as one batch: one gradebook transaction."""
        batch: list[GradedSubmission] = []
        while finished:
            future, student = finished.pop(0)
            try:
                result = future.result()
            except Exception as exc:  # the worker died, or cannot run the sandbox
                # Dask gives up on a task that killed several workers in turn: the
                # submission itself is to blame, and grading it again would not help
                killer = type(exc).__name__ == "KilledWorker"
                _record_failure(student, STATUS_ERROR if killer else STATUS_WORKER_FAILED,
                                f"worker failed: {type(exc).__name__}: {exc}")
                continue
            if result.error:  # cannot be prepared: redone here, to leave what nbgrader leaves
                _record_failure(student, STATUS_ERROR, result.error)
                continue
            batch.append(result)
        if batch:
            record_batch(config, root, outcomes, pending, assignment, batch, gradebook(),
                         memo)
            for result in batch:
                done(result.student)

    books: list = []  # the coordinator's gradebook session, opened once for the run
    memo: dict = {}  # what recording reads once per run

    def gradebook():
        if not books:
            from nbgrader.api import Gradebook

            books.append(Gradebook(coursedir.db_url, coursedir.course_id))
        return books[0]

    ctrl_c = _CtrlC()
    try:
        with ctrl_c:
            try:
                dispatch()
            except KeyboardInterrupt:
                # Ctrl-C: end the running sandboxes, keep what is finished, undo the rest
                ctrl_c.requested = True
                backend.abort(list(in_flight))
                left = [s for s in students if s in pending and s not in outcomes]
                for student in left:
                    if student in started:
                        _forget(config, root, assignment, student, pending[student]["new"])
                raise Interrupted([outcomes[s] for s in students if s in outcomes],
                                  left) from None
    finally:
        for book in books:
            book.close()
        if own_backend:
            backend.close()
    return [outcomes[s] for s in students]


def _task_deadline(kit, limits: Limits) -> float:
    """Seconds after which a task is given up: twice what its notebooks may take
    (every notebook of the assignment at its wall-clock limit, twice with the
    robustness run; twice over, for a task queued behind another) plus TASK_MARGIN."""
    notebooks = max(1, sum(1 for name in kit.source
                           if name.endswith(".ipynb") and "/" not in name))
    runs = 2 if kit.robust is not None else 1
    return 2 * notebooks * runs * limits.notebook_timeout + TASK_MARGIN


def _write_graded_folder(config, assignment: str, result: GradedSubmission) -> None:
    """autograded/<student>/<assignment>/ as the worker left it (replacing an older one)."""
    from .execute import _safe_relative

    coursedir = _coursedir(config)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, result.student,
                                        assignment))
    if folder.is_dir():
        for path in folder.rglob("*"):  # nbgrader's read-only copies
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)
    for name, (content, mode) in result.files.items():
        target = folder / _safe_relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode & 0o777)


def _assignment_shape(gb, assignment: str) -> dict:
    """What recording needs of the assignment's definition, read once per run: its id
    and due date, its notebooks' and cells' names, and the rows a new submission gets
    (nbgrader's add_submission: a grade per graded or task cell, a comment per answer
    or task cell)."""
    definition = gb.find_assignment(assignment)
    layout, cells = [], {}
    for notebook in definition.notebooks:
        grades = [c.id for c in notebook.grade_cells] + [c.id for c in notebook.task_cells]
        comments = [c.id for c in notebook.solution_cells] + [c.id for c in notebook.task_cells]
        layout.append((notebook.id, grades, comments))
        for cell in [*notebook.grade_cells, *notebook.solution_cells, *notebook.task_cells]:
            cells[cell.id] = cell.name
    shape = {"id": definition.id, "duedate": definition.duedate, "layout": layout,
             "cells": cells, "notebooks": {nb.id: nb.name for nb in definition.notebooks}}
    gb.db.rollback()
    return shape


def record_batch(config, root: Path, outcomes, pending, assignment: str,
                 batch: list[GradedSubmission], gb, memo: dict | None = None) -> None:
    """Write the workers' results of several submissions: the graded folders, then the
    gradebook in one transaction (through nbgrader's models: SQLite or PostgreSQL), then
    the status files. What nbgrader's autograde would write, from the workers' private
    gradebooks: each score as SaveAutoGrades sets it (a grade with a manual score still
    needs the instructor's review), comments, timestamps, late penalties. ``gb`` is the
    coordinator's :class:`nbgrader.api.Gradebook`, kept open for the run (one engine:
    its compiled statements are reused); no transaction stays open in between. ``memo``
    keeps what is read once per run (the assignment's shape)."""
    from nbgrader import utils
    from nbgrader.api import Comment, Grade, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy.orm import selectinload

    memo = {} if memo is None else memo

    for result in batch:
        _write_graded_folder(config, assignment, result)
    students = [r.student for r in batch]
    with quiet_autoflush():
        db = gb.db
        try:
            shape = memo.get("shape") or memo.setdefault("shape", _assignment_shape(gb, assignment))
            names, notebook_names = shape["cells"], shape["notebooks"]
            known = {s.id for s in db.query(Student).filter(Student.id.in_(students))}
            existing = {s.student_id: s for s in db.query(SubmittedAssignment).options(
                selectinload(SubmittedAssignment.notebooks).selectinload(SubmittedNotebook.grades),
                selectinload(SubmittedAssignment.notebooks).selectinload(
                    SubmittedNotebook.comments),
            ).filter(SubmittedAssignment.assignment_id == shape["id"],
                     SubmittedAssignment.student_id.in_(students))}
            late = []
            for result in batch:
                if result.student not in known:
                    db.add(Student(id=result.student))
                submission = existing.get(result.student)
                if submission is None:  # as Gradebook.add_submission, inside this transaction
                    submission = SubmittedAssignment(assignment_id=shape["id"],
                                                     student_id=result.student)
                    for notebook_id, grades, comments in shape["layout"]:
                        nb = SubmittedNotebook(notebook_id=notebook_id, assignment=submission)
                        for cell_id in grades:
                            Grade(cell_id=cell_id, notebook=nb)
                        for cell_id in comments:
                            Comment(cell_id=cell_id, notebook=nb)
                    db.add(submission)
                if result.timestamp:
                    submission.timestamp = utils.parse_utc(result.timestamp)
                for nb in submission.notebooks:
                    graded = result.notebooks.get(notebook_names.get(nb.notebook_id))
                    if graded is None:
                        continue
                    for grade in nb.grades:
                        auto, needs = graded.grades.get(names.get(grade.cell_id), (None, True))
                        grade.auto_score = auto
                        grade.needs_manual_grade = needs or grade.manual_score is not None
                    for comment in nb.comments:
                        comment.auto_comment = graded.comments.get(names.get(comment.cell_id))
                    nb.late_submission_penalty = None
                duedate = shape["duedate"]
                if duedate is not None and submission.extension is not None:
                    duedate = duedate + submission.extension
                if (submission.timestamp is not None and duedate is not None
                        and submission.timestamp > duedate):  # SubmittedAssignment's own rule
                    late.append((result, submission))
            if late:  # nbgrader's plugin reads the notebooks' new scores and relations:
                db.flush()  # write the batch so far (same transaction) and read it back
                for result, submission in late:
                    db.refresh(submission)
                    for nb in submission.notebooks:
                        db.refresh(nb)
                    _late_penalties(config, result, submission)
            db.commit()
        except BaseException:
            db.rollback()  # nothing of the batch is written
            raise
    for result in batch:
        state = pending[result.student]
        state["notes"] = result.notes
        state["notebooks"] = {n: (g.status, g.reason) for n, g in result.notebooks.items()}
        state["workers"].add(result.worker)
        state["robust_only"] = [t for g in result.notebooks.values() for t in g.robust_only]
        if any(g.status in (STATUS_ERROR, STATUS_WORKER_FAILED)
               for g in result.notebooks.values()):
            _zero_scores(config, assignment, result.student)
    scores = _batch_scores(gb, assignment, students)
    for result in batch:
        _finish(config, root, outcomes, pending, assignment, result.student,
                scores=scores.get(result.student, (0.0, 0.0)))


def _late_penalties(config, result: GradedSubmission, submission) -> None:
    """nbgrader's AssignLatePenalties for each graded notebook of a late submission."""
    from nbgrader.preprocessors import AssignLatePenalties

    step = AssignLatePenalties(config=config)
    step.init_plugin()
    for nb in submission.notebooks:
        if nb.notebook.name not in result.notebooks:
            continue
        penalty = step.plugin_inst.late_submission_penalty(
            result.student, nb.score, submission.total_seconds_late)
        if penalty is not None:
            nb.late_submission_penalty = step._check_late_penalty(nb, penalty)


def _batch_scores(gb, assignment: str, students: list[str]) -> dict[str, tuple]:
    """student -> (score, max score) of their submissions, in one query."""
    from nbgrader.api import Assignment, SubmittedAssignment

    try:
        rows = (gb.db.query(SubmittedAssignment.student_id, SubmittedAssignment.score,
                            SubmittedAssignment.max_score)
                .join(Assignment).filter(Assignment.name == assignment,
                                         SubmittedAssignment.student_id.in_(students)).all())
    finally:
        gb.db.rollback()  # end the read transaction: SQLite's other writers must not wait
    return {student: (score, max_score) for student, score, max_score in rows}


def _finish(config, root, outcomes, pending, assignment, student, scores=None) -> None:
    state = pending[student]
    statuses = state["notebooks"]
    bad = {nb: s for nb, s in statuses.items() if s[0] != STATUS_OK}
    status = next(iter(bad.values()))[0] if bad else STATUS_OK
    reason = "; ".join(f"{nb}: {r}" for nb, (_, r) in bad.items() if r) or "; ".join(
        r for _, r in statuses.values() if r
    )
    reason = "; ".join(filter(None, [*state.get("notes", []), reason]))
    if scores is None and any(s in (STATUS_ERROR, STATUS_WORKER_FAILED)
                              for s, _ in statuses.values()):
        _zero_scores(config, assignment, student)
    score, max_score = scores if scores is not None else _scores(config, assignment, student)
    outcomes[student] = Outcome(
        student, assignment, status, reason, score, max_score,
        time.monotonic() - state["started"], {nb: s for nb, (s, _) in statuses.items()},
        sorted(state["workers"]), sorted(state.get("robust_only", ())),
    )
    # a failure of the grading machinery, not of the submission: graded again next run
    final = not any(s == STATUS_WORKER_FAILED for s, _ in statuses.values())
    _save_status(root, assignment, student, state["fingerprint"] if final else "",
                 outcomes[student])


def _save_status(root: Path, assignment: str, student: str, fingerprint: str, outcome: Outcome):
    path = _status_path(root, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprint": fingerprint, "outcome": asdict(outcome)}, indent=1))
