"""The grading guard wraps every test cell and leaves no trace in the recorded notebook."""

from __future__ import annotations

import nbformat
from conftest import ROOT

from dustcourse.grading.guard import MARK, add_guard, remove_guard

SOURCE = ROOT / "solutions" / "ps0-warmup" / "ps0-warmup.ipynb"


def test_guard_wraps_each_test_and_is_removed_without_trace():
    original = nbformat.read(SOURCE, as_version=4)
    tests = [c for c in original.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    guarded = nbformat.reads(add_guard(nbformat.writes(original)), as_version=4)
    assert guarded.cells[0].metadata[MARK]
    assert len(guarded.cells) == len(original.cells) + 1 + len(tests)
    for cell in guarded.cells:
        if cell in tests or cell.metadata.get("nbgrader", {}).get("grade_id", "") in {
                t.metadata.nbgrader.grade_id for t in tests}:
            assert cell.source.startswith("_dustcourse_guard_")
    remove_guard(guarded)
    assert [c.source for c in guarded.cells] == [c.source for c in original.cells]


def test_guard_names_differ_between_runs():
    text = nbformat.writes(nbformat.read(SOURCE, as_version=4))
    first = nbformat.reads(add_guard(text), as_version=4).cells[0].source
    second = nbformat.reads(add_guard(text), as_version=4).cells[0].source
    assert first != second


def test_notebook_without_tests_is_left_alone():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    text = nbformat.writes(nb)
    assert add_guard(text) == text
