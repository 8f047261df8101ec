"""Import an LMS download of submissions into nbgrader's ``submitted/`` tree.

Accepted layouts (a zip file or a folder):

* nbgrader's own: ``<student>/<assignment>/<files>``;
* Canvas: ``<name>[_LATE]_<user id>_<submission id>_<original file name>`` (a
  re-upload of the same name gets ``-1``, ``-2``... before the extension);
* Moodle: ``<Full Name>_<participant id>_assignsubmission_file_/<files>``;
* Blackboard: ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file name>``.

The student id is the LMS's stable id (Canvas user id, Moodle participant id,
Blackboard username). A notebook is saved under the assignment's notebook name.

The archive is untrusted: entries with absolute paths, ``..`` or symbolic links are
refused, and sizes are capped (per file, in total, and in number of files) before
anything is written. When a student has several submissions the latest wins and the
others are reported. Every file that cannot be placed is listed with the reason.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 100 * 1024**2
MAX_TOTAL_BYTES = 2 * 1024**3
MAX_FILES = 20_000

CANVAS = re.compile(
    r"^(?P<name>[^_/]+?)(?:_LATE)?_(?P<student>\d+)_(?P<submission>\d+)_(?P<file>.+)$"
)
MOODLE_DIR = re.compile(r"^(?P<name>.+)_(?P<student>\d+)_assignsubmission_file_?$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+)_(?P<student>[^_]+)_attempt_"
    r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})(?:_(?P<file>.+))?$"
)
RESUBMISSION_SUFFIX = re.compile(r"-\d+(?=\.[^.]+$)")


class UnsafeArchive(ValueError):
    """The archive is too large or malformed to import at all."""


@dataclass
class Entry:
    path: str  # as named in the archive or folder
    size: int
    modified: datetime
    read: object  # callable returning bytes


@dataclass
class ImportReport:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, entry, dest
    duplicates: list[tuple[str, str, str]] = field(default_factory=list)  # student, kept, dropped
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # entry, reason

    @property
    def students(self) -> list[str]:
        return sorted({student for student, _, _ in self.placed})


def _safe(path: str) -> PurePosixPath | None:
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        return None
    return pure


def _zip_entries(archive: zipfile.ZipFile, report: ImportReport) -> Iterator[Entry]:
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_FILES:
        raise UnsafeArchive(f"the archive holds {len(infos)} files (limit {MAX_FILES})")
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise UnsafeArchive(f"the archive would unpack to more than {MAX_TOTAL_BYTES} bytes")
    for info in infos:
        if stat.S_ISLNK(info.external_attr >> 16):
            report.unplaced.append((info.filename, "symbolic link refused"))
            continue
        if info.file_size > MAX_FILE_BYTES:
            report.unplaced.append((info.filename, f"larger than {MAX_FILE_BYTES} bytes"))
            continue

        def read(info=info) -> bytes:
            with archive.open(info) as handle:  # the declared size may lie: cap the read
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise UnsafeArchive(f"{info.filename} unpacks beyond {MAX_FILE_BYTES} bytes")
            return data

        yield Entry(info.filename, info.file_size, datetime(*info.date_time), read)


def _folder_entries(path: Path, report: ImportReport) -> Iterator[Entry]:
    count = 0
    for item in sorted(path.rglob("*")):
        rel = item.relative_to(path).as_posix()
        if item.is_symlink():
            report.unplaced.append((rel, "symbolic link refused"))
            continue
        if not item.is_file():
            continue
        count += 1
        if count > MAX_FILES:
            raise UnsafeArchive(f"{path} holds more than {MAX_FILES} files")
        size = item.stat().st_size
        if size > MAX_FILE_BYTES:
            report.unplaced.append((rel, f"larger than {MAX_FILE_BYTES} bytes"))
            continue
        yield Entry(rel, size, datetime.fromtimestamp(item.stat().st_mtime), item.read_bytes)


def _identify(parts: tuple[str, ...], assignment: str) -> tuple[str, str, datetime | None] | None:
    """(student, file name, submission time if known) for one entry, or None."""
    if len(parts) >= 3 and parts[-2] == assignment:  # nbgrader: <student>/<assignment>/<file>
        return parts[-3], parts[-1], None
    if len(parts) >= 2:
        moodle = MOODLE_DIR.match(parts[-2])
        if moodle:
            return moodle["student"], parts[-1], None
    name = parts[-1]
    blackboard = BLACKBOARD.match(name)
    if blackboard and blackboard["file"]:
        stamp = datetime.strptime(blackboard["stamp"], "%Y-%m-%d-%H-%M-%S")
        return blackboard["student"], blackboard["file"], stamp
    canvas = CANVAS.match(name)
    if canvas:
        return canvas["student"], RESUBMISSION_SUFFIX.sub("", canvas["file"]), None
    return None


def import_submissions(source: Path, assignment: str, root: Path) -> ImportReport:
    """Place the submissions found in ``source`` (zip or folder) under ``root/submitted``."""
    source, root = Path(source), Path(root)
    report = ImportReport()
    if source.is_dir():
        return _place(_folder_entries(source, report), assignment, root, report)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return _place(_zip_entries(archive, report), assignment, root, report)
    raise UnsafeArchive(f"{source} is neither a folder nor a zip file")


def _place(entries, assignment: str, root: Path, report: ImportReport) -> ImportReport:
    entries = list(entries)

    # student -> file name -> (time, entry); the latest submission of a file wins
    chosen: dict[str, dict[str, tuple[datetime, Entry]]] = {}
    for entry in entries:
        safe = _safe(entry.path)
        if safe is None:
            report.unplaced.append((entry.path, "unsafe path (absolute or with '..')"))
            continue
        if safe.name.startswith(".") or (safe.suffix == ".txt" and "_attempt_" in safe.name):
            report.unplaced.append((entry.path, "LMS metadata or hidden file, not a submission"))
            continue
        found = _identify(safe.parts, assignment)
        if found is None:
            report.unplaced.append((entry.path, "file name matches no known LMS layout"))
            continue
        student, name, when = found
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", student):
            report.unplaced.append((entry.path, f"unusable student id {student!r}"))
            continue
        if name.endswith(".ipynb"):
            name = f"{assignment}.ipynb"
        when = when or entry.modified
        files = chosen.setdefault(student, {})
        if name in files:
            previous_time, previous = files[name]
            if when >= previous_time:
                report.duplicates.append((student, entry.path, previous.path))
                files[name] = (when, entry)
            else:
                report.duplicates.append((student, previous.path, entry.path))
            continue
        files[name] = (when, entry)

    for student, files in sorted(chosen.items()):
        folder = root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        latest = max(when for when, _ in files.values())
        for name, (_, entry) in sorted(files.items()):
            target = folder / name
            target.write_bytes(entry.read())
            report.placed.append((student, entry.path, str(target.relative_to(root))))
        stamp = latest.replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
        (folder / "timestamp.txt").write_text(stamp + "\n")
    return report
