"""Per-student HTML feedback that never shows hidden tests.

Stock ``nbgrader generate_feedback`` renders the autograded notebook as it is: the
test cells carry the hidden tests' source, and a failed check's traceback quotes the
line that failed, expected values included. Here each test cell is first put back to
what the student saw (its public checks only, from the released exercise) and each
error is reduced to its type and message; then nbgrader renders the feedback as usual
(scores and comments from the gradebook, including hand grading).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from .autograde import _coursedir, load_config


def public_sources(release_notebook: Path) -> dict[str, str]:
    """grade_id -> source of every graded cell as released to students."""
    nb = nbformat.read(release_notebook, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def without_hidden_tests(nb, public: dict[str, str]):
    """The autograded notebook with test cells as released and errors reduced to messages."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        cell.source = public.get(meta.get("grade_id"), "# (checks hidden)")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output.traceback = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
    return nb


def generate_feedback(root: Path, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for graded students."""
    from nbgrader.apps import GenerateFeedbackApp

    root = Path(root).resolve()
    config = load_config(root)
    coursedir = _coursedir(config)
    autograded = root / coursedir.autograded_directory
    release = root / coursedir.release_directory / assignment
    public = {p.stem: public_sources(p) for p in release.glob("*.ipynb")}
    names = students or sorted(
        p.name for p in autograded.glob("*") if (p / assignment).is_dir()
    )
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="dustcourse-feedback-") as tmp:
        for student in names:
            source = autograded / student / assignment
            target = Path(tmp) / student / assignment
            shutil.copytree(source, target)
            for path in target.glob("*.ipynb"):
                nb = nbformat.read(path, as_version=4)
                nbformat.write(without_hidden_tests(nb, public.get(path.stem, {})), path)
        config.CourseDirectory.autograded_directory = tmp
        config.CourseDirectory.assignment_id = assignment
        for student in names:
            config.CourseDirectory.student_id = student
            app = GenerateFeedbackApp(config=config)
            app.initialize([])
            app.coursedir.autograded_directory = tmp
            app.force = True
            app.start()
            folder = root / coursedir.feedback_directory / student / assignment
            written += sorted(folder.glob("*.html"))
    return written
