"""Benchmarks of the course: book build, grading, Dask executor, test suite.

    make bench                       # everything, each figure the median of 3 runs
    .venv/bin/python benchmarks/run.py --only book,grading --runs 3
    .venv/bin/python benchmarks/run.py --students 6 --scale 3,6 --runs 1 --only grading

Prints each figure as it is measured, then writes the table with a description of the
machine to docs/benchmarks.md (or --out). Comparisons are ratios of runs made in the
same session, so they hold better than the seconds on a busy machine.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import ROOT, machine

PARTS = ("book", "grading", "dask", "suite")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--students", type=int, default=60, help="class size for grading")
    parser.add_argument("--scale", default="15,60,240", help="class sizes for the growth curve")
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    header = machine()
    print(header, flush=True)
    sections, figures = [], None
    if "book" in parts:
        import book

        print("Book build...", flush=True)
        sections.append(book.benchmark(args.runs))
    if "grading" in parts or "dask" in parts:
        import grading

        print("Grading...", flush=True)
        section, figures = grading.benchmark(
            args.runs, args.students, tuple(int(n) for n in args.scale.split(",")),
            stock=not args.no_stock)
        if "grading" in parts:
            sections.append(section)
    if "dask" in parts:
        import cluster

        print("Dask executor...", flush=True)
        sections.append(cluster.benchmark(figures, args.runs))
    if "suite" in parts:
        import suite

        print("Test suite...", flush=True)
        sections.append(suite.benchmark(args.runs))

    report = (f"# Benchmarks\n\nMeasured by `make bench` (`benchmarks/run.py --runs {args.runs}"
              f" --only {','.join(parts)}`) on {started.isoformat()}; each figure is the "
              f"median of {args.runs} run(s), with the range and count in brackets.\n\n"
              f"{header}\n\n" + "\n".join(s.markdown() for s in sections))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
