"""The course's Sphinx extension: exercise downloads and fixes to Jupyter Book's defaults.

Loaded from ``_config.yml`` (``sphinx.extra_extensions: [dustcourse.sphinx_ext]``). It

* zips every ``exercises/<assignment>/`` folder (the notebook and its data) at build
  time and adds the role ``{exercise-download}`` that links such a zip from a chapter:
  ``{exercise-download}`ps0-warmup``` (or with a title: ``{exercise-download}`the
  warm-up <ps0-warmup>```). An unknown assignment is a build warning, so an error with
  ``-W``. The zips are byte-for-byte reproducible and rewritten only when they change;
* removes the inline scripts that Sphinx 7 lists twice when an extension adds one
  (``sphinx-thebe`` declares ``const THEBE_JS_URL``: twice is a console error);
* gives the citation list of the references page list items (docutils writes
  ``role="doc-biblioentry"``, a deprecated role that screen readers and axe-core do not
  accept inside ``role="list"``);
* serves MathJax from the book itself: ``mathjax_path`` in ``_config.yml`` points at
  ``_static/mathjax/``, filled here from the PyPI package ``sphinx-mathjax-offline``
  (MathJax 3.2.2, the version Sphinx 7 loads from a CDN by default);
* copies the favicon to the site root as ``favicon.ico``, the address browsers ask for
  on pages that do not name one (the root ``index.html`` redirect page).
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

logger = logging.getLogger(__name__)

IGNORED_PARTS = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
ZIP_DATE = (2022, 7, 8, 0, 0, 0)  # fixed timestamp: the same files give the same zip
# MathJax files copied into the book: the one combined component it loads, and what
# that component fetches on demand (TeX extensions, fonts, accessibility, menu).
MATHJAX_COMPONENT = "tex-chtml.js"
MATHJAX_FOLDERS = ("input/tex/extensions", "output/chtml/fonts/woff-v2", "a11y", "ui", "sre")


def exercises_dir(app: Sphinx) -> Path:
    return Path(app.srcdir) / app.config.dustcourse_exercises_dir


def zip_dir(doctreedir: str | Path) -> Path:
    """Where the zips are written before Sphinx copies them to _downloads/."""
    return Path(doctreedir) / "dustcourse-exercises"


def assignment_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and not IGNORED_PARTS.intersection(p.relative_to(folder).parts)
    )


def exercise_zip(folder: Path) -> bytes:
    """The assignment folder as a zip whose single top-level folder is its name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in assignment_files(folder):
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def write_exercise_zips(app: Sphinx) -> None:
    out = zip_dir(app.doctreedir)
    out.mkdir(parents=True, exist_ok=True)
    folders = sorted(p for p in exercises_dir(app).glob("*") if p.is_dir())
    for folder in folders:
        target = out / f"{folder.name}.zip"
        data = exercise_zip(folder)
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)  # unchanged zips keep their mtime: no needless rebuild


class ExerciseDownloadRole(SphinxRole):
    """``{exercise-download}`ASSIGNMENT``` -> a download link to ASSIGNMENT.zip."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        title, _, target = self.text.partition("<")
        assignment = (target.rstrip(">") if target else title).strip()
        title = title.strip() if target else f"{assignment}.zip"
        zips = zip_dir(self.env.doctreedir)
        path = zips / f"{assignment}.zip"
        if not path.is_file():
            known = ", ".join(p.stem for p in sorted(zips.glob("*.zip")))
            logger.warning(
                "no exercise %r in %s/ (known: %s)",
                assignment, self.config.dustcourse_exercises_dir, known or "none",
                location=self.get_location(),
            )
            return [nodes.literal(self.rawtext, title)], []
        # A leading "/" makes Sphinx read the path relative to the source folder.
        reftarget = "/" + Path(os.path.relpath(path, self.env.srcdir)).as_posix()
        node = addnodes.download_reference(
            self.rawtext, "", reftarget=reftarget, refdoc=self.env.docname,
            refexplicit=True, refdomain="", reftype="download",
            classes=["exercise-download"],
        )
        node += nodes.literal(title, title, classes=["xref", "download"])
        return [node], []


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop scripts listed twice (Sphinx 7 adds inline scripts once as None, once as '')."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (
            getattr(script, "filename", script) or "",
            getattr(script, "priority", 500),
            tuple(sorted(attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def fix_citation_roles(app: Sphinx, pagename: str, templatename: str, context: dict,
                       doctree) -> None:
    body = context.get("body")
    if body and 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def mathjax_source() -> Path:
    try:
        dist = distribution("sphinx-mathjax-offline")
    except PackageNotFoundError as exc:  # pragma: no cover - pinned in requirements.lock
        raise RuntimeError("sphinx-mathjax-offline is missing: run `make book`") from exc
    return Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    if app.config.mathjax_path.startswith("mathjax/"):
        source, target = mathjax_source(), outdir / "_static" / "mathjax"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / MATHJAX_COMPONENT, target / MATHJAX_COMPONENT)
        for folder in MATHJAX_FOLDERS:
            shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)
    favicon = app.config.html_favicon
    if favicon and favicon.endswith(".ico") and "://" not in favicon:
        shutil.copy2(Path(app.confdir) / favicon, outdir / "favicon.ico")


def setup(app: Sphinx) -> dict:
    app.add_config_value("dustcourse_exercises_dir", "exercises", "env")
    app.connect("builder-inited", write_exercise_zips)
    app.add_role("exercise-download", ExerciseDownloadRole())
    # Late priority: after the theme and the extensions have added their scripts.
    app.connect("html-page-context", dedupe_scripts, priority=900)
    app.connect("html-page-context", fix_citation_roles)
    app.connect("build-finished", copy_assets)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
