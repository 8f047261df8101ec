"""Import an LMS download of submissions into nbgrader's ``submitted/`` tree.

Accepted layouts (a zip file or a folder, possibly inside a top-level folder):

* nbgrader's own: ``<student>/<assignment>/<files>``;
* Canvas (*Download Submissions*): ``<name>[_LATE|_late]_<user id>_<attachment id>_<file>``,
  where ``<name>`` is the student's sortable name in lower case without punctuation and
  a re-upload of a file of the same name is ``<file>-1``, ``<file>-2``...; anonymous
  grading gives ``anon_<anonymous id>`` instead of the user id;
* Moodle (*Download all submissions*), with *Download submissions in folders* on:
  ``<Full Name>_<participant id>_assignsubmission_file_/<files, subfolders kept>``, or
  off (flat): ``<Full Name>_<participant id>_assignsubmission_file_<file>``; online text
  is ``..._assignsubmission_onlinetext_`` (``onlinetext.html``);
* Blackboard (*Grade Center → Assignment File Download*):
  ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>`` and a receipt
  ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>.txt`` (name, original file names).

The student id is the LMS's stable id (Canvas user id, Moodle participant id,
Blackboard username); the display name is kept (for the gradebook and the reports).

Only the notebook is graded: per student, the notebook named like the assignment
(``ps0-warmup.ipynb``, also ``ps0_warmup.ipynb``, ``ps0-warmup-2.ipynb``...), or else
the only notebook. It is saved as ``<assignment>.ipynb``. Other files are never
written over it: they are listed, with the reason, as not graded. Of several versions
of the same file the latest is kept and the older ones are reported as replaced. A
student with no usable notebook (only ``.py``, ``.pdf``, ``.html``, online text...,
several notebooks none named like the assignment, a ``.ipynb`` that is not a notebook)
is rejected, with the reason.

The archive is untrusted: entries with absolute paths, ``..`` or symbolic links are
refused, and sizes are capped (per file, in total, and in number of files) before
anything is written.
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 100 * 1024**2
MAX_TOTAL_BYTES = 2 * 1024**3
MAX_FILES = 20_000

STAMP = r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}"
CANVAS = re.compile(
    r"^(?:(?P<name>.*?)_)??(?:(?i:late)_)?(?P<student>\d+|anon_[A-Za-z0-9]+)_"
    r"(?P<attachment>\d+)_(?P<file>.+)$"
)
MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<student>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)$"
)
BLACKBOARD = re.compile(
    rf"^(?P<prefix>.+)_attempt_(?P<stamp>{STAMP})(?:_(?P<file>.+)|(?P<receipt>\.txt))$"
)
RESUBMISSION_SUFFIX = re.compile(r"(?:-\d+| ?\(\d+\))(?=\.[^.]+$)")  # Canvas -1; browsers (1)
STUDENT_ID = re.compile(r"[^\W_][\w.@-]*")
JUNK = re.compile(r"^(?:\..*|Thumbs\.db|desktop\.ini)$", re.IGNORECASE)

IMPORTS_DIR = Path("grading") / "imports"  # under the course root; gitignored


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
    """What happened to every entry of the download."""

    assignment: str = ""
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # student, entry, dest
    replaced: list[tuple[str, str, str]] = field(default_factory=list)  # student, older, kept
    not_graded: list[tuple[str, str, str]] = field(default_factory=list)  # student, entry, why
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # student|"", entry, why
    ignored: list[tuple[str, str]] = field(default_factory=list)  # entry, why (OS clutter)
    names: dict[str, str] = field(default_factory=dict)  # student -> display name

    @property
    def students(self) -> list[str]:
        return sorted({student for student, _, _ in self.placed})

    @property
    def rejected_students(self) -> dict[str, str]:
        """student -> why, for students none of whose files could be placed."""
        placed = set(self.students)
        out: dict[str, str] = {}
        for student, _, why in self.rejected:
            if student and student not in placed:
                out.setdefault(student, why)
        return out

    @property
    def unplaced(self) -> list[tuple[str, str]]:
        return [(entry, why) for _, entry, why in self.rejected]

    @property
    def duplicates(self) -> list[tuple[str, str, str]]:  # student, kept, dropped
        return [(student, kept, older) for student, older, kept in self.replaced]


@dataclass
class _File:
    student: str
    entry: Entry
    name: str  # the student's own file name (LMS prefix removed), with its folder
    plugin: str = "file"  # Moodle's onlinetext...
    when: datetime | None = None
    order: int = 0  # Canvas attachment id: later uploads have larger ids

    @property
    def key(self) -> str:
        """The same file across resubmissions: lower case, without ``-1`` or ``(1)``."""
        return _normal(PurePosixPath(self.name).name)

    @property
    def time(self) -> datetime:
        return self.when or self.entry.modified

    @property
    def rank(self) -> tuple:
        """Later submissions rank higher: by time, then Canvas's -N suffix, then id."""
        suffix = re.search(r"-(\d+)(?=\.[^.]+$)", PurePosixPath(self.name).name)
        return (self.time, int(suffix[1]) if suffix else 0, self.order)


