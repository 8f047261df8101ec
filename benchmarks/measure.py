"""Small helpers shared by the benchmarks: timing, peak memory, medians, the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Peak RSS of the largest process in a command's tree: run it from a small Python
# parent, whose RUSAGE_CHILDREN counts every descendant that was waited for.
_PEAK = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.monotonic()\n"
    "p = subprocess.run(sys.argv[2:], cwd=sys.argv[1], capture_output=True, text=True)\n"
    "print(json.dumps({'seconds': time.monotonic() - t, 'code': p.returncode,\n"
    "  'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,\n"
    "  'output': (p.stdout + p.stderr)[-200000:]}))\n"
)


@dataclass
class Run:
    seconds: float
    peak_mb: float
    output: str


def run_measured(command: list[str], cwd: Path, env: dict | None = None) -> Run:
    """Run ``command``; its wall time, the peak RSS of its largest process, its output."""
    done = subprocess.run([sys.executable, "-c", _PEAK, str(cwd), *command],
                          capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout)
    if result["code"] != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result['code']}:\n"
                           f"{result['output'][-3000:]}")
    return Run(result["seconds"], result["peak_mb"], result["output"])


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.monotonic()
    value = function(*args, **kwargs)
    return time.monotonic() - started, value


def median(values) -> float:
    return statistics.median(values)


def spread(values) -> str:
    """'median (min-max, n=3)' in seconds."""
    values = list(values)
    return f"{median(values):.1f} s ({min(values):.1f}-{max(values):.1f}, n={len(values)})"


def linear_slope(xs, ys) -> tuple[float, float]:
    """Least-squares slope and intercept of ys against xs."""
    slope, intercept = statistics.linear_regression(xs, ys)
    return slope, intercept


@dataclass
class Section:
    """One part of the report: a title, rows of (figure, value, target/notes), notes."""

    title: str
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, value: str, target: str = "") -> None:
        self.rows.append((figure, value, target))
        print(f"  {figure}: {value}" + (f"   [{target}]" if target else ""), flush=True)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", "| figure | measured | target / note |",
                 "|---|---|---|"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in self.rows]
        if self.notes:
            lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    """The machine and software the figures were measured on."""
    memory = "unknown"
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    packages = ", ".join(f"{p} {_version(p)}" for p in (
        "jupyter-book", "myst-nb", "nbgrader", "nbclient", "pandas", "matplotlib",
        "dask", "distributed"))
    return (f"- {os.cpu_count()} cores ({cpu}), {memory} memory, {platform.system()} "
            f"{platform.release()}, {platform.machine()}\n"
            f"- Python {platform.python_version()}; {packages}\n"
            f"- load average when the run started: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}")
