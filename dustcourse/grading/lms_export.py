"""Grade files for the LMS gradebook imports of Canvas and Moodle.

nbgrader's student ids are the LMS's own ids of the submission download
(:mod:`.lms_import`: the Canvas user id, the Moodle participant id). A roster CSV
maps them to what the LMS import matches on. Its columns (header names are matched
without regard to case, spaces or underscores):

* ``student_id`` (required): the nbgrader id; ``ID`` (a Canvas gradebook export) and
  ``Identifier`` (Moodle's grading worksheet, ``Participant 123``) are read as well;
* optional: ``name`` (also ``Student``, ``Full name``), ``canvas_id``, ``sis_user_id``,
  ``sis_login_id``, ``section``, ``email`` (also ``Email address``), ``idnumber``
  (also ``ID number``), ``username``.

So the Canvas gradebook export and Moodle's grading worksheet work as rosters as
they are. A student graded in nbgrader but missing from the roster is never dropped
silently: they are left out of the import file (the LMS could not match them) and
listed in ``<file>-unmatched.csv`` and in the command's summary.

Formats written (see docs/grading.md for the vendors' documentation):

* Canvas (Gradebook import CSV): ``Student, ID, SIS User ID, SIS Login ID, Section,
  <assignment column>``, then a ``Points Possible`` row, then one row per student;
  the assignment column is ``Name (canvas assignment id)`` to update an existing
  assignment, or a new name to create one.
* Moodle (grade import from CSV): ``Full name, Email address, ID number, Username,
  <assignment column>``, one row per student; on import, map the users by email
  address (or ID number, or username) and the grade column to the grade item.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

ROSTER_ALIASES = {
    "student_id": ("student_id", "nbgrader_id", "identifier", "id"),
    "name": ("name", "student", "full_name", "fullname"),
    "canvas_id": ("canvas_id", "id"),
    "sis_user_id": ("sis_user_id",),
    "sis_login_id": ("sis_login_id",),
    "section": ("section",),
    "email": ("email", "email_address"),
    "idnumber": ("idnumber", "id_number"),
    "username": ("username",),
}
LMS_FORMATS = ("canvas", "moodle")


def _key(header: str) -> str:
    return re.sub(r"[\s_]+", "_", header.strip().lower())


class RosterError(ValueError):
    """The roster cannot be read."""


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """nbgrader student id -> {field: value} from a roster CSV (see the module doc)."""
    with Path(path).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        headers = {_key(h): h for h in (reader.fieldnames or [])}
        columns = {}
        for name, aliases in ROSTER_ALIASES.items():
            for alias in aliases:
                if alias in headers:
                    columns[name] = headers[alias]
                    break
        if "student_id" not in columns:
            raise RosterError(
                f"{path}: no student_id column (nor ID or Identifier); columns are "
                f"{', '.join(reader.fieldnames or [])}"
            )
        roster: dict[str, dict[str, str]] = {}
        for row in reader:
            raw = (row.get(columns["student_id"]) or "").strip()
            student = re.sub(r"^Participant\s+", "", raw)  # Moodle's grading worksheet
            name = (row.get(columns.get("name", ""), "") or "").strip()
            if not student or name.lower() == "points possible":
                continue  # blank lines and Canvas's Points Possible row
            if student in roster:
                raise RosterError(f"{path}: student {student} appears twice")
            roster[student] = {
                field: (row.get(column) or "").strip() for field, column in columns.items()
            }
    return roster


@dataclass
class LmsExport:
    path: Path
    written: list[str] = field(default_factory=list)  # nbgrader ids in the file
    unmatched: list[str] = field(default_factory=list)  # graded, not in the roster
    unmatched_path: Path | None = None
    not_submitted: list[str] = field(default_factory=list)  # in the roster, no submission


def _fmt(score: float) -> str:
    return f"{score:.2f}".rstrip("0").rstrip(".")


def write_lms_grades(
    lms: str,
    assignment: str,
    grades: dict[str, float],
    max_score: float,
    out_dir: Path,
    roster: dict[str, dict[str, str]] | None = None,
    column: str | None = None,
    names: dict[str, str] | None = None,
) -> LmsExport:
    """Write the import file of ``lms`` for ``grades`` (nbgrader id -> points).

    Without a roster, the nbgrader id is used as the LMS id (Canvas: the ``ID``
    column; Moodle: ``Username``); with one, the LMS ids come from the roster only.
    ``names`` gives display names from the gradebook.
    """
    if lms not in LMS_FORMATS:
        raise ValueError(f"unknown LMS {lms!r}: choose one of {', '.join(LMS_FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    column = column or assignment
    path = out_dir / f"{assignment}-{lms}.csv"
    export = LmsExport(path)
    names = names or {}
    rows = []
    for student in sorted(grades):
        if roster is not None and student not in roster:
            export.unmatched.append(student)
            continue
        info = roster[student] if roster is not None else {}
        name = info.get("name") or names.get(student) or student
        if lms == "canvas":
            # without a roster the nbgrader id is the Canvas user id (lms_import)
            canvas_id = student if roster is None else info.get("canvas_id", "")
            rows.append([name, canvas_id, info.get("sis_user_id", ""),
                         info.get("sis_login_id", ""), info.get("section", ""),
                         _fmt(grades[student])])
        else:
            username = info.get("username") or (student if roster is None else "")
            rows.append([name, info.get("email", ""), info.get("idnumber", ""), username,
                         _fmt(grades[student])])
        export.written.append(student)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if lms == "canvas":
            writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
            writer.writerow(["Points Possible", "", "", "", "", _fmt(max_score)])
        else:
            writer.writerow(["Full name", "Email address", "ID number", "Username", column])
        writer.writerows(rows)
    if export.unmatched:
        export.unmatched_path = out_dir / f"{assignment}-{lms}-unmatched.csv"
        with export.unmatched_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["student_id", "name", "score", "max_score"])
            for student in export.unmatched:
                writer.writerow([student, names.get(student, ""), _fmt(grades[student]),
                                 _fmt(max_score)])
    if roster is not None:
        export.not_submitted = sorted(set(roster) - set(grades))
    return export


def gradebook_grades(root: Path, assignment: str) -> tuple[dict[str, float], float,
                                                            dict[str, str]]:
    """(nbgrader id -> total points, points possible, nbgrader id -> name) from the
    gradebook, hand grading included."""
    from nbgrader.api import Gradebook

    from .autograde import _coursedir, load_config

    coursedir = _coursedir(load_config(Path(root).resolve()))
    grades, names, max_score = {}, {}, 0.0
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for submission in gb.assignment_submissions(assignment):
            student = submission.student
            grades[student.id] = float(submission.score)
            full = ", ".join(p for p in (student.last_name, student.first_name) if p)
            if full:
                names[student.id] = full
    return grades, max_score, names
