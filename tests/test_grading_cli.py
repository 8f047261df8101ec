"""The instructor walk-through of docs/grading.md, through the `dustcourse grade` CLI:
import an LMS zip, autograde, feedback, export."""

from __future__ import annotations

import csv
import io
import zipfile

import nbformat
from click.testing import CliRunner
from conftest import ROOT, Course

from dustcourse.cli import main
from dustcourse.submissions import make_submission

A = "ps0-warmup"


def test_import_autograde_feedback_export(tmp_path):
    root = ROOT / "_build" / "test-cli-course"
    course = Course.fresh(root)
    release, source = course.generate(A)

    download = tmp_path / "canvas.zip"
    with zipfile.ZipFile(download, "w") as archive:
        for name, answers, solve in [
            ("smithjohn_101_1", None, True),
            ("leeann_202_2", None, False),
            ("wangfang_303_3", {"q2_implied_rate": "implied_rate = 0.14"}, True),
        ]:
            buffer = io.StringIO()
            nbformat.write(make_submission(release, source, answers, solve=solve), buffer)
            archive.writestr(f"{name}_{A}.ipynb", buffer.getvalue())
        archive.writestr("../escape.ipynb", "{}")

    runner = CliRunner()
    result = runner.invoke(main, ["grade", "import", A, str(download), "--root", str(root),
                                  "--allow-rejects"])
    assert result.exit_code == 0, result.output
    assert "placed 3 file(s) for 3 student(s)" in result.output
    assert "NOT PLACED ../escape.ipynb" in result.output

    result = runner.invoke(main, ["grade", "autograde", A, "--root", str(root), "-j", "2"])
    assert result.exit_code == 0, result.output
    assert "3 ok" in result.output
    assert "7 / 9" in result.output and "0 / 9" in result.output and "5 / 9" in result.output

    result = runner.invoke(main, ["grade", "feedback", A, "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert (root / "feedback" / "303" / A / f"{A}.html").is_file()

    result = runner.invoke(main, ["grade", "export", A, "--root", str(root),
                                  "--to", str(tmp_path / "exports")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "exports" / f"{A}-totals.csv").open() as handle:
        scores = {row["student"]: row["score"] for row in csv.DictReader(handle)}
    assert scores == {"101": "7", "202": "0", "303": "5"}

    # a second run grades nothing again
    result = runner.invoke(main, ["grade", "autograde", A, "--root", str(root)])
    assert result.exit_code == 0 and "3 skipped" in result.output, result.output


def test_autograde_before_generate_says_what_to_run_first(tmp_path):
    """No gradebook yet, or one without this assignment: a message, not a traceback."""
    root = tmp_path / "course"
    root.mkdir()
    course = Course(root)
    folder = root / "submitted" / "alice" / A
    folder.mkdir(parents=True)
    (folder / f"{A}.ipynb").write_bytes((ROOT / "exercises" / A / f"{A}.ipynb").read_bytes())
    runner = CliRunner()
    for _ in ("no gradebook", "a gradebook without this assignment"):
        result = runner.invoke(main, ["grade", "autograde", A, "--root", str(root),
                                      "--no-sandbox", "-j", "1"])
        assert result.exit_code == 1, result.output
        assert "run `dustcourse exercises generate` first" in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        course.generate("ps1-articles-as-data")  # the gradebook now exists, without ps0
