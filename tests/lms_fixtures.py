"""Build LMS downloads and grade sheets in the vendors' real formats, for the tests.

Nothing binary is committed: each test builds the zip or CSV it needs from these
rules, taken from the LMSs' own code and documentation:

* Canvas, *Download Submissions* (canvas-lms ``lib/content_zipper.rb``): each file is
  ``<sortable name, lower case, non-word characters removed>[_LATE]_<user id>_<attachment
  id>_<file name>``; older Canvas releases wrote the late marker in lower case; a file
  uploaded again under the same name is renamed ``name-1.ext``, ``name-2.ext``
  (``Attachment.make_unique_filename``).
* Moodle, *Download all submissions* (``mod/assign/locallib.php``): with *Download
  submissions in folders*, ``<Full Name>_<participant id>_assignsubmission_file_/`` holds
  the files with their subfolders; without it (flat), the prefix is glued to the file name.
  Underscores in names become spaces. Online text is ``assignsubmission_onlinetext_`` /
  ``onlinetext.html``. The offline grading worksheet has the columns in
  :data:`MOODLE_WORKSHEET_COLUMNS`, ``Identifier`` being ``Participant <id>``.
* Blackboard, *Grade Center → Assignment File Download*: ``<Assignment>_<username>_attempt_
  <YYYY-MM-DD-HH-MM-SS>_<file>`` and a receipt ``..._attempt_<stamp>.txt`` naming the
  student, the original file names and the names in the download.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

MOODLE_WORKSHEET_COLUMNS = [
    "Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
    "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
    "Feedback comments",
]
WHEN = (2026, 11, 20, 12, 0, 0)


def canvas_sortable(sortable_name: str) -> str:
    """Canvas's name part: the sortable name ("Smith, John") in lower case, without
    any non-word character, and with ``_<digits>_`` runs glued."""
    name = re.sub(r"_(\d+)_", r"\1", sortable_name).lower()
    return re.sub(r"[^\w]", "", name)


def canvas_file(sortable_name: str, user_id: int, attachment_id: int, filename: str,
                late: str | None = None) -> str:
    """``late``: None, "LATE" (current Canvas) or "late" (older releases)."""
    parts = [canvas_sortable(sortable_name), late, str(user_id)]
    return "_".join(p for p in parts if p) + f"_{attachment_id}_{filename}"


def moodle_file(full_name: str, participant: int, filename: str, *, folders: bool = True,
                plugin: str = "file") -> str:
    prefix = f"{full_name.replace('_', ' ')}_{participant}_assignsubmission_{plugin}_"
    return f"{prefix}/{filename}" if folders else f"{prefix}{filename}"


def blackboard_files(title: str, username: str, full_name: str, stamp: str,
                     files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """The files of one attempt and its receipt (``stamp``: YYYY-MM-DD-HH-MM-SS)."""
    stem = f"{title}_{username}_attempt_{stamp}"
    listing = "".join(f"\tOriginal filename: {name}\n\tFilename: {stem}_{name}\n"
                      for name in files)
    receipt = (f"Name: {full_name} ({username})\nAssignment: {title}\n"
               f"Date Submitted: {stamp}\nCurrent Grade: Needs Grading\n\n"
               "Submission Field:\nThere is no student submission text data for this "
               "assignment.\n\nComments:\nThere are no student comments for this "
               f"assignment.\n\nFiles:\n{listing}")
    return [(f"{stem}.txt", receipt.encode()),
            *[(f"{stem}_{name}", data) for name, data in files.items()]]


class _LegacyName(zipfile.ZipInfo):
    """A zip entry written as older Windows tools do: UTF-8 bytes, no UTF-8 flag."""

    def _encodeFilenameFlags(self):  # zipfile.ZipInfo's own name
        return self.filename.encode("utf-8"), self.flag_bits & ~0x800


def write_zip(path, entries, *, utf8_flag: bool = True):
    """entries: (name, bytes[, date_time]). Returns path."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, *when in entries:
            cls = zipfile.ZipInfo if utf8_flag else _LegacyName
            archive.writestr(cls(name, date_time=when[0] if when else WHEN), data)
    return path


def csv_text(header: list[str], rows: list[list[str]], *, bom: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "") + buffer.getvalue()


def moodle_worksheet(rows: list[tuple[int, str, str]], max_grade: str = "9.00",
                     locked: set[int] = frozenset()) -> str:
    """Moodle's offline grading worksheet for (participant id, full name, email)."""
    return csv_text(MOODLE_WORKSHEET_COLUMNS, [
        [f"Participant {pid}", name, email, "Submitted for grading", "", max_grade,
         "No" if pid in locked else "Yes", "Friday, 20 November 2026, 12:00 PM", "-", ""]
        for pid, name, email in rows
    ])


def canvas_gradebook(rows: list[tuple[str, str, str, str, str]], column: str) -> str:
    """Canvas's gradebook export for (Student, ID, SIS User ID, SIS Login ID, Section)."""
    return csv_text(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column],
                    [["    Points Possible", "", "", "", "", "9"],
                     *[[*row, ""] for row in rows]], bom=True)