def _normal(name: str) -> str:
    name = RESUBMISSION_SUFFIX.sub("", name.strip().lower())
    return re.sub(r"[\s_]+", "-", name)


def _safe(path: str) -> PurePosixPath | None:
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        return None
    return pure


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The entry's name; zips written without the UTF-8 flag (older Windows tools,
    some LMS) hold UTF-8 bytes that Python decodes as cp437: decode them again."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _zip_entries(archive: zipfile.ZipFile, report: ImportReport) -> Iterator[Entry]:
    infos = [i for i in archive.infolist() if not i.is_dir()]
    if len(infos) > MAX_FILES:
        raise UnsafeArchive(f"the archive holds {len(infos)} files (limit {MAX_FILES})")
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise UnsafeArchive(f"the archive would unpack to more than {MAX_TOTAL_BYTES} bytes")
    for info in infos:
        name = _zip_name(info)
        if stat.S_ISLNK(info.external_attr >> 16):
            report.rejected.append(("", name, "symbolic link refused"))
            continue
        if info.file_size > MAX_FILE_BYTES:
            report.rejected.append(("", name, f"larger than {MAX_FILE_BYTES} bytes"))
            continue

        def read(info=info) -> bytes:
            with archive.open(info) as handle:  # the declared size may lie: cap the read
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise UnsafeArchive(f"{info.filename} unpacks beyond {MAX_FILE_BYTES} bytes")
            return data

        yield Entry(name, info.file_size, datetime(*info.date_time), read)


def _folder_entries(path: Path, report: ImportReport) -> Iterator[Entry]:
    count = 0
    for item in sorted(path.rglob("*")):
        rel = item.relative_to(path).as_posix()
        if item.is_symlink():
            report.rejected.append(("", rel, "symbolic link refused"))
            continue
        if not item.is_file():
            continue
        count += 1
        if count > MAX_FILES:
            raise UnsafeArchive(f"{path} holds more than {MAX_FILES} files")
        size = item.stat().st_size
        if size > MAX_FILE_BYTES:
            report.rejected.append(("", rel, f"larger than {MAX_FILE_BYTES} bytes"))
            continue
        yield Entry(rel, size, datetime.fromtimestamp(item.stat().st_mtime), item.read_bytes)


def _receipt(text: str) -> tuple[str, str, dict[str, str]]:
    """(name, username, {file name in the download: original file name}) of a
    Blackboard receipt."""
    name = username = ""
    match = re.search(r"^Name:\s*(.*?)\s*\(([^()]*)\)\s*$", text, re.MULTILINE)
    if match:
        name, username = match[1], match[2].strip()
    files: dict[str, str] = {}
    original = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Original filename:"):
            original = line.split(":", 1)[1].strip()
        elif line.startswith("Filename:") and original is not None:
            files[line.split(":", 1)[1].strip()] = original
            original = None
    return name, username, files


def _identify(parts: tuple[str, ...], assignment: str, receipts: dict) -> _File | str:
    """The student and file of one entry, or the reason it matches no layout."""
    # Moodle, in folders (any depth: subfolders are kept) or flat
    for i, part in enumerate(parts):
        moodle = MOODLE.match(part)
        if moodle is None:
            continue
        if i < len(parts) - 1:  # a folder
            rest = "/".join(parts[i + 1:])
            if moodle["file"]:
                rest = f"{moodle['file']}/{rest}"
        else:
            rest = moodle["file"]
        if not rest:
            return "Moodle entry without a file name"
        return _File(moodle["student"], None, rest, plugin=moodle["plugin"])
    base = parts[-1]
    blackboard = BLACKBOARD.match(base)
    if blackboard and blackboard["file"]:
        stem = f"{blackboard['prefix']}_attempt_{blackboard['stamp']}"
        when = datetime.strptime(blackboard["stamp"], "%Y-%m-%d-%H-%M-%S")
        info = receipts.get(stem)
        if info and info[1] and blackboard["prefix"].endswith("_" + info[1]):
            student = info[1]
        else:
            student = blackboard["prefix"].rsplit("_", 1)[-1]
        original = info[2].get(base, blackboard["file"]) if info else blackboard["file"]
        return _File(student, None, original, when=when)
    canvas = CANVAS.match(base)
    if canvas:
        return _File(canvas["student"], None, canvas["file"], order=int(canvas["attachment"]))
    # nbgrader: <student>/<assignment>/<file...>
    for i in range(1, len(parts) - 1):
        if parts[i] == assignment:
            return _File(parts[i - 1], None, "/".join(parts[i + 1:]))
    return "file name matches no known LMS layout"


