"""Turn the instructor's assignment sources into the committed student exercises.

An assignment lives in ``solutions/<assignment>/``:

* ``<assignment>.md`` is the source of truth, a MyST Markdown notebook (jupytext) with
  nbgrader cell metadata, solutions and all tests, readable in a diff;
* ``<assignment>.ipynb`` is written from it by :func:`write_source_notebook` (nbgrader
  and formgrader work on .ipynb files); cell ids are derived from the grade ids so the
  file is the same every time it is written;
* any other files (``data/...``, symlinks into the project's ``data/``) are copied into
  the student version by nbgrader.

:func:`generate` runs ``nbgrader generate_assignment`` for each assignment, writing the
student versions into ``exercises/``. :func:`out_of_sync` regenerates everything in a
temporary folder and lists what differs from the committed files.
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupytext
import nbformat

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = PROJECT_ROOT / "solutions"
RELEASE_DIR = PROJECT_ROOT / "exercises"
# Notebook-level metadata kept in the .ipynb files; jupytext's own (pairing, versions) is
# dropped so that a student's JupyterLab never pairs the exercise with a text file.
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


class ExerciseError(RuntimeError):
    """Generating or checking the exercises failed."""


def assignments(source_dir: Path = SOURCE_DIR) -> list[str]:
    """Names of the assignments: folders of solutions/ holding <name>/<name>.md."""
    return sorted(p.parent.name for p in source_dir.glob("*/*.md") if p.stem == p.parent.name)


def source_markdown(assignment: str, source_dir: Path = SOURCE_DIR) -> Path:
    path = source_dir / assignment / f"{assignment}.md"
    if not path.is_file():
        known = ", ".join(assignments(source_dir)) or "none"
        raise ExerciseError(f"no assignment source {path} (known assignments: {known})")
    return path


def read_source(assignment: str, source_dir: Path = SOURCE_DIR) -> nbformat.NotebookNode:
    """The assignment's notebook, read from its MyST source, with stable cell ids."""
    nb = jupytext.read(source_markdown(assignment, source_dir))
    nb.metadata = nbformat.NotebookNode(
        {k: v for k, v in nb.metadata.items() if k in KEPT_NOTEBOOK_METADATA}
    )
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell_id = grade_id or f"{assignment}-cell-{index:02d}"
        if cell_id in seen:
            raise ExerciseError(f"{assignment}: grade_id {cell_id!r} is used by two cells")
        seen.add(cell_id)
        cell["id"] = cell_id
    nbformat.validate(nb)
    return nb


def notebook_text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def write_source_notebook(assignment: str, source_dir: Path = SOURCE_DIR) -> Path:
    """Write solutions/<a>/<a>.ipynb from its .md; return its path."""
    path = source_dir / assignment / f"{assignment}.ipynb"
    path.write_text(notebook_text(read_source(assignment, source_dir)), encoding="utf-8")
    return path


def _nbgrader(args: list[str], cwd: Path, db_url: str | None = None) -> None:
    env = dict(os.environ)
    if db_url:  # read by nbgrader_config.py; in the environment, not on a command line
        env["DUSTCOURSE_DB_URL"] = db_url
    # nbgrader runs `alembic` (the gradebook's migrations) from PATH: use the venv's.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ExerciseError(
            f"`nbgrader {' '.join(args)}` failed (exit {result.returncode}):\n"
            + (result.stdout + result.stderr)[-4000:]
        )


def generate(
    names: list[str] | None = None,
    *,
    release_dir: Path = RELEASE_DIR,
    db_path: Path | None = None,
    db_url: str | None = None,
) -> list[Path]:
    """Write the source notebooks and run ``nbgrader generate_assignment`` for each one.

    ``release_dir`` and ``db_path`` default to the course's own (exercises/ and the
    gradebook of nbgrader_config.py); the sync check points them at a temporary folder.
    ``db_url`` records the assignments in that gradebook instead (e.g. PostgreSQL).
    Returns the generated assignment folders.
    """
    names = names or assignments()
    out = []
    for name in names:
        write_source_notebook(name)
        args = ["generate_assignment", name, "--force", "--log-level=WARN",
                f"--CourseDirectory.release_directory={release_dir}"]
        if db_path is not None:
            args.append(f"--CourseDirectory.db_url=sqlite:///{db_path}")
        _nbgrader(args, cwd=PROJECT_ROOT, db_url=db_url)
        out.append(release_dir / name)
    return out


def _comparable(path: Path) -> str:
    """A notebook's JSON with the volatile parts removed (none expected; defensive)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
    return json.dumps(nb, sort_keys=True, indent=1)


def _tree_differences(expected: Path, actual: Path) -> list[str]:
    problems = []
    exp_files = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()}
    act_files = {p.relative_to(actual) for p in actual.rglob("*") if p.is_file()}
    for rel in sorted(exp_files - act_files):
        problems.append(f"missing: {actual / rel}")
    for rel in sorted(act_files - exp_files):
        problems.append(f"not produced by generation (stale?): {actual / rel}")
    for rel in sorted(exp_files & act_files):
        a, b = expected / rel, actual / rel
        same = (
            _comparable(a) == _comparable(b)
            if rel.suffix == ".ipynb"
            else filecmp.cmp(a, b, shallow=False)
        )
        if not same:
            problems.append(f"differs from a fresh generation: {actual / rel}")
    return problems


def out_of_sync(names: list[str] | None = None) -> list[str]:
    """What differs between the committed files and a fresh generation (empty: in sync).

    Checks both the source .ipynb against its .md and exercises/ against nbgrader's output.
    """
    names = names or assignments()
    problems = []
    for name in names:
        ipynb = SOURCE_DIR / name / f"{name}.ipynb"
        if not ipynb.is_file() or ipynb.read_text(encoding="utf-8") != notebook_text(
            read_source(name)
        ):
            problems.append(f"{ipynb} does not match {name}.md")
    with tempfile.TemporaryDirectory(prefix="dustcourse-sync-") as tmp:
        fresh = Path(tmp) / "exercises"
        # Regenerate from the committed .ipynb when it is out of date too: generate()
        # rewrites it, so restore it afterwards to leave the work tree untouched.
        saved = {n: (SOURCE_DIR / n / f"{n}.ipynb") for n in names}
        before = {n: p.read_bytes() if p.exists() else None for n, p in saved.items()}
        try:
            # one nbgrader run per assignment, side by side, each with its own gradebook
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                list(pool.map(lambda n: generate([n], release_dir=fresh,
                                                 db_path=Path(tmp) / f"{n}.db"), names))
        finally:
            for n, p in saved.items():
                if before[n] is None:
                    p.unlink(missing_ok=True)
                else:
                    p.write_bytes(before[n])
        for name in names:
            problems += _tree_differences(fresh / name, RELEASE_DIR / name)
    return problems
