"""Export grades: one row per student and question, one row per student, and the
students who need attention before grades go to an LMS.

Scores and the hand-grading state come from nbgrader's gradebook, the one source of
truth (hand grading done in formgrader counts; a reflection left blank needs no hand
grade, as nbgrader decides); the status and reason of each question come from the
autograded notebook (the first line of a failed check's message) and from the run's
status files (:func:`.autograde.read_status`).

A submission that could not be graded (status ``error`` or ``worker_failed``), one
never autograded, and a student whose download was rejected at import (no notebook,
wrong file type) have **no grade**: never 0. They are listed in
``<assignment>-needs-attention.csv``, with those whose grade stands but deserves a look
(time limit, kernel died) and those still waiting for hand grading.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .autograde import _coursedir, load_config, read_status

QUESTION_COLUMNS = ["student", "assignment", "question", "score", "max_score", "status", "reason"]
TOTAL_COLUMNS = ["student", "assignment", "score", "max_score", "status", "reason"]
ATTENTION_COLUMNS = ["student_id", "name", "problem", "detail", "lms_grade"]
FAILED = ("error", "worker_failed")  # no grade: the submission could not be graded
CHECK = ("timeout", "kernel_died")  # graded (cells that never ran score 0), worth a look


def _cell_results(notebook_path: Path) -> dict[str, tuple[str, str]]:
    """grade_id -> (status, reason) read from an autograded notebook's outputs."""
    if not notebook_path.is_file():
        return {}
    return cell_results(nbformat.read(notebook_path, as_version=4))


def cell_results(nb) -> dict[str, tuple[str, str]]:
    """grade_id -> (status, reason) of each graded cell of an autograded notebook:
    passed, failed, not_executed, answer_deleted or manual; the reason is the error's
    first line (for a deleted answer, which one)."""
    results = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        deleted = cell.metadata.get("dustcourse", {}).get("answer_deleted")
        if deleted:  # written by the preparation (dustcourse.grading.prepare)
            results[meta["grade_id"]] = ("answer_deleted", deleted)
            continue
        if cell.cell_type != "code":
            results[meta["grade_id"]] = ("manual", "")
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            results[meta["grade_id"]] = ("passed", "")
            continue
        ename, evalue = errors[-1].get("ename", ""), str(errors[-1].get("evalue", ""))
        status = "not_executed" if ename == "NotExecuted" else "failed"
        first_line = evalue.strip().splitlines()[0] if evalue.strip() else ""
        results[meta["grade_id"]] = (status, f"{ename}: {first_line}".strip(": "))
    return results


