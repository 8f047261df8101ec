"""Per-student HTML feedback that never shows hidden tests and never runs student code.

Stock ``nbgrader generate_feedback`` renders the autograded notebook as it is: the
test cells carry the hidden tests' source, a failed check's traceback quotes the line
that failed (expected values included), and the student's HTML and JavaScript outputs
are copied raw into a page that also loads MathJax from a CDN. Here:

* each test cell is put back to what the student saw (its public checks only, from the
  released exercise; hidden-test blocks are cut out in any case), its outputs dropped
  and its error reduced to type and message (the check's formative message);
* the page is built by :class:`FeedbackExporter` from a Jinja2 template with
  autoescaping: text is text, the student's HTML outputs and Markdown go through the
  sanitiser (:mod:`.sanitize`), images become ``data:`` URIs, JavaScript outputs are
  left out with a note, math stays as written;
* every page carries a Content-Security-Policy (:mod:`.pages`) that allows no script
  and no request (images only as ``data:``).

Scores and comments still come from the gradebook (nbgrader's ``GetGrades``, hand
grading included). The course's ``nbgrader_config.py`` makes nbgrader itself use this
exporter, so formgrader's *Generate Feedback* button and ``nbgrader generate_feedback``
write the same pages as ``dustcourse grade feedback``; its *Release Feedback* button
(``nbgrader release_feedback``) releases only pages made this way
(:class:`SafeReleaseFeedback`).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from functools import cache
from importlib import resources as importlib_resources
from pathlib import Path

import nbformat
from markupsafe import Markup, escape
from nbconvert.exporters import Exporter
from nbconvert.preprocessors import Preprocessor
from nbgrader.exchange.default import ExchangeReleaseFeedback
from traitlets import default

from . import sanitize
from .autograde import load_config
from .pages import content_security_policy, render

GENERATOR = "dustcourse grade feedback"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HIDDEN_NOTE = "# (checks hidden)"
JAVASCRIPT_NOTE = ("A JavaScript output was left out: feedback pages run no scripts.")
WIDGET_NOTE = "An interactive widget was left out: feedback pages run no scripts."


# --- hidden tests ------------------------------------------------------------------

def public_sources(release_notebook: Path) -> dict[str, str]:
    """grade_id -> source of every graded cell as released to students."""
    nb = nbformat.read(release_notebook, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def strip_hidden(source: str) -> str:
    """``source`` without its hidden-test blocks (an unclosed block runs to the end)."""
    kept, hidden = [], False
    for line in str(source).splitlines(keepends=True):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "".join(kept)


def is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def without_hidden_tests(nb, public: dict[str, str]):
    """The autograded notebook with test cells as released, their outputs dropped and
    their errors reduced to type and message. Answer cells (the student's own work,
    hand-graded code included) are left as they are."""
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        grade_id = cell.metadata["nbgrader"].get("grade_id")
        cell.source = strip_hidden(public.get(grade_id, cell.source)) or HIDDEN_NOTE
        if cell.cell_type != "code":
            continue
        cell.outputs = [
            nbformat.v4.new_output(
                "error", ename=str(o.get("ename", "Error")), evalue=str(o.get("evalue", "")),
                traceback=[f"{o.get('ename', 'Error')}: {o.get('evalue', '')}"])
            for o in cell.get("outputs", []) if o.get("output_type") == "error"
        ]
    return nb


def _coursedir_of(configurable):
    """The nbgrader CourseDirectory of the converter running ``configurable``."""
    from nbgrader.coursedir import CourseDirectory

    node = configurable
    while node is not None:
        if getattr(node, "coursedir", None) is not None:
            return node.coursedir
        node = getattr(node, "parent", None)
    return CourseDirectory(config=configurable.config)


def release_public(configurable, resources) -> dict[str, str]:
    """grade_id -> released source, for the notebook nbgrader is converting."""
    info = resources.get("nbgrader", {}) if resources else {}
    if not info.get("assignment") or not info.get("notebook"):
        return {}
    coursedir = _coursedir_of(configurable)
    path = (Path(coursedir.root) / coursedir.release_directory / info["assignment"]
            / f"{info['notebook']}.ipynb")
    return public_sources(path) if path.is_file() else {}


class PublicTestCells(Preprocessor):
    """nbconvert preprocessor: :func:`without_hidden_tests` with the released exercise."""

    def preprocess(self, nb, resources):
        return without_hidden_tests(nb, release_public(self, resources)), resources


# --- the page ----------------------------------------------------------------------

@cache
def feedback_css() -> str:
    """The page's one style sheet: the course's rules and Pygments' colours."""
    from pygments.formatters import HtmlFormatter

    own = importlib_resources.files("dustcourse.grading").joinpath(
        "templates", "feedback.css").read_text(encoding="utf-8")
    return own + HtmlFormatter(style="default").get_style_defs(".highlight") + "\n"


