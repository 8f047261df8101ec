"""The built book (_build/html, made by `make book` before the tests run)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from dustcourse import data

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    if not (HTML / "index.html").is_file():
        pytest.fail("the book is not built: run `make book` (make test does it first)")
    return {
        str(p.relative_to(HTML)): p.read_text(encoding="utf-8")
        for p in HTML.rglob("*.html")
        if "_static" not in p.parts
    }


def text_of(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def chapter_text(pages: dict[str, str], page: str) -> str:
    """The visible text of a built chapter, with glued values' padding removed:
    glued values arrive with spaces around them ("( 0.3% )" becomes "(0.3%)")."""
    assert page in pages, f"{page} is not built: is it in _toc.yml?"
    text = re.sub(r"\s+([),.;:])", r"\1", text_of(pages[page]))
    return re.sub(r"([(])\s+", r"\1", text)


def assert_chapter_shape(page: str) -> None:
    """What course-design.md asks of every chapter: at least three figures, each with
    alt text that describes the chart, and "Check your understanding" exercises with
    at least two solutions."""
    images = re.findall(r"<img\b[^>]*>", page)
    assert len(images) >= 3
    for img in images:
        alt = re.search(r'\salt="([^"]*)"', img).group(1)
        assert len(alt) > 80, f"alt text too short to describe a chart: {alt!r}"
    assert "Check your understanding" in text_of(page)
    assert page.count('class="admonition solution') + page.count("solution dropdown") >= 2


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part.get("chapters", [])]
    return files


def test_every_toc_page_is_built(pages):
    for file in toc_files():
        assert f"{file}.html" in pages, file


def test_no_execution_reports_or_errors(pages):
    assert not (HTML / "reports").exists(), "notebook execution failed: see _build/html/reports"
    for name, page in pages.items():
        assert "Traceback (most recent call last)" not in page, name
        assert not re.search(r"np\.(float|int)\d*\(", page), f"{name}: numpy scalar in text"


def test_glued_numbers_in_the_data_chapter_come_from_the_data(pages):
    text = text_of(pages["book/data.html"])
    figures = data.load("article_figures")
    counts = figures["article"].value_counts()
    assert (
        f"holds {len(figures)} figures: {counts['newschina']} printed by NewsChina "
        f"and {counts['vice']} by VICE" in text
    )
    corrections = data.load("corrections")
    assert f"There are {len(corrections)} such rows" in text
    assert f"{figures['pair'].nunique()} pairs" in text


def test_every_image_has_alt_text(pages):
    for name, page in pages.items():
        for img in re.findall(r"<img\b[^>]*>", page):
            alt = re.search(r'\salt="([^"]*)"', img)
            assert alt and alt.group(1).strip(), f"{name}: image without alt text: {img[:120]}"


def test_internal_links_and_images_resolve(pages):
    for name, page in pages.items():
        base = (HTML / name).parent
        for target in re.findall(r'(?:href|src)="([^"]+)"', page):
            url = urlparse(target)
            if url.scheme or target.startswith(("#", "mailto:", "//")):
                continue
            path = (base / unquote(url.path)).resolve()
            assert path.exists(), f"{name}: broken link {target}"


def test_references_page_cites_both_articles(pages):
    text = text_of(pages["book/references.html"])
    assert "This Sleeper Hit Offers a Glimpse of a Forgotten Rural China" in text
    assert "NewsChina" in text
    assert "Federal Reserve" in text and "National Bureau of Statistics" in text


def test_status_page_lists_the_executed_chapters(pages):
    page = pages["book/status.html"]
    assert "book/data" in page
    assert "jupyter-book" in text_of(page)


def test_warmup_exercise_can_be_downloaded_from_the_book(pages):
    downloads = {p.name for p in (HTML / "_downloads").rglob("*") if p.is_file()}
    assert {"ps0-warmup.ipynb", "article_figures.csv"} <= downloads
    assert "ps0-warmup.ipynb" in pages["book/data.html"]


def copy_book_sources(dest: Path) -> None:
    """A copy of the book that builds only the data chapter (and the bibliography):
    enough to see data changes reach the pages, in a fraction of the full build."""
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, dest / name)
    (dest / "_toc.yml").write_text(
        "format: jb-book\nroot: book/data\nchapters:\n  - file: book/references\n")
    for folder in ("book", "data", "exercises"):
        shutil.copytree(ROOT / folder, dest / folder)


def build(src: Path, data_dir: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(src),
           "DUSTCOURSE_DATA": str(data_dir)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(src),
         "-n", "-W", "--keep-going"],
        capture_output=True, text=True, env=env, timeout=600,
    )


@pytest.mark.slow
def test_changed_data_changes_the_book(tmp_path):
    """Drop a VICE figure from a copy of the data: the rebuilt book says so."""
    copy_book_sources(tmp_path)
    path = tmp_path / "data" / "article_figures.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    corrected = set(data.load("corrections")["figure_id"])
    drop = next(i for i, line in enumerate(lines)
                if line.startswith("vice_") and line.split(",")[0] not in corrected)
    del lines[drop]
    path.write_text("".join(lines), encoding="utf-8")
    result = build(tmp_path, tmp_path / "data")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = text_of((tmp_path / "_build/html/book/data.html").read_text(encoding="utf-8"))
    n = len(lines) - 1
    counts = data.load("article_figures")["article"].value_counts()
    assert f"holds {n} figures" in text
    assert f"and {counts['vice'] - 1} by VICE" in text


@pytest.mark.slow
def test_data_breaking_its_schema_fails_the_build(tmp_path):
    copy_book_sources(tmp_path)
    path = tmp_path / "data" / "corrections.csv"
    text = path.read_text(encoding="utf-8").replace(",error,", ",mistake,", 1)
    path.write_text(text, encoding="utf-8")
    result = build(tmp_path, tmp_path / "data")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "SchemaViolationError" in output
