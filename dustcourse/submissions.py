"""Make student submissions from an assignment: the perfect one and controlled mistakes.

The tests (and later the grading benchmarks and reports) need realistic submissions:
the released notebook as a student would hand it in, with each answer cell either
left blank, filled with the instructor's solution, or replaced by a given wrong answer.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _is_answer_cell(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def solution_code(source: str) -> str:
    """A solution cell's source as the student would write it: the markers removed."""
    return "\n".join(
        line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS
    )


def answer_cells(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the instructor's answer, for every answer (solution) cell."""
    return {
        _grade_id(cell): solution_code(cell.source)
        for cell in source_nb.cells
        if _is_answer_cell(cell)
    }


def make_submission(
    release_path: Path,
    source_path: Path,
    answers: dict[str, str] | None = None,
    *,
    solve: bool = True,
) -> nbformat.NotebookNode:
    """The released notebook with its answer cells filled in.

    Each answer cell gets ``answers[grade_id]`` if given; otherwise the instructor's
    solution when ``solve`` is true, or stays as released (blank) when it is false.
    Unknown grade ids in ``answers`` raise ``KeyError`` (a typo would test nothing).
    """
    release = nbformat.read(release_path, as_version=4)
    solutions = answer_cells(nbformat.read(source_path, as_version=4))
    answers = dict(answers or {})
    unknown = set(answers) - set(solutions)
    if unknown:
        raise KeyError(f"no answer cells with grade ids {sorted(unknown)}")
    for cell in release.cells:
        grade_id = _grade_id(cell)
        if grade_id in answers:
            cell.source = answers[grade_id]
        elif solve and grade_id in solutions:
            cell.source = solutions[grade_id]
    return release
