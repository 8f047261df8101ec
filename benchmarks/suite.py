"""Test-suite benchmark: wall time of the README test command and the slowest tests."""

from __future__ import annotations

import re

from measure import ROOT, Section, run_measured, spread


def slowest(output: str, count: int = 10) -> list[str]:
    """The 'slowest durations' lines pytest prints (``--durations``)."""
    block = output.split("slowest 10 durations", 1)[-1]
    lines = re.findall(r"^\s*(\d+\.\d+)s (setup|call|teardown)\s+(\S+)", block, re.M)
    return [f"{float(s):.1f} s {phase} {test}" for s, phase, test in lines[:count]]


def benchmark(runs: int = 3) -> Section:
    section = Section("Test suite (`make test`, the README test command)")
    walls, last = [], ""
    fresh = not (ROOT / ".venv" / ".installed").is_file()
    for _ in range(runs):
        run = run_measured(["make", "test"], ROOT)
        walls.append(run.seconds)
        last = run.output
    label = ("wall time (first run on a fresh clone: includes creating .venv)" if fresh
             else "wall time (.venv already set up)")
    section.add(label, spread(walls), "well under 15 min on 2 cores")
    passed = re.findall(r"(\d+) passed", last)
    section.add("tests passed (last run)", passed[-1] if passed else "?")
    section.notes += ["Slowest tests of the last run:"] + [f"  {line}" for line in slowest(last)]
    return section
