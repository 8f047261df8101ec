"""The worker's side of grading: prepare, execute and score one whole submission.

The coordinator (:mod:`.autograde`) only dispatches and records. What it ships with
each task is trusted data of its own: an :class:`AssignmentKit`, built once per run
(the assignment's part of the gradebook, i.e. the instructor's cells with their hidden
tests and checksums, as a small SQLite file; the source folder's files; nbgrader's
configuration), plus the student's submitted files as bytes. The worker rebuilds a
private course folder from them in its own temporary directory and runs there, unchanged,
the steps the coordinator used to run: :func:`.prepare.prepare` (nbgrader's sanitising
preprocessors, checking every cell against the kit's gradebook, never against what
the student's notebook claims), the execution in the sandbox
(:func:`.executors.run_task`, warm kernels included), nbgrader's scoring preprocessors
(:func:`.autograde.record`) and the robustness judgement. It returns a plain picklable
:class:`GradedSubmission`: the scores and comments nbgrader wrote into the private
gradebook and the files of the graded folder. The worker never opens the course's
gradebook (a Dask worker need not reach it); the coordinator writes the results into
it in batches (:func:`.autograde.record_batch`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TASK_PREFIX = "dustcourse-task-"  # a task's private course folder, in the temporary folder

# The robustness run's worker side: {notebook: tests it judges}, on_failure
RobustSpec = tuple[dict[str, frozenset[str]], str]


@dataclass
class AssignmentKit:
    """What every task of one assignment carries: the coordinator's trusted data."""

    assignment: str
    config: object  # nbgrader's configuration (traitlets Config), as loaded by the coordinator
    gradebook: bytes  # the assignment's part of the gradebook (SQLite file, no student data)
    source: dict[str, bytes]  # the files of source/<assignment>/ (notebooks, data)
    robust: RobustSpec | None = None


@dataclass
class GradedNotebook:
    status: str
    reason: str = ""
    grades: dict[str, tuple[float | None, bool]] = field(default_factory=dict)  # auto, needs
    comments: dict[str, str | None] = field(default_factory=dict)  # auto comments
    robust_only: list[str] = field(default_factory=list)


@dataclass
class GradedSubmission:
    """A worker's result for one submission: plain data for the coordinator to record."""

    student: str
    error: str | None = None  # could not be prepared (the coordinator redoes it to say why)
    notes: list[str] = field(default_factory=list)  # what preparing repaired
    timestamp: str | None = None  # the submission's timestamp (ISO, UTC), as nbgrader read it
    notebooks: dict[str, GradedNotebook] = field(default_factory=dict)
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # autograded/: data, mode
    worker: str = ""


def _source_folder(config, assignment: str) -> Path:
    from .autograde import _coursedir

    coursedir = _coursedir(config)
    return Path(coursedir.format_path(coursedir.source_directory, ".", assignment))


def _read_folder(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def gradebook_snapshot(config, assignment: str) -> bytes:
    """The assignment's definition in the gradebook (notebooks, cells, due date), copied
    through nbgrader's models into a new SQLite file: what the workers check against.
    No student data; of the other assignments, only their cells' names."""
    import sqlite3

    from nbgrader.api import Gradebook
    from sqlalchemy import text

    from .autograde import _coursedir

    coursedir = _coursedir(config)
    with tempfile.TemporaryDirectory(prefix="dustcourse-kit-") as tmp, \
            Gradebook(coursedir.db_url, coursedir.course_id) as real:
        path = Path(tmp) / "gradebook.db"
        source = real.find_assignment(assignment)
        # the real gradebook's schema version, set first: nbgrader would otherwise ask
        # the alembic command for it (a subprocess, and not always on the PATH)
        version = real.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (version,))
        with Gradebook(f"sqlite:///{path}", coursedir.course_id) as gb:
            gb.add_assignment(source.name, duedate=source.duedate)
            for nb in source.notebooks:
                gb.add_notebook(nb.name, source.name, kernelspec=nb.kernelspec)
                for c in nb.grade_cells:
                    gb.add_grade_cell(c.name, nb.name, source.name, max_score=c.max_score,
                                      cell_type=c.cell_type)
                for c in nb.solution_cells:
                    gb.add_solution_cell(c.name, nb.name, source.name)
                for c in nb.task_cells:
                    gb.add_task_cell(c.name, nb.name, source.name, max_score=c.max_score,
                                     cell_type=c.cell_type)
                for c in nb.source_cells:
                    gb.add_source_cell(c.name, nb.name, source.name, cell_type=c.cell_type,
                                       locked=c.locked, source=c.source, checksum=c.checksum)
            # the other assignments' cell names only (no text): preparing names the
            # assignment a wrongly submitted notebook belongs to
            for other in real.assignments:
                if other.name == source.name:
                    continue
                gb.add_assignment(other.name)
                for nb in other.notebooks:
                    gb.add_notebook(nb.name, other.name)
                    for c in nb.source_cells:
                        gb.add_source_cell(c.name, nb.name, other.name, cell_type=c.cell_type)
        return path.read_bytes()


def build_kit(config, assignment: str, robust=None) -> AssignmentKit:
    """The kit of ``assignment`` (once per run, on the coordinator)."""
    spec = None
    if robust is not None:
        notebooks = set(robust.tests) | set(robust.ignored)
        spec = ({n: frozenset(robust.checked(n)) for n in notebooks}, robust.on_failure)
    return AssignmentKit(assignment, config, gradebook_snapshot(config, assignment),
                         _read_folder(_source_folder(config, assignment)), spec)