def export(root: Path, assignment: str, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<assignment>-questions.csv`` and ``<assignment>-totals.csv`` to ``out_dir``."""
    from nbgrader.api import Gradebook

    root = Path(root).resolve()
    config = load_config(root)
    coursedir = _coursedir(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    questions_path = out_dir / f"{assignment}-questions.csv"
    totals_path = out_dir / f"{assignment}-totals.csv"
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb, \
            questions_path.open("w", newline="", encoding="utf-8") as qf, \
            totals_path.open("w", newline="", encoding="utf-8") as tf:
        questions = csv.writer(qf)
        totals = csv.writer(tf)
        questions.writerow(QUESTION_COLUMNS)
        totals.writerow(TOTAL_COLUMNS)
        for submission in sorted(gb.assignment_submissions(assignment), key=lambda s: s.student.id):
            student = submission.student.id
            run = read_status(root, assignment, student).get("outcome", {})
            folder = Path(
                coursedir.format_path(coursedir.autograded_directory, student, assignment)
            )
            for notebook in submission.notebooks:
                cells = _cell_results(folder / f"{notebook.name}.ipynb")
                for grade in sorted(notebook.grades, key=lambda g: g.name):
                    status, reason = cells.get(grade.name, ("error", run.get("reason", "")))
                    if status == "manual":  # the gradebook decides, as formgrader shows
                        status = ("needs_manual_grade" if grade.needs_manual_grade else
                                  "graded_by_hand" if grade.manual_score is not None else
                                  "unanswered")
                    questions.writerow([student, assignment, grade.name, f"{grade.score:g}",
                                        f"{grade.max_score:g}", status, reason])
            failed = run.get("status") in FAILED  # no grade, never 0
            totals.writerow([student, assignment, "" if failed else f"{submission.score:g}",
                             f"{submission.max_score:g}", run.get("status", "unknown"),
                             run.get("reason", "")])
    return questions_path, totals_path


@dataclass
class GradingState:
    """Everything the LMS export needs to know about an assignment, per student."""

    assignment: str
    max_score: float = 0.0
    totals: dict[str, float] = field(default_factory=dict)  # graded: total points
    questions: dict[str, list[tuple[str, float, float]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    blank: dict[str, tuple[str, str]] = field(default_factory=dict)  # no grade: problem, why
    check: dict[str, tuple[str, str]] = field(default_factory=dict)  # graded, worth a look
    pending: dict[str, list[str]] = field(default_factory=dict)  # questions to grade by hand

    def lms_grades(self) -> dict[str, float | None]:
        """Student -> points for the LMS file; None (a blank cell) for no grade."""
        grades: dict[str, float | None] = dict.fromkeys(self.blank)
        grades.update({s: t for s, t in self.totals.items() if s not in self.blank})
        return grades

    def attention_rows(self) -> list[list[str]]:
        """Rows of the needs-attention file (lms_grade left to the caller)."""
        rows = [[s, self.names.get(s, ""), problem, why, "blank"]
                for s, (problem, why) in self.blank.items()]
        rows += [[s, self.names.get(s, ""), problem, why, ""]
                 for s, (problem, why) in self.check.items()]
        rows += [[s, self.names.get(s, ""), "pending_hand_grading",
                  "not yet graded by hand: " + ", ".join(qs), ""]
                 for s, qs in self.pending.items()]
        return sorted(rows, key=lambda r: (r[0], r[2]))


def grading_state(root: Path, assignment: str) -> GradingState:
    """Read the gradebook, the run records and the import record of ``assignment``."""
    from nbgrader.api import Gradebook

    from .autograde import submitted_students
    from .lms_import import read_record

    root = Path(root).resolve()
    config = load_config(root)
    coursedir = _coursedir(config)
    state = GradingState(assignment)
    imported = read_record(root, assignment)
    state.names.update({s: r["name"] for s, r in imported.items() if r.get("name")})
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        state.max_score = float(gb.find_assignment(assignment).max_score)
        for submission in gb.assignment_submissions(assignment):
            student = submission.student
            full = ", ".join(p for p in (student.last_name, student.first_name) if p)
            if full:
                state.names[student.id] = full
            state.totals[student.id] = float(submission.score)
            grades = [g for nb in submission.notebooks for g in nb.grades]
            state.questions[student.id] = sorted(
                (g.name, float(g.score), float(g.max_score)) for g in grades)
            run = read_status(root, assignment, student.id).get("outcome", {})
            status, reason = run.get("status", ""), run.get("reason", "")
            if status in FAILED:
                state.blank[student.id] = ("failed", f"{status}: {reason}".strip(": "))
            elif status in CHECK:
                state.check[student.id] = (status, reason)
            pending = sorted(g.name for g in grades if g.needs_manual_grade)
            if pending and student.id not in state.blank:
                state.pending[student.id] = pending
    for student in submitted_students(root, assignment, config):
        if student not in state.totals:
            state.blank[student] = ("not_autograded", "in submitted/, not in the gradebook: "
                                    "run dustcourse grade autograde")
    for student, record in imported.items():
        if record.get("outcome") == "rejected" and student not in state.totals \
                and student not in state.blank:
            state.blank[student] = ("rejected_at_import", record.get("reason", ""))
    return state


def write_needs_attention(out_dir: Path, assignment: str, rows: list[list[str]]) -> Path:
    """``<assignment>-needs-attention.csv``: student_id, name, problem, detail, lms_grade."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{assignment}-needs-attention.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ATTENTION_COLUMNS)
        writer.writerows(rows)
    return path
