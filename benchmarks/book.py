"""Book build benchmark: cold build, no-change rebuild, one-chapter rebuild, peak memory.

Runs in a copy of the committed project (``git archive HEAD``), so the project's own
``_build`` and execution cache are left alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from measure import BIN, ROOT, Section, median, run_measured, spread

BUILD = [str(BIN / "jupyter-book"), "build", ".", "-n", "-W", "--keep-going"]
CHAPTER = Path("book/rural-migration.md")


def _copy_project(target: Path) -> None:
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def executed(output: str) -> int:
    """How many notebooks the build executed (myst-nb logs each one)."""
    return len(re.findall(r"Executing notebook using", output))


def _touch_code(chapter: Path, n: int) -> None:
    """Change one code cell of the chapter, so its cached outputs no longer match."""
    text = chapter.read_text()
    marker = "```{code-cell} ipython3\n:tags: [remove-cell]\n"
    assert marker in text, chapter
    text = re.sub(r"\n# benchmark edit \d+\n", "\n", text)
    chapter.write_text(text.replace(marker, marker + f"\n# benchmark edit {n}\n", 1))


def benchmark(runs: int = 3) -> Section:
    section = Section("Book build")
    cold, again, one, peaks, counts = [], [], [], [], {"cold": [], "none": [], "one": []}
    with tempfile.TemporaryDirectory(prefix="dustcourse-bench-book-") as tmp:
        project = Path(tmp)
        _copy_project(project)
        chapters = len(list((project / "book").glob("*.md")))
        for n in range(runs):
            shutil.rmtree(project / "_build", ignore_errors=True)  # build and cache
            run = run_measured(BUILD, project)
            cold.append(run.seconds)
            peaks.append(run.peak_mb)
            counts["cold"].append(executed(run.output))
            run = run_measured(BUILD, project)
            again.append(run.seconds)
            counts["none"].append(executed(run.output))
            _touch_code(project / CHAPTER, n)
            run = run_measured(BUILD, project)
            one.append(run.seconds)
            counts["one"].append(executed(run.output))
    section.add("cold build (no _build, no execution cache)", spread(cold), "< 90 s on 2 cores")
    section.add("rebuild, nothing changed", spread(again), "< 10 s")
    section.add(f"rebuild after changing one code cell of {CHAPTER}", spread(one),
                "executes only that chapter")
    section.add("notebooks executed: cold / no change / one chapter",
                " / ".join(str(max(counts[k])) for k in ("cold", "none", "one")),
                f"{chapters} pages in book/; one-chapter rebuild must execute 1")
    section.add("peak memory of the build (largest process)", f"{median(peaks):.0f} MB")
    return section
