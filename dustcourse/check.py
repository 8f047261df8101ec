"""Check an exercise notebook before handing it in: which public tests pass, and why not.

The notebook runs from top to bottom in a fresh kernel through nbgrader's own
validator (the code behind the *Validate* button and ``nbgrader validate``), in the
notebook's folder so that it finds its ``data/``. The report lists every graded cell
by its grade id: the autograded checks as passed or failed with the message of the
failing ``assert``, the answers your instructor grades by hand as such. The command
``nbgrader validate`` exits 0 even when tests fail; :func:`check` and ``dustcourse
check`` tell a script (or a student) through ``report.ok`` and the exit status.

From a terminal::

    dustcourse check ps0-warmup.ipynb

From a notebook (save it first: the file on disk is what is checked)::

    from dustcourse.check import check
    check("ps0-warmup.ipynb")

That call may sit in the exercise notebook itself: while :func:`check` runs a notebook,
it marks the kernel it starts (the environment variable ``DUSTCOURSE_CHECK_RUNNING``),
and a ``check()`` called inside that run returns at once instead of checking the
notebook again (which would start a kernel per level, without end).

Before running, the data files the notebook reads (``"data/..."`` in its code) are
looked for beside it: a missing file is named, with the path where it should be. An
error in a cell that is not an answer (the setup cell) is reported first, since every
question after it fails with it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

PASSED, FAILED, MANUAL = "passed", "failed", "manual"
TEXT_STUB = "YOUR ANSWER HERE"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_MESSAGE = 400
RUNNING = "DUSTCOURSE_CHECK_RUNNING"  # set for the kernel check() starts: no recursion
DATA_PATH = re.compile(r"""["'](data/[^"'\s]+)["']""")
IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.M)
UNDEFINED = ("`{}` is not defined: run your answer cell, and keep the variable name")


@dataclass
class QuestionResult:
    """The outcome of one graded cell, named by its nbgrader grade id."""

    grade_id: str
    status: str  # PASSED, FAILED or MANUAL
    points: float
    message: str = ""

    def __str__(self) -> str:
        points = f"{self.points:g} point{'' if self.points == 1 else 's'}"
        line = f"{self.status.upper():7} {self.grade_id} ({points})"
        return f"{line}: {self.message}" if self.message else line


@dataclass
class CheckReport:
    """What :func:`check` found; ``str(report)`` is the text ``dustcourse check`` prints."""

    notebook: Path
    results: list[QuestionResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # missing data, a failed setup cell
    nested: bool = False  # called inside a notebook that check() is running: not checked

    @property
    def failed(self) -> list[QuestionResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def autograded(self) -> list[QuestionResult]:
        return [r for r in self.results if r.status != MANUAL]

    @property
    def ok(self) -> bool:
        """True when every autograded check passes (the hand-graded answers aside)."""
        return not self.failed

    def status(self) -> dict[str, str]:
        """grade id -> passed / failed / manual."""
        return {r.grade_id: r.status for r in self.results}

    def __str__(self) -> str:
        if self.nested:
            return (f"Not checked here: {self.notebook.name} is being run by dustcourse check "
                    "already, and this call inside it is skipped (a check from inside the "
                    "run would start the notebook again, without end). The report comes "
                    "from the check that is running it.")
        auto = self.autograded
        passed = [r for r in auto if r.status == PASSED]
        lines = [
            f"Checked {self.notebook.name}: {len(passed)} of {len(auto)} autograded checks "
            f"pass ({sum(r.points for r in passed):g} of {sum(r.points for r in auto):g} points)."
        ]
        lines += [f"PROBLEM {p}" for p in self.problems]
        lines += [str(r) for r in self.results]
        if self.ok:
            lines.append("All public checks pass. More tests run when your work is graded, "
                         "so passing them does not mean that every answer is right.")
        else:
            lines.append(f"{len(self.failed)} check(s) failed: fix the answer above each one, "
                         "then run the notebook again from the top.")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # shown as text in a notebook
        printer.text(str(self))


def _grade_id(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _error(cell) -> str | None:
    """'Name: message' of the first error a code cell raised, or None. A name the cell
    needs but nobody defined (a NameError, or a KeyError from a globals() lookup) is said
    as what to do about it."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            evalue = ANSI.sub("", output.evalue or "").strip()
            undefined = re.fullmatch(r"name '(\w+)' is not defined", evalue)
            if output.ename == "NameError" and undefined:
                return UNDEFINED.format(undefined.group(1))
            key = re.fullmatch(r"'(\w+)'", evalue)
            if output.ename == "KeyError" and key and "globals()" in cell.source:
                return UNDEFINED.format(key.group(1))
            message = f"{output.ename}: {evalue}" if evalue else output.ename
            if output.ename == "AssertionError" and not evalue:
                message = "AssertionError (a check failed without a message)"
            return message[:MAX_MESSAGE]
    return None


def _shipped_modules(nb: nbformat.NotebookNode) -> list[str]:
    """Modules the notebook imports that no installed package provides: files shipped
    beside it (``boxoffice.py``)."""
    import importlib.util

    names = {m.group(1) for c in nb.cells if c.cell_type == "code"
             and not c.metadata.get("nbgrader", {}).get("solution")  # not the student's
             for m in IMPORT.finditer(c.source)}
    return sorted(n for n in names if importlib.util.find_spec(n) is None)


