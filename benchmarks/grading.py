"""Benchmark: our sandboxed parallel autograder against stock serial nbgrader.

    .venv/bin/python benchmarks/grading.py [--students 60] [--jobs N] [--bare 10]

Grades one generated class of ps0-warmup submissions (a mix of perfect, blank and
wrong answers) twice, each in its own copy of the course: with stock
`nbgrader autograde` (serial, unsandboxed) and with `dustcourse.grading.autograde`
(parallel, sandboxed). Also executes a few prepared notebooks with bare nbclient to
measure the cost of one notebook without any grading machinery. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dustcourse.grading.autograde import autograde  # noqa: E402
from dustcourse.submissions import make_submission  # noqa: E402

ASSIGNMENT = "ps0-warmup"
WRONG = {"q2_implied_rate": "implied_rate = 0.14"}


def nbgrader(root: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, check=True,
                   capture_output=True)


def make_course(base: Path, name: str, students: int) -> Path:
    root = base / name
    root.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions", root / "solutions", symlinks=False)
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    release = root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    source = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    kinds = [dict(), dict(solve=False), dict(answers=WRONG)]
    for i in range(students):
        folder = root / "submitted" / f"s{i:03d}" / ASSIGNMENT
        folder.mkdir(parents=True)
        submission = make_submission(release, source, **kinds[i % 3])
        nbformat.write(submission, folder / f"{ASSIGNMENT}.ipynb")
    return root


def bare_seconds(root: Path, count: int) -> list[float]:
    """Execute prepared notebooks with nbclient alone (no sandbox, no grading)."""
    from nbclient import NotebookClient

    times = []
    for folder in sorted((root / "autograded").glob(f"*/{ASSIGNMENT}"))[:count]:
        nb = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
        started = time.monotonic()
        NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
        times.append(time.monotonic() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--bare", type=int, default=10, help="notebooks run with bare nbclient")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dustcourse-bench-") as tmp:
        base = Path(tmp)
        stock_root = make_course(base, "stock", args.students)
        ours_root = make_course(base, "ours", args.students)

        started = time.monotonic()
        nbgrader(stock_root, "autograde", ASSIGNMENT)
        stock = time.monotonic() - started

        started = time.monotonic()
        outcomes = autograde(ours_root, ASSIGNMENT, jobs=args.jobs)
        ours = time.monotonic() - started
        peak_child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        peak_self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert all(o.status == "ok" for o in outcomes), [o for o in outcomes if o.status != "ok"]

        bare = statistics.median(bare_seconds(ours_root, args.bare))

    n = args.students
    per_submission_ours = ours * args.jobs / n  # busy time of one worker per notebook
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.machine()}; {n} submissions of {ASSIGNMENT}; {args.jobs} workers")
    print(f"{'':38}{'seconds':>10}{'subm./min':>12}")
    print(f"{'stock nbgrader autograde (serial)':38}{stock:10.1f}{60 * n / stock:12.1f}")
    print(f"{'dustcourse grade autograde (sandboxed)':38}{ours:10.1f}{60 * n / ours:12.1f}")
    print(f"throughput ratio ours / stock: {stock / ours:.2f}x (target >= 1.8x)")
    print(f"per submission: ours {per_submission_ours:.2f} s of worker time, bare nbclient "
          f"{bare:.2f} s (median of {args.bare}); ratio {per_submission_ours / bare:.2f}x "
          "(target <= 1.5x)")
    print(f"peak memory: coordinator {peak_self_mb:.0f} MB, largest child process "
          f"{peak_child_mb:.0f} MB")


if __name__ == "__main__":
    main()
