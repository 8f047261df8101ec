"""Prepare a submission for execution, and record a submission that failed.

The coordinator (:mod:`.autograde`) calls :func:`prepare` for each submission before
handing it to a worker. The notebook to grade is rebuilt from the assignment itself:
every locked cell, test and task comes from nbgrader's gradebook (the instructor's
version, hidden tests included), in the order of the source notebook, and each answer
cell is filled with the student's matching cell. A student's cell is matched to an
answer by its nbgrader grade id, else by position (between the same matched
neighbours) and content; cells the student added stay where they were. So a deleted
or renamed cell, nbgrader metadata that an editor stripped or that an older or newer
nbgrader wrote, or an old notebook format cost nothing but what is really missing: an
answer cell that is gone scores 0 for its question only. nbgrader's own sanitising
step then runs on the rebuilt notebook, writes it into ``autograded/`` and registers
the submission in the gradebook. What was repaired is said in words in
:attr:`Prepared.notes` (the outcome's reason); what cannot be graded at all in
:attr:`Prepared.error`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
import shutil
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

SCHEMA_VERSION = 3  # the nbgrader cell metadata schema this module writes (nbgrader 0.9)
_COMPARED_CHARS = 100_000  # similarity of cells is judged on their start (bounded cost)
_WORD = re.compile(r"\w+")
# What a deleted answer's tests run instead: they fail, and say why.
DELETED_ANSWER_TEST = (
    "# The answer cell of {answer} was deleted from the submission: this test scores 0.\n"
    'raise type("AnswerCellDeleted", (Exception,), {{}})(\n'
    '    "the answer cell of {answer} was deleted: 0 for this question")'
)


@dataclass
class Prepared:
    """How the preparation of one submission went."""

    error: str | None = None  # the submission cannot be graded at all (why, and what to do)
    notes: list[str] = field(default_factory=list)  # what was repaired, for the instructor


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


def _overwrite_cells():
    """nbgrader's OverwriteCells, minus its crash on a cell whose grade id was changed.

    nbgrader drops only the ``grade_id`` of a graded cell it does not know and a later
    step then fails on the missing key, so the whole submission would score zero.
    Removing the cell's nbgrader metadata instead leaves a plain cell (an answer cell
    still runs the student's code), and the genuine test cell is added back from the
    gradebook as for a deleted cell.
    """
    from nbgrader.api import MissingEntry
    from nbgrader.preprocessors import OverwriteCells

    class OverwriteKnownCells(OverwriteCells):
        def preprocess_cell(self, cell, resources, cell_index):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is not None:
                try:
                    self.gradebook.find_source_cell(grade_id, self.notebook_id,
                                                    self.assignment_id)
                except MissingEntry:
                    self.log.warning("Cell %r is not in the gradebook: graded as a plain "
                                     "cell", grade_id)
                    del cell.metadata["nbgrader"]
                    return cell, resources
            return super().preprocess_cell(cell, resources, cell_index)

    return OverwriteKnownCells


def _coursedir(config):
    from .autograde import _coursedir as coursedir

    return coursedir(config)


def _nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell) -> str | None:
    grade_id = _nbgrader_meta(cell).get("grade_id")
    return grade_id if isinstance(grade_id, str) else None


def _source(cell) -> str:
    """A student cell's text, whatever its JSON holds (a list of lines, a number...)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(line for line in source if isinstance(line, str))
    return source if isinstance(source, str) else ""


def _text(source: str) -> str:
    """A cell's text for comparison: line ends and trailing blanks do not count."""
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _words(source: str) -> set[str]:
    return set(_WORD.findall(source[:_COMPARED_CHARS]))


def _similarity(a: set[str], b: set[str]) -> float:
    """How alike two cells are: the share of their words in common (linear time, so a
    hostile notebook of huge cells costs nothing much)."""
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass
class _Cell:
    """One cell of the assignment that nbgrader knows (locked, test, task or answer)."""

    grade_id: str
    cell_type: str
    role: str  # answer, test, task or locked
    source: str  # the gradebook's: the released stub of an answer, a test with hidden parts
    released: str  # as students received it (hidden tests removed)
    solution: str  # the instructor's answer (answer cells; for matching only)
    meta: dict  # its nbgrader metadata