def _missing_data(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    """The data files the notebook's code reads ("data/...") and the module files it
    imports that are not beside it."""
    wanted = sorted({m.group(1) for c in nb.cells if c.cell_type == "code"
                     for m in DATA_PATH.finditer(c.source)})
    folder = path.parent
    return [
        f"the data file {name} is missing: it should be at {folder / name}, in the data/ "
        "folder beside the notebook (keep the notebook and its data/ folder together, as "
        "in the exercise download)"
        for name in wanted if not (folder / name).is_file()
    ] + [
        f"the file {name}.py is missing: it should be at {folder / (name + '.py')}, beside "
        "the notebook (keep the files of the exercise download together)"
        for name in _shipped_modules(nb) if not (folder / f"{name}.py").is_file()
    ]


def _cell_problems(executed: nbformat.NotebookNode) -> list[str]:
    """Errors in code cells that are neither answers nor checks (the setup cell)."""
    from nbgrader import utils

    modules = _shipped_modules(executed)
    problems = []
    for number, cell in enumerate(executed.cells, 1):
        if cell.cell_type != "code" or utils.is_solution(cell) or utils.is_grade(cell):
            continue
        error = _error(cell)
        shipped = any(f"No module named '{n}'" in (error or "") for n in modules)
        if error and not (error.startswith("FileNotFoundError") and "data/" in error) \
                and not shipped:  # a missing data or module file is named once, above
            name = _grade_id(cell) or f"number {number}"
            problems.append(f"cell {name} raised {error}: the questions after it fail with it, "
                            "so fix this first")
    return problems


def _changed_message() -> str:
    return ("this read-only cell was changed; the grader puts the original back, so undo "
            "the change (copy the cell from a fresh download of the exercise)")


def _results(executed: nbformat.NotebookNode, original: nbformat.NotebookNode) -> list:
    from nbgrader import utils

    results = []
    answer = None  # the last answer (solution) cell above the current one
    for cell, before in zip(executed.cells, original.cells, strict=True):
        if utils.is_solution(cell) and cell.cell_type == "code":
            answer = cell
        checksum = before.metadata.get("nbgrader", {}).get("checksum")
        if utils.is_locked(before) and checksum and utils.compute_checksum(before) != checksum:
            points = float(before.metadata.nbgrader.get("points", 0))
            results.append(QuestionResult(_grade_id(cell), FAILED, points, _changed_message()))
            continue
        if not utils.is_grade(cell):
            continue
        points = float(cell.metadata.nbgrader.get("points", 0))
        if cell.cell_type != "code":
            unanswered = cell.source.strip() in ("", TEXT_STUB)
            note = "not answered yet" if unanswered else "answered"
            results.append(QuestionResult(_grade_id(cell), MANUAL, points,
                                          f"{note}; graded by your instructor"))
            continue
        score, max_score = utils.determine_grade(cell)
        if score is None:  # graded by hand even though it is code
            results.append(QuestionResult(_grade_id(cell), MANUAL, points,
                                          "graded by your instructor"))
            continue
        if score >= max_score and not (max_score == 0 and utils.has_failed(cell)):
            results.append(QuestionResult(_grade_id(cell), PASSED, points))
            continue
        message = _error(cell) or "the check did not pass"
        cause = _error(answer) if answer is not None and answer is not cell else None
        if cause and cause.startswith("NotImplementedError"):
            message += (f"; your answer {_grade_id(answer)} still raises NotImplementedError: "
                        "replace `raise NotImplementedError` with your code")
        elif cause:
            message += f"; your answer {_grade_id(answer)} raised {cause}"
        results.append(QuestionResult(_grade_id(cell), FAILED, points, message))
    return results


def check(path: str | Path, *, timeout: int = 60) -> CheckReport:
    """Run a notebook's public tests with nbgrader's validator; report each graded cell.

    ``timeout`` is the limit in seconds for each cell (an endless loop fails its cell).
    The file is not modified.
    """
    from nbgrader.preprocessors import Execute as NbgraderExecute
    from nbgrader.validator import Validator
    from traitlets import List
    from traitlets.config import Config

    from .grading.socket_kernels import Execute

    path = Path(path).resolve()
    if os.environ.get(RUNNING):
        return CheckReport(path, nested=True)
    original = nbformat.read(path, as_version=4)

    class _Validator(Validator):
        """nbgrader's validator, keeping the executed notebook for per-cell messages; its
        kernel talks over Unix sockets, not TCP ports (checks run side by side cannot
        race for a port: see :mod:`dustcourse.grading.socket_kernels`)."""

        preprocessors = List([Execute if p is NbgraderExecute else p
                              for p in Validator.preprocessors.default()])
        executed = None

        def _preprocess(self, nb):
            self.executed = super()._preprocess(nb)
            return self.executed

    # Checksums are compared here, per cell, so that an edited test cell is reported by
    # name while the other questions are still checked.
    execute = {
        "timeout": timeout,
        # nbgrader's default for Python kernels, plus a quiet kernel (no start-up warnings)
        "extra_arguments": ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"],
    }
    validator = _Validator(config=Config({"Execute": execute}), ignore_checksums=True)
    os.environ[RUNNING] = str(path)  # inherited by the kernel that runs the notebook
    try:
        found = validator.validate(str(path))
    finally:
        del os.environ[RUNNING]
    report = CheckReport(path, problems=_missing_data(path, original))
    if "type_changed" in found:
        changed = {c.get("source", "") for c in found["type_changed"]}
        for cell in original.cells:
            if cell.source.strip() in changed:
                report.results.append(QuestionResult(
                    _grade_id(cell), FAILED,
                    float(cell.metadata.get("nbgrader", {}).get("points", 0)),
                    f"this cell was turned into a {cell.cell_type} cell: change it back to a "
                    f"{cell.metadata.nbgrader.get('cell_type', 'code')} cell"))
        return report
    report.problems += _cell_problems(validator.executed)
    report.results = _results(validator.executed, original)
    if report.problems:
        for result in report.failed:
            result.message += " (a problem above comes first: see PROBLEM)"
    return report