def feedback_csp() -> str:
    return content_security_policy(feedback_css())


def page_prefix() -> str:
    """How every feedback page begins: what release checks before releasing a page."""
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{escape(feedback_csp())}">\n'
            f'<meta name="generator" content="{GENERATOR}">\n')


def _highlight(source: str) -> Markup:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return Markup(highlight(str(source), PythonLexer(), HtmlFormatter()))  # Pygments escapes


def _output(output, test_cell: bool) -> dict:
    """One output as the template shows it: text, (sanitised) html, image or note."""
    kind = output.get("output_type")
    if kind == "stream":
        return {"kind": "text", "text": sanitize.plain(output.get("text", "")),
                "stream": output.get("name", "stdout")}
    if kind == "error":
        if test_cell:
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        else:
            text = "\n".join(sanitize.plain(line) for line in output.get("traceback", []))
            text = text or f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return {"kind": "text", "text": text, "stream": "error"}
    data = output.get("data", {}) or {}
    if "application/vnd.jupyter.widget-view+json" in data and "text/plain" not in data:
        return {"kind": "note", "text": WIDGET_NOTE}
    uri = sanitize.image_uri(data)
    if "text/html" in data:
        return {"kind": "html", "html": sanitize.clean_html(sanitize.plain(data["text/html"]))}
    if "image/svg+xml" in data:
        return {"kind": "image", "src": sanitize.svg_uri(sanitize.plain(data["image/svg+xml"])),
                "alt": sanitize.plain(data.get("text/plain", "figure"))}
    if uri:
        return {"kind": "image", "src": uri, "alt": sanitize.plain(data.get("text/plain",
                                                                             "figure"))}
    if "text/markdown" in data:
        return {"kind": "html", "html": sanitize.markdown_html(sanitize.plain(
            data["text/markdown"]))}
    for mime in ("text/latex", "text/plain"):
        if mime in data:
            return {"kind": "text", "text": sanitize.plain(data[mime]), "stream": "result"}
    if "application/json" in data:
        return {"kind": "text", "text": json.dumps(data["application/json"], indent=1),
                "stream": "result"}
    return {"kind": "note", "text": "An output of a kind feedback does not show was left out."}


REPR = re.compile(r"^<IPython\.core\.display\.\w+ object>$")


def _outputs(cell, test_cell: bool) -> list[dict]:
    """The outputs of a code cell as the template shows them. A JavaScript output is
    replaced by a note (what else its bundle holds is shown, bar IPython's repr)."""
    shown = []
    for output in cell.get("outputs", []):
        data = dict(output.get("data", {}) or {})
        if any("javascript" in mime for mime in data):
            shown.append({"kind": "note", "text": JAVASCRIPT_NOTE})
            data = {m: v for m, v in data.items() if "javascript" not in m}
            if REPR.match(sanitize.plain(data.get("text/plain", "")).strip()):
                data.pop("text/plain")
            if not data:
                continue
            output = {**output, "data": data}
        shown.append(_output(output, test_cell))
    return shown


def _number(value) -> str:
    try:
        return str(round(float(value), 2))
    except (TypeError, ValueError):
        return "–"


def _cell_view(cell) -> dict:
    meta = cell.metadata.get("nbgrader", {}) or {}
    graded = bool(meta.get("grade") or meta.get("task"))
    view = {
        "type": cell.cell_type,
        "grade_id": str(meta.get("grade_id", "")),
        "nbgrader": bool(meta.get("solution") or meta.get("grade") or meta.get("task")),
        "label": ("Your answer" if meta.get("solution") else
                  "Task" if meta.get("task") else
                  "Checks" if meta.get("grade") else ""),
        "hidden_note": is_test_cell(cell),
        "graded": graded,
        "score": _number(meta.get("score")) if graded else "",
        "points": _number(meta.get("points")) if graded else "",
        "comment": (sanitize.markdown_html(meta["comment"]) if meta.get("comment") else ""),
        "markdown": "", "code": "", "outputs": [],
    }
    if cell.cell_type == "markdown":
        view["markdown"] = sanitize.markdown_html(cell.source, cell.get("attachments"))
    elif cell.cell_type == "code":
        view["code"] = _highlight(cell.source)
        view["outputs"] = _outputs(cell, is_test_cell(cell))
    else:  # raw cells: as text
        view["type"] = "raw"
        view["text"] = str(cell.source)
    return view