def _skeleton(gb, coursedir, config, assignment: str, notebook_id: str) -> list[_Cell]:
    """The assignment's nbgrader cells from the gradebook, in the source notebook's order."""
    from nbgrader.preprocessors import ClearHiddenTests

    notebook = gb.find_notebook(notebook_id, assignment)
    sources = {c.name: c for c in notebook.source_cells}
    grades = {c.name: c for c in notebook.grade_cells}
    tasks = {c.name: c for c in notebook.task_cells}
    solutions = {c.name for c in notebook.solution_cells}
    order: list[str] = []
    solution_text: dict[str, str] = {}
    path = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    try:
        for cell in nbformat.read(path / f"{notebook_id}.ipynb", as_version=4).cells:
            grade_id = _grade_id(cell)
            if grade_id in sources and grade_id not in solution_text:
                order.append(grade_id)
                solution_text[grade_id] = cell.source
    except (OSError, ValueError):  # no source notebook: the gradebook's order
        pass
    order += [name for name in sources if name not in solution_text]
    hidden = ClearHiddenTests(config=config)
    cells = []
    for name in order:
        source_cell = sources[name]
        meta = {"grade": name in grades, "grade_id": name, "locked": bool(source_cell.locked),
                "schema_version": SCHEMA_VERSION, "solution": name in solutions,
                "task": name in tasks}
        if name in grades or name in tasks:
            meta["points"] = float((grades.get(name) or tasks[name]).max_score)
        if source_cell.checksum:
            meta["checksum"] = source_cell.checksum
        role = ("answer" if meta["solution"] else "test" if meta["grade"]
                else "task" if meta["task"] else "locked")
        released = nbformat.v4.new_code_cell(source_cell.source or "")
        if role == "test":
            hidden._remove_hidden_test_region(released)
        cells.append(_Cell(name, source_cell.cell_type, role, source_cell.source or "",
                           released.source, solution_text.get(name, ""), meta))
    return cells


def _student_cell(cell):
    """A cell the student wrote, as a plain cell (no nbgrader metadata, no outputs)."""
    if cell.get("cell_type") == "markdown":
        new = nbformat.v4.new_markdown_cell(_source(cell))
        if cell.get("attachments"):
            new.attachments = cell.attachments
        return new
    if cell.get("cell_type") == "raw":
        return nbformat.v4.new_raw_cell(_source(cell))
    return nbformat.v4.new_code_cell(_source(cell))


def _between(match: dict[int, int], i: int, end: int) -> tuple[int, int]:
    """The student positions of the matched cells nearest before and after skeleton cell i."""
    before, following = [k for k in match if k < i], [k for k in match if k > i]
    return (match[max(before)] if before else -1), (match[min(following)] if following else end)


def _match(cells: list, skeleton: list[_Cell]) -> tuple[dict[int, int], int]:
    """skeleton index -> student index, and how many were matched without their grade id."""
    index = {c.grade_id: i for i, c in enumerate(skeleton)}
    match: dict[int, int] = {}
    # 1. By grade id. Of a cell copied with its id, the last copy in its place (between
    #    the cells matched before and after it) counts, else the last, as in nbgrader.
    copies: dict[int, list[int]] = {}
    for j, cell in enumerate(cells):
        i = index.get(_grade_id(cell))
        if i is not None:
            copies.setdefault(i, []).append(j)
    match.update((i, js[0]) for i, js in copies.items() if len(js) == 1)
    for i, js in copies.items():
        if len(js) > 1:
            low, high = _between(match, i, len(cells))
            match[i] = ([j for j in js if low < j < high] or js)[-1]
    claimed = set(match.values())
    by_id = len(match)
    # 2. A cell without a known grade id whose text is that of exactly one cell of the
    #    assignment as released (a locked cell, a test, an answer left blank).
    counts = Counter(_text(c.released) for c in skeleton)
    by_text = {_text(c.released): i for i, c in enumerate(skeleton)
               if _text(c.released) and counts[_text(c.released)] == 1}
    for j, cell in enumerate(cells):
        i = by_text.get(_text(_source(cell)))
        if (j not in claimed and i is not None and i not in match and _grade_id(cell) not in index
                and cell.get("cell_type") == skeleton[i].cell_type):
            match[i] = j
            claimed.add(j)
    if not match:
        return match, 0
    words: dict[int, set[str]] = {}  # each student cell's words, computed once
    # 3. An answer by position: among the unlabelled cells of its type between the cells
    #    matched before and after it, the one most like its stub or the instructor's answer
    #    (on a tie, the last: the student's final version).
    for i, answer in enumerate(skeleton):
        if answer.role != "answer" or i in match:
            continue
        low, high = _between(match, i, len(cells))
        candidates = [j for j in range(low + 1, high)
                      if j not in claimed and cells[j].get("cell_type") == answer.cell_type
                      and _grade_id(cells[j]) not in index]
        if candidates:
            stub, solution = _words(answer.released), _words(answer.solution)
            for j in candidates:
                if j not in words:
                    words[j] = _words(_source(cells[j]))
            best = max(candidates, key=lambda j: (max(
                _similarity(words[j], stub), _similarity(words[j], solution)), j))
            match[i] = best
            claimed.add(best)
    return match, len(match) - by_id


