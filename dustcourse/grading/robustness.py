"""The robustness run: does each answer follow the data, or was it typed in?

After the normal run of a submission, the same worker executes the same prepared
notebook a second time, in a fresh sandboxed kernel, with every data file of the
assignment replaced by a perturbed copy (:mod:`dustcourse.perturb`; the rules are in
``data/perturbations.json``, the draws depend on the assignment and the course secret).
The hidden tests re-read the data, so on the perturbed copy they expect the perturbed
answers: code that analyses the data still passes, numbers typed in do not.

A graded test cell that passed the normal run and fails the robustness run is an answer
that does not follow the data. By course setting (``c.Robustness.on_failure`` in
``nbgrader_config.py``) it scores 0 (``"zero"``, the default) or keeps its score and is
flagged for the instructor's review (``"flag"``: nbgrader's *needs manual grade*); the
test cell of the graded notebook, and so the student's feedback, says why.

Exempt: a test cell whose metadata (in the source notebook, never the student's copy)
says ``dustcourse: {follows_data: false, why: ...}``. Ignored, with a warning to the
instructor: a test the solution notebook itself fails on the perturbed data (a rule that
broke a relation the question relies on). The solution runs once per assignment, secret
and data; its result is cached in ``grading/robustness/<assignment>.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..perturb import check_rules, course_secret, perturb_files, validate_perturbed

log = logging.getLogger(__name__)

CACHE_DIR = Path("grading") / "robustness"  # under the course root; gitignored
ON_FAILURE = ("zero", "flag")
NOTE_ZERO = (
    "Your answer does not follow the data: the grader ran your notebook a second time "
    "on a changed copy of the data files, and this answer did not change with them "
    "(was a number typed in, or a result that does not come from the data?). "
    "Compute every value from the data. This question scores 0."
)
NOTE_FLAG = (
    "Your answer may not follow the data: the grader ran your notebook a second time "
    "on a changed copy of the data files, and this answer did not change with them. "
    "Your instructor will review it."
)


def _graded_tests(nb) -> dict[str, dict]:
    """grade_id -> metadata of every autograded test cell (graded code, not an answer)."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata
        for cell in nb.cells
        if cell.cell_type == "code"
        and cell.metadata.get("nbgrader", {}).get("grade")
        and not cell.metadata["nbgrader"].get("solution")
    }


def follows_data(metadata: dict) -> bool:
    """False only where the source says ``dustcourse: {follows_data: false}``."""
    return metadata.get("dustcourse", {}).get("follows_data", True) is not False


def passed_tests(notebook: str, grade_ids) -> set[str]:
    """The given test cells that scored full points in an executed notebook (JSON)."""
    from nbgrader.utils import determine_grade

    nb = nbformat.reads(notebook, as_version=4)
    wanted = set(grade_ids)
    passed = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in wanted and cell.cell_type == "code":
            score, max_score = determine_grade(cell, log)
            if score is not None and max_score and score >= max_score:
                passed.add(grade_id)
    return passed


def run_again(result, notebook: str, robust_files: dict[str, bytes], tests, limits,
              sandbox: bool, hide: tuple[str, ...], pool=None):
    """The robustness run of a task (on the worker), or None when there is nothing to
    judge: no data-following test passed the normal run, or the normal run did not
    finish. A failure of the machinery here is logged and judged as "not run".
    With ``pool`` (:class:`.warm.KernelPool`) it runs in a second warm kernel, its own
    fresh sandbox."""
    from .execute import STATUS_OK, execute_notebook

    if result.status != STATUS_OK or not passed_tests(result.notebook, tests):
        return None
    try:
        return execute_notebook(notebook, robust_files, limits=limits, sandbox=sandbox,
                                hide=hide, kernel=pool.take() if pool else None)
    except Exception:  # never lose the normal result because of the second run
        log.exception("the robustness run failed")
        return None


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


