"""Similarity flags on code snippets (copydetect), without nbgrader."""

from __future__ import annotations

import nbformat

from dustcourse.grading.similarity import similar_pairs, student_code

STARTER = (
    "M2_PER_MU = 10_000 / 15\n"
    "# YOUR CODE HERE\n"
    "raise NotImplementedError()\n"
    "land_m2, error_factor\n"
)
ORIGINAL = (
    'by_id = figures.set_index("id")\n'
    'land_m2 = float(by_id.loc["nc_land_rented_mu", "value"]) * M2_PER_MU\n'
    'printed_m2 = float(by_id.loc["nc_land_rented_km2", "value"]) * 1_000_000\n'
    "error_factor = printed_m2 / land_m2\n"
)
RENAMED = (  # the same code, names and comments changed
    "# area check\n"
    'tbl = figures.set_index("id")\n'
    'land_m2 = float(tbl.loc["nc_land_rented_mu", "value"]) * M2_PER_MU\n'
    'big = float(tbl.loc["nc_land_rented_km2", "value"]) * 1_000_000  # printed\n'
    "error_factor = big / land_m2\n"
)
OWN_WAY = (
    "for row in figures.itertuples():\n"
    '    if row.id == "nc_land_rented_mu":\n'
    "        land_m2 = float(row.value) * M2_PER_MU\n"
    '    elif row.id == "nc_land_rented_km2":\n'
    "        km2_printed = float(row.value)\n"
    "error_factor = km2_printed * 1_000_000 / land_m2\n"
)


def test_renamed_copy_is_flagged_and_independent_work_is_not():
    codes = {"a": STARTER + ORIGINAL, "b": STARTER + RENAMED, "c": STARTER + OWN_WAY}
    flagged, pairs = similar_pairs(codes, STARTER, threshold=0.7)
    assert [(p.first, p.second) for p in flagged] == [("a", "b")]
    assert flagged[0].similarity > 0.9
    assert "set_index" in flagged[0].excerpt_first
    assert all(p.similarity < 0.7 for p in pairs if p.first != "a" or p.second != "b")


def test_starter_code_alone_matches_nothing():
    codes = {"blank1": STARTER, "blank2": STARTER, "c": STARTER + OWN_WAY}
    flagged, pairs = similar_pairs(codes, STARTER)
    assert flagged == [] and pairs == []
    # without the boilerplate, two blank notebooks would look identical
    flagged, _ = similar_pairs(codes, "")
    assert [(p.first, p.second) for p in flagged] == [("blank1", "blank2")]


def test_student_code_skips_locked_and_test_cells():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import pandas", metadata={"nbgrader": {"locked": True}}),
        nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"solution": True}}),
        nbformat.v4.new_code_cell("assert x", metadata={"nbgrader": {"grade": True}}),
        nbformat.v4.new_markdown_cell("text"),
        nbformat.v4.new_code_cell("y = 2"),  # a cell the student added
    ]
    assert student_code(nb) == "x = 1\ny = 2\n"