def _rebuild(nb, skeleton: list[_Cell]) -> tuple[list, list[str], list[str]]:
    """The cells to grade, the grade ids of deleted answers, and what else was repaired."""
    cells = nb.cells
    match, repaired = _match(cells, skeleton)
    if not match:
        return [], [], []
    placed = {j: i for i, j in match.items()}
    after: dict[int, list] = {}  # skeleton index (-1: the top) -> extra cells placed after it
    anchor = -1
    for j, cell in enumerate(cells):
        if j in placed:
            anchor = placed[j]
        else:
            after.setdefault(anchor, []).append(_student_cell(cell))
    out = list(after.get(-1, []))
    deleted: list[str] = []
    question = None  # the answer cell the tests that follow belong to
    for i, c in enumerate(skeleton):
        meta = {"nbgrader": dict(c.meta)}
        source = c.source
        if c.role == "answer":
            question = c.grade_id
            if i in match:
                student = cells[match[i]]
                source = _source(student)
            else:  # the released stub comes back: nothing to grade in it
                deleted.append(c.grade_id)
                meta["dustcourse"] = {"answer_deleted": f"the answer cell of {c.grade_id} was "
                                                         "deleted: 0 for this question"}
        elif c.role == "test" and question in deleted:  # disabled after nbgrader's steps
            meta["dustcourse"] = {"answer_deleted": f"the answer cell of {question} was "
                                                     "deleted: 0 for this question",
                                  "answer": question}
        if c.cell_type == "code":
            cell = nbformat.v4.new_code_cell(source, metadata=meta)
        else:
            cell = nbformat.v4.new_markdown_cell(source, metadata=meta)
            if c.role == "answer" and i in match and cells[match[i]].get("attachments"):
                cell.attachments = cells[match[i]].attachments
        out.append(cell)
        out.extend(after.get(i, []))
    notes = []
    if repaired:
        had_metadata = any(_nbgrader_meta(cell) for cell in cells)
        notes.append(
            f"{repaired} cell(s) had lost or changed their nbgrader metadata and were "
            "matched to the assignment by position and content" if had_metadata else
            "the notebook has no nbgrader metadata (an editor or a copy into a new notebook "
            "dropped it): its answers were found by position and content"
        )
    return out, deleted, notes


def _schema_versions(nb) -> tuple[int | None, int | None]:
    """The oldest nbgrader metadata schema older than ours, and the newest newer one."""
    versions = set()
    for cell in nb.cells:
        meta = _nbgrader_meta(cell)
        if meta:
            version = meta.get("schema_version", 0)
            versions.add(version if isinstance(version, int) else 0)
    old = [v for v in versions if v < SCHEMA_VERSION]
    new = [v for v in versions if v > SCHEMA_VERSION]
    return (min(old) if old else None), (max(new) if new else None)


def _schema_note(nb) -> str | None:
    import nbgrader

    old, new = _schema_versions(nb)
    if new is not None:
        return (f"the notebook's nbgrader metadata was written by a newer nbgrader (schema "
                f"{new}; nbgrader {nbgrader.__version__} here reads schema {SCHEMA_VERSION}): "
                "its cells were matched to the assignment by grade id and content and graded "
                "as released; if you released the exercise with a newer nbgrader, grade with "
                "that version")
    if old is not None:
        return (f"the notebook's nbgrader metadata is in an old format (schema {old}): it "
                "was upgraded automatically (as nbgrader's update command does) and graded as "
                "usual")
    return None


def _other_assignment(gb, nb, assignment: str) -> str | None:
    """The assignment this notebook belongs to, if most of its grade ids are another's."""
    from nbgrader.api import SourceCell

    ids = {grade_id for grade_id in map(_grade_id, nb.cells) if grade_id}
    if not ids:
        return None
    owners: dict[str, set[str]] = {}
    for cell in gb.db.query(SourceCell).filter(SourceCell.name.in_(sorted(ids))).all():
        owners.setdefault(cell.notebook.assignment.name, set()).add(cell.name)
    mine = len(owners.pop(assignment, ()))
    other = max(owners, key=lambda name: len(owners[name]), default=None)
    return other if other and len(owners[other]) > mine else None