def render_feedback(nb, resources: dict | None = None) -> str:
    """The feedback page of an autograded notebook whose test cells are already public."""
    info = (resources or {}).get("nbgrader", {})
    cells = [_cell_view(cell) for cell in nb.cells]
    return render(
        "feedback.html.j2",
        csp=feedback_csp(), css=Markup(feedback_css()), generator=GENERATOR,
        notebook=str(info.get("notebook", "notebook")),
        score=_number(info.get("score")), max_score=_number(info.get("max_score")),
        late_penalty=float(info.get("late_penalty") or 0),
        late_penalty_text=_number(info.get("late_penalty")),
        cells=cells,
    )


class FeedbackExporter(Exporter):
    """nbconvert exporter of the feedback page, used by nbgrader's GenerateFeedback
    (``c.GenerateFeedback.exporter_class`` in nbgrader_config.py). Whatever
    preprocessors are configured, it puts the test cells back to their public form
    itself before rendering."""

    output_mimetype = "text/html"

    @default("file_extension")
    def _file_extension_default(self):
        return ".html"

    def from_notebook_node(self, nb, resources=None, **kw):
        self._tidy_destination(resources)
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        nb_copy = without_hidden_tests(nb_copy, release_public(self, resources))
        return render_feedback(nb_copy, resources), resources

    def _tidy_destination(self, resources) -> None:
        """nbgrader copies every other file of the autograded submission (the data,
        and whatever the student's code wrote, .html files included) into the feedback
        folder, from where release_feedback would publish any .html as feedback. Keep
        only the pages of the submission's notebooks and nbgrader's two records."""
        converter, info = self.parent, (resources or {}).get("nbgrader", {})
        if not hasattr(converter, "_format_dest") or not info.get("student"):
            return
        dest = Path(converter._format_dest(info["assignment"], info["student"]))
        keep = {"timestamp.txt", "submission_secret.txt",
                *(f"{Path(n).stem}.html" for n in getattr(converter, "notebooks", []))}
        for path in list(dest.iterdir()) if dest.is_dir() else []:
            if path.name in keep and path.is_file() and not path.is_symlink():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


# --- nbgrader release_feedback -----------------------------------------------------

class SafeReleaseFeedback(ExchangeReleaseFeedback):
    """``nbgrader release_feedback`` (formgrader's *Release Feedback*) that releases only
    pages written by :class:`FeedbackExporter`: a page from stock nbgrader (hidden tests,
    student scripts) stops the release before anything is copied."""

    def copy_files(self):
        prefix = page_prefix()
        unsafe = []
        for path in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            with open(path, encoding="utf-8", errors="replace") as handle:
                if handle.read(len(prefix)) != prefix:
                    unsafe.append(path)
        if unsafe:
            self.fail(
                "not releasing feedback: these pages were not written by "
                "`dustcourse grade feedback` (they may show hidden tests or run the "
                f"student's scripts): {', '.join(unsafe)}. Write them again with "
                f"`dustcourse grade feedback {self.coursedir.assignment_id}` (or "
                "formgrader's Generate Feedback with the course's nbgrader_config.py), "
                "then release.")
        super().copy_files()


# --- dustcourse grade feedback -----------------------------------------------------

def feedback_config(config):
    """``config`` with nbgrader's feedback set to this module's (whatever the course's
    nbgrader_config.py says)."""
    config.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades"]
    config.GenerateFeedback.exporter_class = "dustcourse.grading.feedback.FeedbackExporter"
    config.ExchangeFactory.release_feedback = "dustcourse.grading.feedback.SafeReleaseFeedback"
    return config


def generate_feedback(root: Path, assignment: str, students: list[str] | None = None) -> list[Path]:
    """Write feedback/<student>/<assignment>/<notebook>.html for graded students."""
    from nbgrader.apps import GenerateFeedbackApp

    from .autograde import _coursedir

    root = Path(root).resolve()
    config = feedback_config(load_config(root))
    coursedir = _coursedir(config)
    autograded = root / coursedir.autograded_directory
    names = students or sorted(
        p.name for p in autograded.glob("*") if (p / assignment).is_dir()
    )
    config.CourseDirectory.assignment_id = assignment
    written: list[Path] = []
    for student in names:
        config.CourseDirectory.student_id = student
        app = GenerateFeedbackApp(config=config)
        app.initialize([])
        app.update_config(feedback_config(type(config)()))
        app.force = True
        app.start()
        folder = root / coursedir.feedback_directory / student / assignment
        written += sorted(folder.glob("*.html"))
    return written

