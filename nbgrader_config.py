"""nbgrader configuration of the course (instructor side).

Run nbgrader from the project root. Source assignments (solutions and every test)
live in solutions/<assignment>/, the generated student versions in exercises/.
The gradebook and the runtime folders (submitted/, autograded/, feedback/) are
created next to this file and are gitignored.
"""

import os

from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = ROOT  # course root = this folder, wherever nbgrader is started
c.CourseDirectory.course_id = "return-to-dust"
c.CourseDirectory.source_directory = "solutions"  # instructor versions with solutions and tests
c.CourseDirectory.release_directory = "exercises"  # generated student versions (committed)
# The gradebook: SQLite in gradebook.db (gitignored) unless DUSTCOURSE_DB_URL names
# another database, e.g. postgresql://grader:secret@db.example.edu/return_to_dust for a
# gradebook shared by several graders (docs/grading.md, "A gradebook on PostgreSQL").
c.CourseDirectory.db_url = (os.environ.get("DUSTCOURSE_DB_URL")
                            or f"sqlite:///{os.path.join(ROOT, 'gradebook.db')}")
# Files not copied from solutions/ into a release: jupytext sources (*.md hold the
# solutions in plain text) and editor debris.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.md"]

c.ClearSolutions.code_stub = {"python": "# your code here\nraise NotImplementedError"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

c.Execute.timeout = 60  # seconds per cell: a student's endless loop fails its cell, not the run
c.Execute.interrupt_on_timeout = True
# nbgrader's Execute with kernels on Unix sockets (dustcourse.grading.socket_kernels): on
# TCP, kernels of autograde runs started side by side could race for a port and a
# submission would fail to grade ("ZMQError: Address already in use")
c.Autograde.autograde_preprocessors = [
    "dustcourse.grading.socket_kernels.Execute" if p is Execute else p
    for p in Autograde.autograde_preprocessors.default()]

# A student who deletes a graded or test cell gets it back (and scores it) instead of
# breaking the autograder.
c.OverwriteCells.add_missing_cells = True
c.Autograde.create_student = True  # students appear in the gradebook on first submission

# Feedback (formgrader's Generate Feedback and Release Feedback buttons, and
# `nbgrader generate_feedback` / `release_feedback`) is the course's own, as written by
# `dustcourse grade feedback`: test cells as released (no hidden tests), student
# outputs and Markdown sanitised, no script and no network request in the page.
# Release refuses any feedback page not written that way (e.g. stock nbgrader's).
c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades"]
c.GenerateFeedback.exporter_class = "dustcourse.grading.feedback.FeedbackExporter"
c.ExchangeFactory.release_feedback = "dustcourse.grading.feedback.SafeReleaseFeedback"