class _Unpreparable(Exception):
    pass


def _rebuild_preprocessor(config, coursedir, state: dict):
    """A first sanitising step for nbgrader: the notebook rebuilt from the assignment."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import NbGraderPreprocessor

    class RebuildFromSource(NbGraderPreprocessor):
        def preprocess(self, nb, resources):
            notebook_id = resources["nbgrader"]["notebook"]
            assignment = resources["nbgrader"]["assignment"]
            with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                skeleton = _skeleton(gb, coursedir, config, assignment, notebook_id)
                other = _other_assignment(gb, nb, assignment)
                cells, deleted, notes = ([], [], []) if other else _rebuild(nb, skeleton)
                if not cells and skeleton:
                    state["error"] = (
                        f"{notebook_id}.ipynb is the notebook of {other}, not of {assignment}"
                        if other else
                        f"{notebook_id}.ipynb has no cells" if not nb.cells else
                        f"none of the {len(nb.cells)} cells of {notebook_id}.ipynb is a cell "
                        f"of {assignment} (another notebook was handed in?)"
                    ) + (": nothing was graded (0); ask the student to submit the notebook "
                         f"of {assignment}, then grade again")
                    newer = _schema_versions(nb)[1]
                    if newer:  # perhaps the cause: say it, and what to do
                        state["error"] += (
                            f"; its nbgrader metadata was written by a newer nbgrader (schema "
                            f"{newer}): if you released the exercise with a newer nbgrader, "
                            "grade with that version; otherwise ask the student to download "
                            "the exercise again and copy their answers into it")
                    raise _Unpreparable(state["error"])
            original = nb.metadata.get("orig_nbformat")  # set by nbformat's conversion
            if isinstance(original, int) and original < 4:
                notes.append(f"saved in the old notebook format {original}: converted")
            note = _schema_note(nb)
            if note and "old format" in note:  # fewer grade ids then: no repair to report
                notes = [n for n in notes if "by position" not in n]
            notes += [note] if note else []
            notes += [f"the answer cell of {grade_id} was deleted: 0 for that question; the "
                      "other answers were graded" for grade_id in deleted]
            state["notes"] += notes
            nb.cells = cells
            nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 0), 5)
            for key in ("orig_nbformat", "orig_nbformat_minor"):
                nb.metadata.pop(key, None)
            return nb, resources

    return RebuildFromSource


def _disable_deleted_tests():
    """The last sanitising step: each test of a deleted answer fails, saying why.

    It comes after nbgrader's OverwriteCells, which would put the test back.
    """
    from nbgrader.preprocessors import NbGraderPreprocessor

    class DisableDeletedTests(NbGraderPreprocessor):
        def preprocess_cell(self, cell, resources, cell_index):
            answer = cell.metadata.get("dustcourse", {}).get("answer")
            if answer and cell.cell_type == "code":
                cell.source = DELETED_ANSWER_TEST.format(answer=answer)
            return cell, resources

    return DisableDeletedTests


def _read_error(path: Path) -> str | None:
    """Why a submitted notebook cannot be read, in words (None: it can)."""
    data = path.read_bytes()
    if not data.strip():
        return f"{path.name} is empty ({len(data)} bytes)"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return f"{path.name} is not a text file (not UTF-8), so not a notebook"
    try:
        content = json.loads(text)
    except ValueError as exc:
        return (f"{path.name} is not a readable notebook (its JSON is broken at line "
                f"{getattr(exc, 'lineno', '?')}: cut short, or not a notebook)")
    if not isinstance(content, dict) or not isinstance(content.get("nbformat"), int):
        return f"{path.name} is JSON but not a Jupyter notebook"
    try:
        nbformat.reads(text, as_version=4)
    except Exception as exc:
        return f"{path.name} is not a notebook this Jupyter can read ({type(exc).__name__})"
    return None


@contextlib.contextmanager
def quiet_autoflush():
    """Hide SQLAlchemy's autoflush warning, which nbgrader's add_submission trips
    (harmless)."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def prepare(config, assignment: str, student: str) -> Prepared:
    """Rebuild and sanitise one submission into ``autograded/`` (see the module's text)."""
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata
    from nbgrader.preprocessors import ClearOutput, DeduplicateIds, OverwriteCells

    from .metadata import CheckCellMetadata

    coursedir = _coursedir(config)
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
    autograded = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        expected = [nb.name for nb in gb.find_assignment(assignment).notebooks]
    present = sorted(p.name for p in submitted.glob("*.ipynb"))
    problem = None
    if not any(f"{name}.ipynb" in present for name in expected):
        names = ", ".join(f"{name}.ipynb" for name in expected)
        problem = (f"no {names} in the submission"
                   + (f" (it holds {', '.join(present)})" if present else ""))
    else:
        problem = next(filter(None, (_read_error(submitted / f"{name}.ipynb")
                                     for name in expected if f"{name}.ipynb" in present)), None)
    if problem:
        shutil.rmtree(autograded, ignore_errors=True)  # no stale notebook from an older run
        return Prepared(f"{problem}: 0 for now; ask the student to open the notebook in "
                        "Jupyter, save it and submit it again, then grade again")

    state: dict = {"error": None, "notes": []}
    cfg = copy.deepcopy(config)  # Config(config) would share its sections with ours
    cfg.Autograde.autograde_preprocessors = []  # execution and scoring happen later
    fixed = {DeduplicateIds: _deduplicate_grade_ids(), OverwriteCells: _overwrite_cells(),
             NbgraderCheckCellMetadata: CheckCellMetadata}
    steps = []
    for cls in Autograde.class_traits()["sanitize_preprocessors"].default():
        steps.append(fixed.get(cls, cls))
        if cls is ClearOutput:
            steps.append(_rebuild_preprocessor(config, coursedir, state))
    cfg.Autograde.sanitize_preprocessors = [*steps, _disable_deleted_tests()]
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.student_id = student
    converter = Autograde(coursedir=_coursedir(cfg), config=cfg)
    converter.force = True
    capture = _Capture()
    converter.log.addHandler(capture)
    try:
        converter.start()
    except Exception as exc:  # nbgrader raises after logging the per-student failure
        if state["error"]:
            return Prepared(state["error"])
        details = [m for m in capture.messages if "Traceback" in m or "Error" in m]
        last = (details[-1] if details else str(exc)).strip().splitlines()[-1]
        return Prepared(f"could not prepare the submission (nbgrader: {last}): 0 for now; "
                        "the autograded notebook was not written")
    finally:
        converter.log.removeHandler(capture)
    return Prepared(None, state["notes"])


