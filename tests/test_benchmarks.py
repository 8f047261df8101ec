"""The benchmark runs (on a tiny class) and writes its report; its arithmetic is right."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import cluster
import suite
from measure import linear_slope


@pytest.mark.slow
def test_benchmark_runs_on_a_tiny_class(tmp_path):
    out = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--only", "grading", "--runs", "1",
         "--students", "1", "--scale", "", "--no-stock", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = out.read_text()
    assert "cores" in report and "Python" in report  # the machine is described
    assert "| our autograde, wall |" in report
    assert "per submission, ours / bare" in report
    assert "with / without the robustness run" in report


def test_estimate_is_bound_by_the_slower_of_coordinator_and_workers():
    # 2 s of worker time per submission, 0.1 s of coordinator time
    assert cluster.estimate(1000, 10, 2.0, 0.1, 0.0) == pytest.approx(200)  # workers
    assert cluster.estimate(1000, 50, 2.0, 0.1, 0.0) == pytest.approx(100)  # coordinator


def test_slope_and_slowest_tests_parsing():
    slope, intercept = linear_slope([15, 60, 240], [10, 40, 160])
    assert slope == pytest.approx(2 / 3) and intercept == pytest.approx(0, abs=1e-9)
    output = ("==== slowest 10 durations ====\n"
              "12.50s setup    tests/test_a.py::test_x\n3.10s call     tests/test_b.py::test_y\n")
    assert suite.slowest(output) == ["12.5 s setup tests/test_a.py::test_x",
                                     "3.1 s call tests/test_b.py::test_y"]