@dataclass
class Robustness:
    """What the coordinator needs for the robustness run of one assignment."""

    root: Path
    assignment: str
    secret: str
    data_directory: Path
    on_failure: str = "zero"
    tests: dict[str, set[str]] = field(default_factory=dict)  # notebook -> data-following tests
    ignored: dict[str, set[str]] = field(default_factory=dict)  # notebook -> solution fails
    problems: list[str] = field(default_factory=list)  # perturbed data breaking the schema
    _perturbed: dict[tuple[str, str], bytes] = field(default_factory=dict)

    # --- the task's side --------------------------------------------------------------
    def task_files(self, files: dict[str, bytes]) -> dict[str, bytes]:
        """A task's files with the data tables replaced by their perturbed copies."""
        keys = {name: (name, hashlib.sha256(content).hexdigest())
                for name, content in files.items()}
        todo = {n: c for n, c in files.items() if keys[n] not in self._perturbed}
        if todo:
            for name, content in perturb_files(todo, self.assignment, self.secret,
                                               self.data_directory).items():
                self._perturbed[keys[name]] = content
        return {name: self._perturbed[keys[name]] for name in files}

    def checked(self, notebook_id: str) -> set[str]:
        """The tests of a notebook the robustness run judges (data-following, not ignored)."""
        return self.tests.get(notebook_id, set()) - self.ignored.get(notebook_id, set())

    # --- the coordinator's side -------------------------------------------------------
    def failed_only_here(self, notebook_id: str, normal: str, robust) -> list[str]:
        """Tests passed in the normal run and failed in the robustness run.

        ``robust`` is the robustness run's :class:`ExecutionResult` (None: not run, or
        the machinery failed; nothing is judged then). A test that never ran because
        the robustness run timed out or killed its kernel counts as failed there: the
        same code ran within the limits on the real data.
        """
        if robust is None:
            return []
        checked = self.checked(notebook_id)
        before = passed_tests(normal, checked)
        after = passed_tests(robust.notebook, checked)
        return sorted(before - after)

    def apply(self, config, student: str, notebook_id: str, failed: list[str]) -> None:
        """Record the outcome in the gradebook and in the graded notebook (feedback)."""
        if not failed:
            return
        from nbgrader.api import Gradebook

        from .autograde import _coursedir

        coursedir = _coursedir(config)
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            for grade_id in failed:
                grade = gb.find_grade(grade_id, notebook_id, self.assignment, student)
                if self.on_failure == "zero":
                    grade.auto_score = 0
                else:
                    grade.needs_manual_grade = True
            gb.db.commit()
        folder = Path(coursedir.format_path(coursedir.autograded_directory, student,
                                            self.assignment))
        path = folder / f"{notebook_id}.ipynb"
        if not path.is_file():
            return
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in failed:
                if self.on_failure == "zero":
                    cell.outputs.append(nbformat.v4.new_output(
                        "error", ename="AnswerDoesNotFollowData", evalue=NOTE_ZERO,
                        traceback=[f"AnswerDoesNotFollowData: {NOTE_ZERO}"]))
                else:
                    cell.outputs.append(nbformat.v4.new_output(
                        "stream", name="stderr", text=NOTE_FLAG + "\n"))
        nbformat.write(nb, path)

    def warnings(self) -> list[str]:
        """What the instructor must know: broken rules, ignored questions."""
        lines = [f"perturbed data breaks its schema: {p}" for p in self.problems]
        for notebook_id, ids in sorted(self.ignored.items()):
            for grade_id in sorted(ids):
                lines.append(
                    f"{self.assignment}/{notebook_id}: the solution fails {grade_id} on the "
                    "perturbed data, so its robustness result is ignored (a perturbation "
                    "rule breaks a relation the question relies on: fix "
                    "data/perturbations.json or the hidden test)")
        return lines


def _on_failure(config) -> str:
    value = config.Robustness.get("on_failure", "zero") if "Robustness" in config else "zero"
    if value not in ON_FAILURE:
        raise ValueError(f"c.Robustness.on_failure = {value!r}: choose one of "
                         f"{', '.join(map(repr, ON_FAILURE))}")
    return value