def task_files(kit: AssignmentKit, submitted: dict[str, bytes]) -> dict[str, bytes]:
    """The non-notebook files of the graded folder, as nbgrader's autograde lays them out:
    the student's files, overwritten by the source folder's (both minus ignored names)."""
    from nbgrader.utils import is_ignored

    ignore = [*_ignore_patterns(kit.config), "*.ipynb"]

    def kept(name: str) -> bool:
        return not any(is_ignored(part, ignore) for part in Path(name).parts)

    files = {n: c for n, c in submitted.items() if kept(n)}
    files.update((n, c) for n, c in kit.source.items() if kept(n))
    return files


def _ignore_patterns(config) -> list[str]:
    from .autograde import _coursedir

    return list(_coursedir(config).ignore)


def _write_tree(folder: Path, files: dict[str, bytes]) -> None:
    from .execute import _safe_relative

    for name, content in files.items():
        target = folder / _safe_relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


@functools.cache
def _unsynced_private_gradebooks() -> None:
    """Let SQLite skip waiting for the disk in tasks' private gradebooks (once per process).

    A private gradebook is a throwaway copy, deleted with its task, and nbgrader
    commits to it about 40 times per submission: waiting for each commit to reach the
    disk is time for nothing. Any other SQLite database (the course's gradebook) keeps
    SQLite's defaults.
    """
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _unsynced(connection, _record) -> None:
        if not isinstance(connection, sqlite3.Connection):
            return
        files = [row[2] for row in connection.execute("PRAGMA database_list") if row[2]]
        if files and all(Path(f).parent.name.startswith(TASK_PREFIX) for f in files):
            connection.execute("PRAGMA synchronous=OFF")
            connection.execute("PRAGMA journal_mode=MEMORY")


def _private_course(kit: AssignmentKit, student: str, submitted: dict[str, bytes], root: Path):
    """A course folder of this task alone: the kit's gradebook and source, the submission."""
    from .autograde import _coursedir

    config = copy.deepcopy(kit.config)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    (root / "gradebook.db").write_bytes(kit.gradebook)
    coursedir = _coursedir(config)
    _write_tree(Path(coursedir.format_path(coursedir.source_directory, ".", kit.assignment)),
                kit.source)
    submitted_folder = Path(coursedir.format_path(coursedir.submitted_directory, student,
                                                  kit.assignment))
    submitted_folder.mkdir(parents=True, exist_ok=True)
    _write_tree(submitted_folder, submitted)
    return config


def _read_results(config, assignment: str, student: str, result: GradedSubmission) -> None:
    from nbgrader.api import Gradebook

    from .autograde import _coursedir

    coursedir = _coursedir(config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        submission = gb.find_submission(assignment, student)
        result.timestamp = submission.timestamp.isoformat() if submission.timestamp else None
        for notebook in submission.notebooks:
            graded = result.notebooks.get(notebook.name)
            if graded is None:
                continue
            graded.grades = {g.name: (g.auto_score, bool(g.needs_manual_grade))
                             for g in notebook.grades}
            graded.comments = {c.name: c.auto_comment for c in notebook.comments}
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    result.files = {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mode & 0o7777)
                    for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def grade_submission(
    kit: AssignmentKit, student: str, submitted: dict[str, bytes], limits, sandbox: bool,
    hide: tuple[str, ...], robust_files: dict[str, bytes] | None = None,
    *, warm: tuple[str, ...] | None = None,
) -> GradedSubmission:
    """Prepare, execute and score one submission on this worker (the unit of work).

    ``submitted``: the student's submitted folder (relative name -> bytes). With
    ``robust_files`` (the perturbed data of the graded folder), each notebook runs a
    second time on them (:mod:`.robustness`). Raises what the execution raises (the
    sandbox cannot start, ...): the coordinator then records the submission as failed.
    """
    from . import executors
    from .autograde import _work_items, _write_files, record
    from .prepare import prepare, quiet_autoflush
    from .robustness import Robustness

    result = GradedSubmission(student)
    _unsynced_private_gradebooks()
    root = Path(tempfile.mkdtemp(prefix=TASK_PREFIX))
    try:
        with quiet_autoflush():
            config = _private_course(kit, student, submitted, root)
            prepared = prepare(config, kit.assignment, student)
            items = [] if prepared.error else _work_items(config, kit.assignment, student)
            if prepared.error or not items:
                result.error = prepared.error or "no notebook of this assignment was submitted"
                return result
            result.notes = prepared.notes
            judge = None
            if kit.robust is not None:
                tests, on_failure = kit.robust
                judge = Robustness(root, kit.assignment, "", root, on_failure,
                                   tests={n: set(t) for n, t in tests.items()})
            for notebook_id, notebook, files in items:
                extra = ()
                if judge is not None and robust_files is not None:
                    extra = (robust_files, frozenset(judge.checked(notebook_id)))
                run = executors.run_task(notebook, files, limits, sandbox, hide, *extra, warm=warm)
                result.worker = run.worker
                record(config, kit.assignment, student, notebook_id, run)
                graded = GradedNotebook(run.status, run.reason)
                if judge is not None:
                    graded.robust_only = judge.failed_only_here(notebook_id, run.notebook,
                                                                run.robust)
                    judge.apply(config, student, notebook_id, graded.robust_only)
                _write_files(config, kit.assignment, student, run.files)
                result.notebooks[notebook_id] = graded
            _read_results(config, kit.assignment, student, result)
            return result
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(root, ignore_errors=True)
        if os.path.exists(root):  # read-only files (nbgrader's permissions): make writable
            for dirpath, _, _ in os.walk(root):
                with contextlib.suppress(OSError):
                    os.chmod(dirpath, 0o755)
            shutil.rmtree(root, ignore_errors=True)
