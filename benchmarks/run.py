"""Benchmarks of the course: book build, grading, Dask executor, test suite.

    make bench                       # everything, each figure the median of 3 runs
    .venv/bin/python benchmarks/run.py --only book,grading --runs 3
    .venv/bin/python benchmarks/run.py --students 6 --scale 3,6 --runs 1 --only grading
    .venv/bin/python benchmarks/run.py --only robustness --runs 3 --robust-students 12 --keep-others

Prints each figure as it is measured, then writes the table with a description of the
machine to docs/benchmarks.md (or --out). Comparisons are ratios of runs made in the
same session, so they hold better than the seconds on a busy machine.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import ROOT, machine

PARTS = ("book", "grading", "robustness", "dask", "scale", "suite")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--students", type=int, default=60, help="class size for grading")
    parser.add_argument("--robust-students", type=int, default=12,
                        help="class size for the robustness part")
    parser.add_argument("--scale", default="15,60,240",
                        help="class sizes for the growth curve ('' for none)")
    parser.add_argument("--scale-runs", type=int, default=None,
                        help="runs per class size of the growth curve (default: --runs)")
    parser.add_argument("--workers", type=int, default=100,
                        help="simulated workers of the scale part")
    parser.add_argument("--scale-students", type=int, default=None,
                        help="class size of the scale part (default: 4 x --workers)")
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader")
    parser.add_argument("--heavy", type=int, default=None,
                        help="class size of the ps4-box-office comparison (default: 16, "
                             "none when --students is below 16)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the parts of an existing report that this run does not "
                             "measure (each part says when it was measured)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")

    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    header = machine()
    print(header, flush=True)
    sections, figures = {}, None
    failure = None
    try:  # a part that fails (a failing test in the suite part) loses no other part
        if "book" in parts:
            import book

            print("Book build...", flush=True)
            sections["book"] = book.benchmark(args.runs)
        if "grading" in parts or "dask" in parts:  # scale uses the grading figures if measured
            import grading

            print("Grading...", flush=True)
            section, figures = grading.benchmark(
                args.runs, args.students, tuple(int(n) for n in args.scale.split(",") if n),
                stock=not args.no_stock, scale_runs=args.scale_runs,
                heavy=args.heavy if args.heavy is not None else (16 if args.students >= 16 else 0))
            if "grading" in parts:
                sections["grading"] = section
        if "robustness" in parts:
            import grading

            print("Robustness run...", flush=True)
            sections["robustness"] = grading.robustness_benchmark(args.runs, args.robust_students)
        if "dask" in parts:
            import cluster

            print("Dask executor...", flush=True)
            sections["dask"] = cluster.benchmark(figures, args.runs)
        if "scale" in parts:
            import scale

            print("Scale (simulated workers)...", flush=True)
            sections["scale"] = scale.benchmark(figures, workers=args.workers,
                                                 students=args.scale_students)
        if "suite" in parts:
            import suite

            print("Test suite...", flush=True)
            sections["suite"] = suite.benchmark(args.runs)
    except Exception:
        failure = traceback.format_exc()
        print(failure, file=sys.stderr, flush=True)
        failure = failure.strip().splitlines()[-1]

    stamp = (f"Measured on {started.isoformat()} by `benchmarks/run.py --runs {args.runs}`; "
             f"each figure is the median of {args.runs} run(s), range and count in brackets.")
    machine_text = "\n\n".join(["### Machine", header])
    blocks = {part: f"{PART_MARK.format(part)}\n{s.markdown()}\n{stamp}\n\n{machine_text}\n"
              for part, s in sections.items()}
    if args.keep_others and args.out.is_file():
        for part, block in _parts(args.out.read_text()).items():
            blocks.setdefault(part, block)
    report = (f"# Benchmarks\n\n{INTRO}\n\n"
              + "\n".join(blocks[p] for p in PARTS if p in blocks))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"\nwrote {args.out}")
    if failure:
        sys.exit(f"benchmark failed after the parts written above: {failure}")


PART_MARK = "<!-- part: {} -->"
INTRO = ("Written by `make bench` (`benchmarks/run.py`). Comparisons are ratios of runs "
         "made in the same session on the same machine, which hold better than the seconds "
         "when the machine is shared. Targets are from the project's issues.")


def _parts(text: str) -> dict[str, str]:
    """The blocks of an existing report, by part name."""
    blocks = {}
    pieces = text.split("<!-- part: ")[1:]
    for piece in pieces:
        name, _, rest = piece.partition(" -->\n")
        blocks[name] = PART_MARK.format(name) + "\n" + rest.rstrip("\n") + "\n"
    return blocks


if __name__ == "__main__":
    main()
