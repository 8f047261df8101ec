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
they are. With an explicit ``student_id`` column, a student matches that row only;
otherwise a Canvas roster is searched by SIS user id, then SIS login id, then Canvas
user id (the ``ID`` column), and a Moodle roster by participant id (``Identifier``),
then ID number, username and email address. A student graded in nbgrader but
missing from the roster is never dropped silently: they are left out of the import
file (the LMS could not match them) and listed in ``<file>-unmatched.csv`` and in
the command's summary.

A grade of ``None`` (a submission that could not be graded) is written as an empty
cell, never as 0: both LMSs leave the grade unchanged for an empty cell.

Formats written (see docs/grading.md for the vendors' documentation):

* Canvas (Gradebook import CSV): ``Student, ID, SIS User ID, SIS Login ID, Section,
  <assignment column>``, then a ``Points Possible`` row, then one row per student;
  the assignment column is ``Name (canvas assignment id)`` to update an existing
  assignment, or a new name to create one.
* Moodle (grade import from CSV): ``Full name, Email address, ID number, Username,
  <assignment column>``, one row per student; on import, map the users by email
  address (or ID number, or username) and the grade column to the grade item.
* Moodle's offline grading worksheet, when the roster is one: the same file, same
  columns and rows, with ``Grade`` (on the worksheet's ``Maximum Grade`` scale) and an
  empty ``Feedback comments`` cell filled in, for *Upload grading worksheet*.
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
MATCH_ORDER = {  # roster fields searched for an nbgrader id without a student_id column;
    # "" is the roster's own id: Canvas's ID (user id), Moodle's Identifier (participant)
    "canvas": ("sis_user_id", "sis_login_id", ""),
    "moodle": ("", "idnumber", "username", "email"),
}


def _key(header: str) -> str:
    return re.sub(r"[\s_]+", "_", header.strip().lower())


class RosterError(ValueError):
    """The roster cannot be read."""


class Roster(dict):
    """Roster id -> {field: value}, with what is needed to match and write it back:
    ``explicit`` (it has a student_id column), ``worksheet`` (Moodle's grading
    worksheet), and the file's own ``header``, ``rows`` and byte-order mark."""

    explicit = False
    worksheet = False
    header: list[str]
    rows: list[dict[str, str]]
    bom = False

    def match(self, student: str, lms: str) -> str | None:
        """The roster id of nbgrader student ``student``, or None."""
        if self.explicit:
            return student if student in self else None
        for name in MATCH_ORDER.get(lms, ("",)):
            if not name:
                if student in self:
                    return student
                continue
            for key, info in self.items():
                if info.get(name) and info[name] == student:
                    return key
        return None


def read_roster(path: Path) -> Roster:
    """Roster id -> {field: value} from a roster CSV (see the module doc)."""
    raw = Path(path).read_bytes()
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
        roster = Roster()
        roster.explicit = bool({"student_id", "nbgrader_id"} & set(headers))
        roster.worksheet = {"identifier", "grade"} <= set(headers)
        roster.header = list(reader.fieldnames or [])
        roster.rows = []
        roster.bom = raw.startswith(b"\xef\xbb\xbf")
        for row in reader:
            roster.rows.append(row)
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
    blank: list[str] = field(default_factory=list)  # in the file with an empty grade
    unmatched: list[str] = field(default_factory=list)  # graded, not in the roster
    unmatched_path: Path | None = None
    not_submitted: list[str] = field(default_factory=list)  # in the roster, no submission
    matched: dict[str, str] = field(default_factory=dict)  # nbgrader id -> roster id
    locked: list[str] = field(default_factory=list)  # worksheet: grade cannot be changed


def _fmt(score: float | None) -> str:
    return "" if score is None else f"{score:.2f}".rstrip("0").rstrip(".")


def _match_all(roster: Roster | None, students, lms: str, export: LmsExport) -> None:
    if roster is None:
        return
    taken: dict[str, str] = {}
    for student in sorted(students):
        key = roster.match(student, lms)
        if key is None or key in taken:
            export.unmatched.append(student)
            continue
        taken[key] = student
        export.matched[student] = key
    export.not_submitted = sorted(set(roster) - set(taken))


def write_lms_grades(
    lms: str,
    assignment: str,
    grades: dict[str, float | None],
    max_score: float,
    out_dir: Path,
    roster: Roster | None = None,
    column: str | None = None,
    names: dict[str, str] | None = None,
) -> LmsExport:
    """Write the import file of ``lms`` for ``grades`` (nbgrader id -> points, or None
    for no grade: an empty cell).

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
    _match_all(roster, grades, lms, export)
    rows = []
    for student in sorted(grades):
        if roster is not None and student not in export.matched:
            continue
        info = roster[export.matched[student]] if roster is not None else {}
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
        if grades[student] is None:
            export.blank.append(student)
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
    return export


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


def feedback_comment(assignment: str, score: float, max_score: float,
                     questions: list[tuple[str, float, float]]) -> str:
    """A short comment: the total and the questions that lost points."""
    lost = [f"{name} {_fmt(got)}/{_fmt(out_of)}" for name, got, out_of in questions
            if got < out_of]
    text = f"{assignment}: {_fmt(score)} / {_fmt(max_score)} points."
    return text + (" Points lost in: " + ", ".join(lost) + "." if lost else " Full marks.")


def write_moodle_worksheet(
    assignment: str,
    grades: dict[str, float | None],
    max_score: float,
    out_dir: Path,
    roster: Roster,
    comments: dict[str, str] | None = None,
) -> LmsExport:
    """Moodle's offline grading worksheet ``roster`` written back with its own columns
    and rows: ``Grade`` filled in (rescaled to the row's ``Maximum Grade`` when it differs
    from nbgrader's points), empty for no grade, and the ``Feedback comments`` cell, when
    empty, given ``comments[student]``. Rows of students without a grade are left as
    they were, but for an empty Grade."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{assignment}-moodle-worksheet.csv"
    export = LmsExport(path)
    _match_all(roster, grades, "moodle", export)
    by_key = {key: student for student, key in export.matched.items()}
    header = roster.header
    columns = {_key(h): h for h in header}
    grade_col = columns["grade"]
    max_col = columns.get("maximum_grade")
    comment_col = columns.get("feedback_comments")
    changeable_col = columns.get("grade_can_be_changed")
    id_col = columns["identifier"]
    rows = []
    for row in roster.rows:
        row = dict(row)
        key = re.sub(r"^Participant\s+", "", (row.get(id_col) or "").strip())
        student = by_key.get(key)
        if student is not None:
            score = grades[student]
            scale = _number(row.get(max_col, "")) if max_col else None
            if score is not None and scale and max_score and abs(scale - max_score) > 1e-9:
                score = score * scale / max_score
            row[grade_col] = "" if score is None else f"{score:.2f}"
            if comment_col and not (row.get(comment_col) or "").strip() and comments \
                    and student in comments and score is not None:
                row[comment_col] = comments[student]
            export.written.append(student)
            if score is None:
                export.blank.append(student)
            if changeable_col and (row.get(changeable_col) or "").strip().lower() == "no":
                export.locked.append(student)
        rows.append(row)
    with path.open("w", newline="", encoding="utf-8-sig" if roster.bom else "utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return export