def _solution_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix not in (".ipynb", ".md") and ".ipynb_checkpoints" not in p.parts
    }


def setup(root: Path, config, assignment: str, limits, sandbox: bool = False) -> Robustness:
    """Everything the run needs, with the solution's result on the perturbed data.

    Runs the solution notebook(s) of ``solutions/<assignment>/`` once on the perturbed
    data, unless the cache holds the result for this assignment, secret, data, rules and
    solution.
    """
    from ..data import data_dir
    from .autograde import _coursedir
    from .execute import execute_notebook

    root = Path(root)
    coursedir = _coursedir(config)
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    data_directory = data_dir()
    run = Robustness(root, assignment, course_secret(root), data_directory,
                     _on_failure(config))
    notebooks = {p.stem: p.read_text(encoding="utf-8") for p in sorted(source.glob("*.ipynb"))}
    for notebook_id, text in notebooks.items():
        tests = _graded_tests(nbformat.reads(text, as_version=4))
        run.tests[notebook_id] = {g for g, meta in tests.items() if follows_data(meta)}

    files = _solution_files(source)
    perturbed = run.task_files(files)
    key = _digest(run.secret.encode(), assignment.encode(),
                  (data_directory / "perturbations.json").read_bytes(),
                  (data_directory / "datapackage.json").read_bytes(),
                  *(n.encode() + b"\0" + c for n, c in sorted(files.items())),
                  *(n.encode() + b"\0" + t.encode() for n, t in notebooks.items()))
    cache = root / CACHE_DIR / f"{assignment}.json"
    cached = json.loads(cache.read_text()) if cache.is_file() else {}
    if cached.get("key") == key:
        run.ignored = {n: set(ids) for n, ids in cached["ignored"].items()}
        run.problems = cached["problems"]
        return run

    run.problems = check_rules(data_directory) + validate_perturbed(
        perturbed, data_directory, originals=files)
    for notebook_id, text in notebooks.items():
        # the instructor's own notebook, as `nbgrader generate_assignment` runs it: no
        # sandbox needed (and none may exist where the coordinator of a Dask run is)
        result = execute_notebook(text, perturbed, limits=limits, sandbox=False)
        tests = run.tests[notebook_id]
        run.ignored[notebook_id] = tests - passed_tests(result.notebook, tests)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({
        "key": key, "assignment": assignment, "on_failure": run.on_failure,
        "ignored": {n: sorted(ids) for n, ids in run.ignored.items()},
        "problems": run.problems,
    }, indent=1))
    return run


# --- the coordinator's three calls (see autograde.autograde) ---------------------------

def robustness_setup(root: Path, config, assignment: str, limits, sandbox: bool) -> Robustness:
    run = setup(root, config, assignment, limits, sandbox)
    for line in run.warnings():
        log.warning("robustness run: %s", line)
    return run


def robust_task_args(run: Robustness | None, notebook_id: str, files: dict[str, bytes]) -> tuple:
    """The extra arguments of :func:`.executors.run_task` (none without the run)."""
    if run is None:
        return ()
    return run.task_files(files), frozenset(run.checked(notebook_id))


def robust_record(run: Robustness | None, config, state: dict, student: str,
                  notebook_id: str, result) -> None:
    """Judge a task's robustness run and record it (gradebook, graded notebook, state)."""
    if run is None:
        return
    failed = run.failed_only_here(notebook_id, result.notebook, result.robust)
    run.apply(config, student, notebook_id, failed)
    state.setdefault("robust_only", []).extend(failed)


def instructor_warnings(root: Path, assignment: str) -> list[str]:
    """The last robustness run's warnings for ``assignment`` (from its cache file)."""
    cache = Path(root) / CACHE_DIR / f"{assignment}.json"
    if not cache.is_file():
        return []
    cached = json.loads(cache.read_text())
    run = Robustness(Path(root), assignment, "", Path("."),
                     ignored={n: set(i) for n, i in cached["ignored"].items()},
                     problems=cached["problems"])
    return run.warnings()
