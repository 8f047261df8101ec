"""Export grades: one row per student and question, and one row per student.

Scores come from nbgrader's gradebook (so hand grading done in formgrader counts);
the status and reason of each question come from the autograded notebook (the
first line of a failed check's message) and from the run's status files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat

from .autograde import _coursedir, load_config, read_status

QUESTION_COLUMNS = ["student", "assignment", "question", "score", "max_score", "status", "reason"]
TOTAL_COLUMNS = ["student", "assignment", "score", "max_score", "status", "reason"]


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
                    if status == "manual" and grade.manual_score is None:
                        status = "needs_manual_grade"
                    questions.writerow([student, assignment, grade.name, f"{grade.score:g}",
                                        f"{grade.max_score:g}", status, reason])
            totals.writerow([student, assignment, f"{submission.score:g}",
                             f"{submission.max_score:g}", run.get("status", "unknown"),
                             run.get("reason", "")])
    return questions_path, totals_path