def _name_hint(parts: tuple[str, ...], found: _File, receipts: dict) -> str:
    for part in parts:
        moodle = MOODLE.match(part)
        if moodle:
            return moodle["name"].strip()
    base = parts[-1]
    blackboard = BLACKBOARD.match(base)
    if blackboard:
        info = receipts.get(f"{blackboard['prefix']}_attempt_{blackboard['stamp']}")
        return info[0] if info else ""
    canvas = CANVAS.match(base)
    if canvas and canvas["name"] and canvas["name"].lower() != "late":
        return canvas["name"]
    return ""


def import_submissions(source: Path, assignment: str, root: Path) -> ImportReport:
    """Place the submissions found in ``source`` (zip or folder) under ``root/submitted``."""
    source, root = Path(source), Path(root)
    report = ImportReport(assignment)
    if source.is_dir():
        return _place(_folder_entries(source, report), assignment, root, report)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            return _place(_zip_entries(archive, report), assignment, root, report)
    raise UnsafeArchive(f"{source} is neither a folder nor a zip file")


def _is_notebook(data: bytes) -> bool:
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(nb, dict) and isinstance(nb.get("cells"), list)


def _place(entries, assignment: str, root: Path, report: ImportReport) -> ImportReport:
    entries = list(entries)
    safe_entries = []
    for entry in entries:
        safe = _safe(entry.path)
        if safe is None:
            report.rejected.append(("", entry.path, "unsafe path (absolute or with '..')"))
        elif "__MACOSX" in safe.parts or JUNK.match(safe.name):
            report.ignored.append((entry.path, "operating-system clutter, not a submission"))
        else:
            safe_entries.append((entry, safe))

    # Blackboard receipts first: they name the student and the original file names
    receipts: dict[str, tuple[str, str, dict[str, str]]] = {}
    receipt_entries = {}
    for entry, safe in safe_entries:
        match = BLACKBOARD.match(safe.name)
        if match and match["receipt"]:
            stem = safe.name[: -len(".txt")]
            receipts[stem] = _receipt(entry.read().decode("utf-8", "replace"))
            receipt_entries[stem] = entry
            report.ignored.append((entry.path, "Blackboard receipt: read for the student's "
                                   "name and original file names"))

    files: dict[str, list[_File]] = {}
    for entry, safe in safe_entries:
        match = BLACKBOARD.match(safe.name)
        if match and match["receipt"]:
            continue
        found = _identify(safe.parts, assignment, receipts)
        if isinstance(found, str):
            report.rejected.append(("", entry.path, found))
            continue
        found.entry = entry
        if not STUDENT_ID.fullmatch(found.student):
            report.rejected.append(("", entry.path, f"unusable student id {found.student!r}"))
            continue
        name = _name_hint(safe.parts, found, receipts)
        if name and found.student not in report.names:
            report.names[found.student] = name
        files.setdefault(found.student, []).append(found)

    # a receipt without any file: the student submitted text only
    for stem, (name, username, listed) in receipts.items():
        prefix = stem.rsplit("_attempt_", 1)[0]
        student = username if username and prefix.endswith("_" + username) else \
            prefix.rsplit("_", 1)[-1]
        if name and student not in report.names:
            report.names[student] = name
        if student not in files:
            why = ("Blackboard receipt lists files missing from the download: "
                   + ", ".join(sorted(listed.values()))) if listed else \
                "Blackboard receipt without any file (text submission only): not graded"
            report.rejected.append((student, receipt_entries[stem].path, why))

    for student in sorted(files):
        _choose(student, files[student], assignment, root, report)
    return report


