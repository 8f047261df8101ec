"""Autograde a class in parallel, sandboxed, with nbgrader's gradebook as the record.

The coordinator (this module) prepares each submission with nbgrader's own sanitising
step, hands the prepared notebooks to a pool of worker processes that execute them
(:func:`dustcourse.grading.execute.execute_notebook`), and records each result with
nbgrader's scoring preprocessors as soon as it arrives. Only the coordinator touches
the gradebook and the course folders.

A run is idempotent: a submission whose files have not changed since it was last
graded is skipped unless ``force`` is given, so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from .execute import STATUS_ERROR, STATUS_OK, ExecutionResult, execute_notebook
from .sandbox import Limits, check_sandbox

STATUS_DIR = Path("grading") / "status"  # under the course root; gitignored


@dataclass
class Outcome:
    """How one student's submission of one assignment was graded."""

    student: str
    assignment: str
    status: str  # ok, timeout, kernel_died, error, skipped
    reason: str = ""
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    notebooks: dict[str, str] = field(default_factory=dict)  # notebook -> status


def load_config(root: Path):
    """nbgrader's configuration from the course's nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
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


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _deduplicate_grade_ids():
    """nbgrader's DeduplicateIds, minus its crash on the copies it clears.

    nbgrader empties the metadata of a duplicated graded cell (``{}``) and a later
    step then fails on the missing ``grade_id``; removing the key instead leaves a
    plain cell, and the copy nbgrader keeps is graded as usual.
    """
    from nbgrader.preprocessors import DeduplicateIds

    class DeduplicateGradeIds(DeduplicateIds):
        def preprocess_cell(self, cell, resources, cell_index):
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
            return cell, resources

    return DeduplicateGradeIds


def prepare(config, assignment: str, student: str) -> str | None:
    """nbgrader's sanitising step for one submission; the error text if it failed."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import DeduplicateIds
    from traitlets.config import Config

    cfg = Config(config)
    cfg.Autograde.autograde_preprocessors = []  # execution and scoring happen later
    cfg.Autograde.sanitize_preprocessors = [
        _deduplicate_grade_ids() if cls is DeduplicateIds else cls
        for cls in Autograde.class_traits()["sanitize_preprocessors"].default()
    ]
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.student_id = student
    converter = Autograde(coursedir=_coursedir(cfg), config=cfg)
    converter.force = True
    capture = _Capture()
    converter.log.addHandler(capture)
    try:
        converter.start()
    except Exception as exc:  # nbgrader raises after logging the per-student failure
        details = [m for m in capture.messages if "Traceback" in m or "Error" in m]
        last = (details[-1] if details else str(exc)).strip().splitlines()[-1]
        return f"could not prepare the submission: {last}"
    finally:
        converter.log.removeHandler(capture)
    return None


def _zero_scores(config, assignment: str, student: str) -> None:
    """Record a submission that could not be graded: every graded cell scores zero."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    coursedir = _coursedir(config)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warning; harmless
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            submission = gb.add_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gb.db.commit()


def record(
    config, assignment: str, student: str, notebook_id: str, result: ExecutionResult
) -> None:
    """nbgrader's scoring preprocessors on an executed notebook: gradebook + autograded/."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    coursedir = _coursedir(config)
    nb = nbformat.reads(result.notebook, as_version=4)
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
    return [(p.stem, p.read_text(encoding="utf-8"), files) for p in sorted(folder.glob("*.ipynb"))]


