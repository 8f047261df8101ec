"""Promises of the project layout: two set-up commands, no reads of the shared folder, CLI help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dustcourse.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_readme_gives_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", setup, flags=re.S)
    assert len(blocks) == 1
    commands = [line for line in blocks[0].splitlines() if line.strip()]
    assert commands == ["make book", "make test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    assert "set -euo pipefail" in ci


def test_python_dependencies_are_pinned():
    lock = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [line for line in lock if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[^=\s]+", p) for p in pins), pins
    names = {p.split("==")[0].lower() for p in pins}
    assert {"jupyter-book", "nbgrader", "pandas", "matplotlib", "pytest", "jupytext",
            "sphinx-exercise", "frictionless"} <= names
    version = {p.split("==")[0].lower(): p.split("==")[1] for p in pins}
    assert version["jupyter-book"].startswith("1.") and version["nbgrader"].startswith("0.9.")


def tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / f for f in out.stdout.splitlines()]


def test_project_never_reads_the_shared_folder():
    """Data is copied into data/; nothing the book, tests or package run opens the
    shared folder beside the clone."""
    needle = "../" + "shared"  # spelled so that this test does not find itself
    offenders = []
    for path in tracked_files():
        if path.suffix in {".py", ".md", ".yml", ".json", ".cfg", ".toml"} or path.name in {
            "Makefile", "run"
        }:
            if path.name == "README.md" and path.parent == ROOT:
                continue  # tells authors how to run the copy check by hand
            if needle in path.read_text(encoding="utf-8", errors="replace"):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_runtime_grading_files_are_ignored():
    ignored = (ROOT / ".gitignore").read_text()
    entries = ("/submitted/", "/autograded/", "/feedback/", "/gradebook.db", ".venv/", "_build/")
    for entry in entries:
        assert entry in ignored
    tracked = [str(p.relative_to(ROOT)) for p in tracked_files()]
    assert not [t for t in tracked if re.match(r"(submitted|autograded|feedback)/|.*\.db$", t)]


@pytest.mark.parametrize(
    "args", [[], ["exercises"], ["exercises", "generate"], ["exercises", "check"],
             ["data"], ["data", "validate"], ["data", "list"], ["grade"],
             ["grade", "import"], ["grade", "autograde"], ["grade", "feedback"],
             ["grade", "export"], ["hub"]]
)
def test_every_command_has_help(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_data_validate_command_passes():
    result = CliRunner().invoke(main, ["data", "validate"])
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output


def test_cli_is_installed_as_a_command():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dustcourse"), "--version"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0 and "dustcourse" in result.stdout


def test_make_book_drops_the_execution_cache_when_data_change(tmp_path):
    """The notebook cache keys on notebook text only; `make book` must re-execute
    the chapters when a data file (or the package) is newer than the last build."""
    import os
    import shutil
    import time

    for name in ("Makefile", "requirements.lock", "pyproject.toml", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copytree(ROOT / "data", tmp_path / "data")
    shutil.copytree(ROOT / "dustcourse", tmp_path / "dustcourse")
    (tmp_path / ".venv").mkdir()
    (tmp_path / "_build").mkdir()
    past = time.time() - 3600
    for path in [*tmp_path.rglob("*")]:
        os.utime(path, (past, past))
    (tmp_path / ".venv" / ".installed").touch()
    (tmp_path / "_build" / ".cache-inputs").touch()

    def dry_run() -> str:
        return subprocess.run(["make", "-n", "book"], cwd=tmp_path, capture_output=True,
                              text=True, check=True).stdout

    assert "jupyter_cache" not in dry_run()
    (tmp_path / "data" / "article_figures.csv").touch()
    assert "rm -rf _build/.jupyter_cache" in dry_run()