def _choose(student: str, items: list[_File], assignment: str, root: Path,
            report: ImportReport) -> None:
    """Pick the student's notebook, report everything else."""
    # the latest version of each file (by name, resubmission suffixes removed)
    latest: dict[tuple[str, str], _File] = {}
    for item in sorted(items, key=lambda f: (f.rank, -f.name.count("/"), f.name)):
        slot = (item.plugin, item.key)
        if slot in latest:
            older = latest[slot]
            if older.rank == item.rank:
                report.not_graded.append((student, older.entry.path,
                                          f"another copy of {PurePosixPath(older.name).name}"
                                          f" (kept {item.name})"))
            else:
                report.replaced.append((student, older.entry.path, item.entry.path))
        latest[slot] = item
    current = list(latest.values())

    others = [f for f in current if f.plugin != "file"]
    for f in others:
        report.not_graded.append((student, f.entry.path,
                                  f"Moodle {f.plugin} (typed in Moodle, not a file): not graded"))
    uploads = [f for f in current if f.plugin == "file"]
    notebooks = [f for f in uploads if f.name.lower().endswith(".ipynb")]
    wanted = _normal(f"{assignment}.ipynb")
    named = [f for f in notebooks if f.key == wanted]
    if named:
        chosen = named[-1]
    elif len(notebooks) == 1:
        chosen = notebooks[0]
    else:
        if notebooks:
            why = (f"{len(notebooks)} notebooks, none named {assignment}.ipynb ("
                   + ", ".join(sorted(f.name for f in notebooks)) + "): cannot choose")
        else:
            kinds = sorted({PurePosixPath(f.name).suffix.lower() or "no extension"
                            for f in uploads})
            why = ("no notebook (.ipynb) submitted"
                   + (f": only {', '.join(kinds)}" if kinds else "")
                   + (" and online text" if others else ""))
        for f in uploads:
            report.rejected.append((student, f.entry.path, why))
        if not uploads:
            report.rejected.append((student, others[0].entry.path if others else "", why))
        return

    data = chosen.entry.read()
    if not _is_notebook(data):
        why = f"{chosen.name} is not a Jupyter notebook (not notebook JSON)"
        for f in uploads:
            report.rejected.append((student, f.entry.path, why if f is chosen else
                                    f"not graded: {why}"))
        return
    for f in uploads:
        if f is chosen:
            continue
        if f.name.lower().endswith(".ipynb"):
            why = f"another notebook: not graded (graded {chosen.name})"
        else:
            suffix = PurePosixPath(f.name).suffix.lower() or "no extension"
            why = f"not a notebook ({suffix}): not graded"
        report.not_graded.append((student, f.entry.path, why))

    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{assignment}.ipynb"
    target.write_bytes(data)
    report.placed.append((student, chosen.entry.path, str(target.relative_to(root))))
    stamp = chosen.time.replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (folder / "timestamp.txt").write_text(stamp + "\n")


# --- the import's summary and record --------------------------------------------------

def summary_table(report: ImportReport) -> str:
    """One row per entry: student, name, outcome, file, reason; then the counts."""
    rows = [("student", "name", "outcome", "file", "reason")]
    names = report.names
    for student, entry, _ in report.placed:
        rows.append((student, names.get(student, ""), "placed", entry, ""))
    for student, older, kept in report.replaced:
        rows.append((student, names.get(student, ""), "replaced by later", older,
                     f"kept {kept}"))
    for student, entry, why in report.not_graded:
        rows.append((student, names.get(student, ""), "not graded", entry, why))
    for student, entry, why in report.rejected:
        rows.append((student or "?", names.get(student, ""), "REJECTED", entry, why))
    for entry, why in report.ignored:
        rows.append(("", "", "ignored", entry, why))
    body = sorted(rows[1:], key=lambda r: (r[0], r[2] != "placed", r[3]))
    rows = [rows[0], *body]
    widths = [max(_width(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
             for r in rows]
    lines.append("")
    lines.append(f"placed {len(report.placed)} file(s) for {len(report.students)} student(s); "
                 f"{len(report.replaced)} replaced by a later submission; "
                 f"{len(report.not_graded)} not graded; {len(report.rejected)} rejected")
    return "\n".join(lines)


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def save_record(root: Path, report: ImportReport) -> Path:
    """Keep the import's outcome per student in ``grading/imports/<assignment>.json``
    (later imports update it), so that export can name rejected students."""
    path = Path(root) / IMPORTS_DIR / f"{report.assignment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    students = record.setdefault("students", {})
    for student in report.students:
        students[student] = {"outcome": "placed", "reason": "",
                             "name": report.names.get(student, "")}
    for student, why in report.rejected_students.items():
        students[student] = {"outcome": "rejected", "reason": why,
                             "name": report.names.get(student, "")}
    record.setdefault("imports", []).append({
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **{k: v for k, v in asdict(report).items() if k != "names"},
    })
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def read_record(root: Path, assignment: str) -> dict[str, dict]:
    """student -> {"outcome": placed|rejected, "reason", "name"} of the imports so far."""
    path = Path(root) / IMPORTS_DIR / f"{assignment}.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("students", {})


def record_names(root: Path, names: dict[str, str]) -> int:
    """Give the gradebook's students without a name the name the LMS gave them."""
    from nbgrader.api import Gradebook, MissingEntry

    from .autograde import _coursedir, load_config

    coursedir = _coursedir(load_config(Path(root).resolve()))
    count = 0
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for student, name in names.items():
            try:
                known = gb.find_student(student)
                if known.first_name or known.last_name:
                    continue
            except MissingEntry:
                pass
            gb.update_or_create_student(student, last_name=name)
            count += 1
    return count