def _grades_by_hand(gb, notebook) -> set[str]:
    """Names of the cells of a submitted notebook that are graded by hand."""
    source = notebook.notebook
    return {c.name for c in source.grade_cells} & {c.name for c in source.solution_cells}


def _zero_scores(config, assignment: str, student: str, prepared: bool = True) -> None:
    """Record a submission that could not be graded in full.

    Autograded cells score zero. A cell graded by hand stays with the instructor: if the
    notebook was written to ``autograded/`` it is pending in formgrader (unless the
    student left it as released: 0, "No response.", as nbgrader does); only when there
    is no notebook to read (missing, unreadable) does it score zero, as nbgrader does
    for a missing notebook. A submission not ``prepared`` in this run (no worker was
    available) keeps its hand grading as it was: ``autograded/`` holds an older version.
    """
    from nbgrader import utils
    from nbgrader.api import Gradebook, MissingEntry

    coursedir = _coursedir(config)
    folder = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb, quiet_autoflush():
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            submission = gb.add_submission(assignment, student)
        for notebook in submission.notebooks:
            by_hand = _grades_by_hand(gb, notebook)
            written = {}
            path = folder / f"{notebook.name}.ipynb"
            if by_hand and prepared and path.is_file():
                try:
                    written = {_grade_id(c): c for c in nbformat.read(path, as_version=4).cells
                               if _grade_id(c) in by_hand}
                except (OSError, ValueError):
                    written = {}
            for grade in notebook.grades:
                cell = written.get(grade.name)
                if grade.name in by_hand and not prepared:
                    continue
                if grade.name in by_hand and cell is not None:
                    grade.auto_score = utils.determine_grade(cell)[0]
                    grade.needs_manual_grade = (grade.auto_score is None
                                                or grade.manual_score is not None)
                else:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gb.db.commit()


def _finish_failed(
    config, root, outcomes, pending, assignment, student, reason, final: bool = True
) -> None:
    from .autograde import STATUS_WORKER_FAILED, Outcome, _save_status, _scores
    from .execute import STATUS_ERROR

    state = pending[student]
    _zero_scores(config, assignment, student, prepared=final or "left" in state)
    score, max_score = _scores(config, assignment, student)
    outcomes[student] = Outcome(
        student, assignment, STATUS_ERROR if final else STATUS_WORKER_FAILED, reason,
        score, max_score, time.monotonic() - state["started"],
    )
    _save_status(root, assignment, student, state["fingerprint"] if final else "",
                 outcomes[student])
