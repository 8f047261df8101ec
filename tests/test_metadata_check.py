"""The cells' nbgrader metadata check (dustcourse/grading/metadata.py) is nbgrader's own
check, schema compiled once: every variant of a cell's metadata passes or fails as it
does with nbgrader's MetadataValidator, with the same kind of error."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import CheckCellMetadata as NbgraderCheckCellMetadata

from dustcourse.grading.metadata import CheckCellMetadata, FastMetadataValidator

GOOD = {"grade": True, "grade_id": "q1_test", "locked": True, "points": 2,
        "schema_version": 3, "solution": False, "task": False}

VARIANTS = {
    "good": {},
    "points as text": {"points": "2"},
    "negative points": {"points": -1},
    "no grade id": {"grade_id": None},
    "grade id with spaces": {"grade_id": "q1 test"},
    "unknown key": {"colour": "red"},
    "old schema": {"schema_version": 1},
    "newer schema": {"schema_version": 4},
    "grade is text": {"grade": "yes"},
    "no points on a graded cell": {"points": None},
    "task and grade": {"task": True},
    "solution and locked": {"solution": True},
    "cell type changed": {"cell_type": "markdown"},
}


def _cell(change: dict):
    meta = copy.deepcopy(GOOD)
    for key, value in change.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    cell = nbformat.v4.new_code_cell("assert True")
    cell.metadata["nbgrader"] = meta
    return cell


def _outcome(validator, cell) -> str:
    try:
        validator.validate_cell(copy.deepcopy(cell))
    except Exception as exc:
        return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("change", VARIANTS.values(), ids=VARIANTS.keys())
def test_each_cell_passes_or_fails_as_with_nbgraders_validator(change):
    cell = _cell(change)
    assert _outcome(FastMetadataValidator(), cell) == _outcome(MetadataValidator(), cell)


def test_the_preprocessor_refuses_the_notebooks_nbgrader_refuses():
    for change in VARIANTS.values():
        nb = nbformat.v4.new_notebook(cells=[_cell({}), _cell(change)])
        outcomes = []
        for cls in (NbgraderCheckCellMetadata, CheckCellMetadata):
            try:
                cls()(copy.deepcopy(nb), {})
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1], (change, outcomes)
    failing = [c for c in VARIANTS.values() if _outcome(MetadataValidator(), _cell(c)) != "ok"]
    assert len(failing) >= 5
