"""The assignments: sources well formed, student versions in sync, points consistent."""

from __future__ import annotations

import re

import nbformat
import pytest

from dustcourse import exercises
from dustcourse.exercises import RELEASE_DIR, SOURCE_DIR

ASSIGNMENTS = exercises.assignments()


def nbgrader_cells(nb):
    return [(c, c.metadata["nbgrader"]) for c in nb.cells if "nbgrader" in c.metadata]


def test_there_is_a_warmup_assignment():
    assert "ps0-warmup" in ASSIGNMENTS


@pytest.mark.slow
def test_committed_exercises_match_a_fresh_generation():
    """exercises/ and the source .ipynb are exactly what `dustcourse exercises generate` writes."""
    problems = exercises.out_of_sync()
    assert not problems, "\n".join(problems) + "\nRun `dustcourse exercises generate`."


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_grade_ids_are_descriptive_and_unique(name):
    nb = exercises.read_source(name)
    ids = [meta["grade_id"] for _, meta in nbgrader_cells(nb)]
    assert len(ids) == len(set(ids))
    for cell, meta in nbgrader_cells(nb):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", meta["grade_id"]), meta["grade_id"]
        assert not meta["grade_id"].startswith("cell-")
        if meta.get("grade") and cell.cell_type == "code":
            assert meta["grade_id"].endswith("_tests"), meta["grade_id"]
            first = cell.source.lstrip().splitlines()[0]
            assert first.startswith('"""'), f"{meta['grade_id']}: open with a docstring"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_test_cell_has_public_and_hidden_checks(name):
    nb = exercises.read_source(name)
    for cell, meta in nbgrader_cells(nb):
        if meta.get("grade") and cell.cell_type == "code":
            public, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
            assert "assert" in public, f"{meta['grade_id']}: no public check"
            assert "assert" in hidden, f"{meta['grade_id']}: no hidden check"
            assert "### END HIDDEN TESTS" in hidden


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_points_stated_in_the_text_match_the_metadata(name):
    """The total at the top and each question's points equal the metadata's points."""
    nb = exercises.read_source(name)
    points = {meta["grade_id"]: meta.get("points", 0) for _, meta in nbgrader_cells(nb)}
    header = nb.cells[0].source
    total = int(re.search(r"worth \*\*(\d+) points\*\*", header).group(1))
    assert total == sum(points.values())

    manual = sum(
        meta["points"] for c, meta in nbgrader_cells(nb)
        if meta.get("grade") and c.cell_type == "markdown"
    )
    stated_auto = re.search(r"(\d+) points for the autograded", header)
    stated_manual = re.search(r"(\d+) points for the reflection", header)
    assert int(stated_auto.group(1)) == total - manual
    assert int(stated_manual.group(1)) == manual

    for cell in nb.cells:
        heading = re.match(r"## Question (\d+) .*\((\d+) points?", cell.source)
        if heading:
            number, stated = heading.groups()
            in_metadata = sum(v for k, v in points.items() if k.startswith(f"q{number}_"))
            assert int(stated) == in_metadata, f"question {number}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_version_has_no_solutions_or_hidden_tests(name):
    release = nbformat.read(RELEASE_DIR / name / f"{name}.ipynb", as_version=4)
    text = "\n".join(c.source for c in release.cells)
    for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "Rubric for graders", "Model answer"):
        assert marker not in text
    source = exercises.read_source(name)
    answers = {meta["grade_id"] for _, meta in nbgrader_cells(source) if meta.get("solution")}
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in answers and cell.cell_type == "code":
            assert "raise NotImplementedError" in cell.source


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_version_ships_its_data(name):
    for path in (SOURCE_DIR / name).rglob("*.csv"):
        shipped = RELEASE_DIR / name / path.relative_to(SOURCE_DIR / name)
        assert shipped.is_file() and not shipped.is_symlink()
        assert shipped.read_bytes() == path.read_bytes()


@pytest.mark.slow
def test_sync_check_catches_a_hand_edited_exercise(tmp_path, monkeypatch):
    """Editing a student notebook by hand (instead of regenerating) is reported."""
    import shutil

    copy = tmp_path / "exercises"
    shutil.copytree(RELEASE_DIR, copy)
    path = copy / "ps0-warmup" / "ps0-warmup.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\nEdited by hand."
    nbformat.write(nb, path)
    (copy / "ps0-warmup" / "stray.txt").write_text("left over")
    monkeypatch.setattr(exercises, "RELEASE_DIR", copy)
    problems = exercises.out_of_sync(["ps0-warmup"])
    assert any("differs from a fresh generation" in p and p.endswith("ps0-warmup.ipynb")
               for p in problems)
    assert any("stray.txt" in p for p in problems)