def autograde(
    root: Path,
    assignment: str,
    students: Iterable[str] | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
    sandbox: bool = True,
    limits: Limits | None = None,
    executor: Executor | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Grade the submissions of ``assignment`` found in ``root/submitted``.

    Raises :class:`~dustcourse.grading.sandbox.SandboxUnavailable` before grading
    anything if ``sandbox`` is true and the sandbox cannot start.
    """
    root = Path(root).resolve()
    config = load_config(root)
    if limits is None:
        timeout = config.Execute.get("timeout", 60) if "Execute" in config else 60
        limits = Limits(cell_timeout=int(timeout))
    if sandbox:
        check_sandbox()
    students = sorted(students) if students else submitted_students(root, assignment, config)
    coursedir = _coursedir(config)

    outcomes: dict[str, Outcome] = {}
    pending: dict[str, dict] = {}
    for student in students:
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        fingerprint = _fingerprint(folder) if folder.is_dir() else ""
        status_file = _status_path(root, assignment, student)
        if not force and status_file.is_file():
            previous = json.loads(status_file.read_text())
            if previous.get("fingerprint") == fingerprint:
                outcomes[student] = Outcome(**{**previous["outcome"], "status": "skipped"})
                continue
        if not folder.is_dir():
            outcomes[student] = Outcome(
                student, assignment, STATUS_ERROR, f"no submission in {folder}"
            )
            continue
        pending[student] = {"fingerprint": fingerprint, "started": time.monotonic()}

    own_pool = executor is None
    pool = executor or ProcessPoolExecutor(
        max_workers=jobs or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("forkserver"),
    )
    try:
        futures = {}
        for student in list(pending):
            error = prepare(config, assignment, student)
            items = [] if error else _work_items(config, assignment, student)
            if error or not items:
                _finish_failed(config, root, outcomes, pending, assignment, student,
                               error or "no notebook of this assignment was submitted")
                if progress:
                    progress(outcomes[student])
                continue
            pending[student]["notebooks"] = {}
            pending[student]["left"] = len(items)
            for notebook_id, notebook, files in items:
                future = pool.submit(
                    execute_notebook, notebook, files, limits=limits, sandbox=sandbox,
                    hide=(str(root),),
                )
                futures[future] = (student, notebook_id)
        for future in as_completed(futures):
            student, notebook_id = futures[future]
            state = pending[student]
            try:
                result = future.result()
            except Exception as exc:  # the worker itself died
                result = None
                state["notebooks"][notebook_id] = (STATUS_ERROR, f"worker failed: {exc}")
            if result is not None:
                record(config, assignment, student, notebook_id, result)
                state["notebooks"][notebook_id] = (result.status, result.reason)
            state["left"] -= 1
            if state["left"] == 0:
                _finish(config, root, outcomes, pending, assignment, student)
                if progress:
                    progress(outcomes[student])
    finally:
        if own_pool:
            pool.shutdown(wait=True, cancel_futures=True)
    return [outcomes[s] for s in students]


def _finish(config, root, outcomes, pending, assignment, student) -> None:
    state = pending[student]
    statuses = state["notebooks"]
    bad = {nb: s for nb, s in statuses.items() if s[0] != STATUS_OK}
    status = next(iter(bad.values()))[0] if bad else STATUS_OK
    reason = "; ".join(f"{nb}: {r}" for nb, (_, r) in bad.items() if r) or "; ".join(
        r for _, r in statuses.values() if r
    )
    if any(s == STATUS_ERROR for s, _ in statuses.values()):
        _zero_scores(config, assignment, student)
    score, max_score = _scores(config, assignment, student)
    outcomes[student] = Outcome(
        student, assignment, status, reason, score, max_score,
        time.monotonic() - state["started"], {nb: s for nb, (s, _) in statuses.items()},
    )
    _save_status(root, assignment, student, state["fingerprint"], outcomes[student])


def _finish_failed(config, root, outcomes, pending, assignment, student, reason) -> None:
    _zero_scores(config, assignment, student)
    score, max_score = _scores(config, assignment, student)
    state = pending[student]
    outcomes[student] = Outcome(
        student, assignment, STATUS_ERROR, reason, score, max_score,
        time.monotonic() - state["started"],
    )
    _save_status(root, assignment, student, state["fingerprint"], outcomes[student])


def _save_status(root: Path, assignment: str, student: str, fingerprint: str, outcome: Outcome):
    path = _status_path(root, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"fingerprint": fingerprint, "outcome": asdict(outcome)}, indent=1))
