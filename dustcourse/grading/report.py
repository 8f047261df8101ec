"""The instructor's report on a graded assignment: one self-contained HTML page.

It reads what grading already wrote: scores from nbgrader's gradebook (hand grading
included), each run's status file (``grading/status/``), and the autograded
notebooks (the messages of failed checks, cells stopped by the time limit, errors the
sandbox caused, and the students' code for the similarity flags). It writes, into
``grading/reports/<assignment>/``:

* ``report.html``: score distribution, item statistics (mean, difficulty,
  discrimination), the most frequent failed-check messages per question, counts of
  timeouts, errors and sandbox refusals, similarity flags and a per-student table;
* ``scores.png``, ``items.png``, ``similarity.png``: the plots, referenced relatively;
* ``items.csv``, ``students.csv``, ``similarity.csv``: the same numbers as data.

The page is rendered from ``templates/report.html.j2`` (Jinja2, autoescaped: student
ids, messages and code are text). It needs no script, font or style sheet from
elsewhere and its Content-Security-Policy allows none: it opens from the file system or
any static server and loads only its own plot files.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from .autograde import _coursedir, load_config, read_status
from .export import cell_results
from .item_analysis import (
    ItemStats,
    common_messages,
    cronbach_alpha,
    describe,
    discrimination_label,
    item_statistics,
)
from .similarity import DEFAULT_THRESHOLD, SimilarPair, similar_pairs, student_code

REPORT_DIR = Path("grading") / "reports"

# Error outputs that mean the sandbox refused something (a write outside the scratch
# folder, the network, too many processes, too much memory). A heuristic: the same
# errors can have other causes, so the report calls them "likely".
SANDBOX_SIGNS = (
    "Read-only file system",
    "Permission denied",
    "Operation not permitted",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Resource temporarily unavailable",
)


@dataclass
class Item:
    name: str  # grade id of the graded cell
    max_score: float
    manual: bool  # graded by hand (markdown answer or manual code cell)


@dataclass
class StudentResult:
    student: str
    score: float
    max_score: float
    status: str  # from the run's status file: ok, timeout, kernel_died, error...
    reason: str
    scores: dict[str, float | None]  # item -> points (None: awaiting hand grading)
    cells: dict[str, tuple[str, str]]  # item -> (passed/failed/not_executed/manual, reason)
    cell_timeouts: int = 0  # cells interrupted by the per-cell time limit
    sandbox_refusals: list[str] = field(default_factory=list)
    code: str = ""  # what the student wrote (unlocked code cells)
    robust_only: list[str] = field(default_factory=list)  # failed only the robustness run


@dataclass
class ClassResults:
    assignment: str
    items: list[Item]
    students: list[StudentResult]
    starter_code: str  # the released notebook's code in the cells students edit


@dataclass
class Report:
    assignment: str
    html: Path
    files: list[Path]
    results: ClassResults
    analysed_items: list[str]
    item_stats: list[ItemStats]
    alpha: float | None
    scores: dict[str, float]  # describe() of the percentage scores
    misconceptions: dict[str, list[tuple[str, int]]]  # item -> [(message, students)]
    not_run: dict[str, int]  # item -> students whose test cell never ran
    counts: dict[str, int]
    flagged: list[SimilarPair]
    pairs: list[SimilarPair]
    threshold: float


def _short(item: str) -> str:
    return item.removesuffix("_tests")


def _scan_errors(nb) -> tuple[int, list[str]]:
    """(cells stopped by the cell time limit, likely sandbox refusals) of a notebook."""
    timeouts, refusals = 0, []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            ename, evalue = output.get("ename", ""), str(output.get("evalue", ""))
            if ename == "KeyboardInterrupt":
                timeouts += 1
            elif ename == "MemoryError" or any(sign in evalue for sign in SANDBOX_SIGNS):
                refusals.append(f"{ename}: {evalue.strip().splitlines()[0] if evalue else ''}")
    return timeouts, refusals


def _position_in(path: Path) -> Callable:
    """Sort key of a gradebook cell: where its grade id stands in the notebook at
    ``path`` (cells not found last, by name)."""
    order: dict[str, int] = {}
    if path.is_file():
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id is not None:
                order.setdefault(grade_id, index)
    return lambda cell: (order.get(cell.name, len(order) + 1), cell.name)


def load_class(
    root: Path, assignment: str, progress: Callable[[int], None] | None = None
) -> ClassResults:
    """Everything the report needs about a graded assignment, for every submission
    in the gradebook."""
    from nbgrader.api import Gradebook

    root = Path(root).resolve()
    config = load_config(root)
    coursedir = _coursedir(config)
    release = Path(coursedir.root) / coursedir.release_directory / assignment
    starter = "".join(
        student_code(nbformat.read(p, as_version=4)) for p in sorted(release.glob("*.ipynb"))
    )
    items: dict[str, Item] = {}
    students: list[StudentResult] = []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for notebook in gb.find_assignment(assignment).notebooks:
            answers = {cell.name for cell in notebook.solution_cells}
            # in the order of the notebook: the database returns its rows in no set order
            for cell in sorted(notebook.grade_cells,
                               key=_position_in(release / f"{notebook.name}.ipynb")):
                # graded and an answer: graded by hand
                items[cell.name] = Item(cell.name, float(cell.max_score), cell.name in answers)
        submissions = sorted(gb.assignment_submissions(assignment), key=lambda s: s.student.id)
        for submission in submissions:
            student = submission.student.id
            run = read_status(root, assignment, student).get("outcome", {})
            folder = Path(coursedir.format_path(coursedir.autograded_directory, student,
                                                assignment))
            result = StudentResult(student, float(submission.score),
                                   float(submission.max_score), run.get("status", "unknown"),
                                   run.get("reason", ""), {}, {},
                                   robust_only=list(run.get("robust_only", [])))
            for notebook in submission.notebooks:
                path = folder / f"{notebook.name}.ipynb"
                nb = None
                if path.is_file():
                    try:
                        nb = nbformat.read(path, as_version=4)
                    except Exception:  # unreadable: scored zero by the pipeline already
                        nb = None
                cells = cell_results(nb) if nb is not None else {}
                if nb is not None:
                    timeouts, refusals = _scan_errors(nb)
                    result.cell_timeouts += timeouts
                    result.sandbox_refusals += refusals
                    result.code += student_code(nb)
                for grade in notebook.grades:
                    manual = items[grade.name].manual
                    pending = manual and grade.manual_score is None
                    result.scores[grade.name] = None if pending else float(grade.score)
                    result.cells[grade.name] = cells.get(
                        grade.name, ("manual" if manual else "error", result.reason))
            students.append(result)
            if progress:
                progress(1)
    return ClassResults(assignment, list(items.values()), students, starter)


# --- plots -------------------------------------------------------------------------

def _plot_scores(percentages: list[float], max_points: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=150)
    bins = [i * 10 for i in range(11)]
    ax.hist(percentages, bins=bins, color="#4a6fa5", edgecolor="black", linewidth=0.8)
    if percentages:
        mean = sum(percentages) / len(percentages)
        ax.axvline(mean, color="black", linestyle="--", linewidth=1.2)
        ax.annotate(f"mean {mean:.0f}%", (mean, ax.get_ylim()[1] * 0.92),
                    xytext=(4, 0), textcoords="offset points", fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xticks(bins)
    ax.set_xlabel(f"Score (% of {max_points:g} points, hand grading included)")
    ax.set_ylabel("Students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Score distribution")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_items(stats: list[ItemStats], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [_short(s.item) for s in stats][::-1]
    difficulty = [s.difficulty for s in stats][::-1]
    discrimination = [s.discrimination if s.discrimination is not None else 0.0
                      for s in stats][::-1]
    height = max(2.4, 0.45 * len(stats) + 1.2)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, height), dpi=150, sharey=True)
    left.barh(labels, difficulty, color="#7aa974", edgecolor="black", linewidth=0.8)
    left.set_xlim(0, 1)
    left.set_xlabel("Difficulty index p (share of points earned)")
    left.set_title("Difficulty (1 = everyone right)")
    right.barh(labels, discrimination, color="#c9a227", edgecolor="black", linewidth=0.8,
               hatch=["" if s.discrimination is not None else "//" for s in stats][::-1])
    right.axvline(0.2, color="black", linestyle=":", linewidth=1)
    right.axvline(0, color="black", linewidth=0.8)
    right.set_xlim(-1, 1)
    right.set_xlabel("Discrimination r (item vs rest score)")
    right.set_title("Discrimination (dotted: 0.2)")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    left.set_ylabel("Graded cell")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_similarity(pairs: list[SimilarPair], n_pairs: int, threshold: float,
                     path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [p.similarity for p in pairs] + [0.0] * (n_pairs - len(pairs))
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=150)
    ax.hist(values, bins=[i / 20 for i in range(21)], color="#9b8bb4", edgecolor="black",
            linewidth=0.8)
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2)
    ax.annotate(f"flag threshold {threshold:.2f}", (threshold, 0.9),
                xycoords=("data", "axes fraction"), xytext=(4, 0),
                textcoords="offset points", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("Similarity (share of the pair's own code that matches)")
    ax.set_ylabel("Pairs of students (log scale)")
    ax.set_title(f"Code similarity of all {n_pairs} pairs")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# --- the report --------------------------------------------------------------------

def build_report(
    root: Path,
    assignment: str,
    out_dir: Path | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[str, int, int], None] | None = None,
) -> Report:
    """Write the report of ``assignment``; ``progress(stage, done, total)`` reports work."""
    root = Path(root).resolve()
    out = Path(out_dir) if out_dir else root / REPORT_DIR / assignment
    out.mkdir(parents=True, exist_ok=True)

    def tick(stage: str, total: int) -> Callable[[int], None]:
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            if progress:
                progress(stage, done[0], total)

        return step

    from nbgrader.api import Gradebook

    coursedir = _coursedir(load_config(root))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        n_students = len(gb.assignment_submissions(assignment))
    results = load_class(root, assignment, tick("reading submissions", n_students))
    if not results.students:
        raise ValueError(f"no graded submissions of {assignment} in the gradebook")

    analysed = [it for it in results.items
                if all(s.scores.get(it.name) is not None for s in results.students)]
    matrix = [[s.scores[it.name] for it in analysed] for s in results.students]
    stats = item_statistics([it.name for it in analysed],
                            [it.max_score for it in analysed], matrix)
    alpha = cronbach_alpha(matrix)
    percentages = [100 * s.score / s.max_score if s.max_score else 0.0
                   for s in results.students]

    misconceptions, not_run = {}, {}
    for it in results.items:
        if it.manual:
            continue
        cells = [s.cells.get(it.name, ("", "")) for s in results.students]
        misconceptions[it.name] = common_messages(
            (reason for status, reason in cells if status == "failed"), top=5)
        not_run[it.name] = sum(1 for status, _ in cells if status in ("not_executed", "error"))

    statuses = Counter(s.status for s in results.students)
    counts = {
        "students": len(results.students),
        "graded_ok": statuses.get("ok", 0) + statuses.get("skipped", 0),
        "notebook_timeouts": statuses.get("timeout", 0),
        "cell_timeouts": sum(s.cell_timeouts for s in results.students),
        "kernel_died": statuses.get("kernel_died", 0),
        "errors": statuses.get("error", 0),
        "sandbox_refusals": sum(len(s.sandbox_refusals) for s in results.students),
        "students_with_sandbox_refusals": sum(1 for s in results.students
                                              if s.sandbox_refusals),
        "manual_pending": sum(1 for s in results.students
                              for v in s.scores.values() if v is None),
        # answers right on the real data, wrong on the perturbed copy (issue 20)
        "robust_only": sum(len(s.robust_only) for s in results.students),
        "students_with_robust_only": sum(1 for s in results.students if s.robust_only),
    }

    codes = {s.student: s.code for s in results.students}
    n_pairs = len(codes) * (len(codes) - 1) // 2
    flagged, pairs = similar_pairs(codes, results.starter_code, threshold,
                                   tick("comparing code", n_pairs))

    files = {
        "scores": out / "scores.png",
        "items": out / "items.png",
        "similarity": out / "similarity.png",
    }
    max_points = results.students[0].max_score
    _plot_scores(percentages, max_points, files["scores"])
    _plot_items(stats, files["items"])
    _plot_similarity(pairs, n_pairs, threshold, files["similarity"])
    csvs = _write_csvs(out, results, stats, pairs, threshold)

    report = Report(
        assignment, out / "report.html", [*files.values(), *csvs], results,
        [it.name for it in analysed], stats, alpha, describe(percentages), misconceptions,
        not_run, counts, flagged, pairs, threshold,
    )
    report.html.write_text(render_html(report, files), encoding="utf-8")
    return report


def _write_csvs(out: Path, results: ClassResults, stats: list[ItemStats],
                pairs: list[SimilarPair], threshold: float) -> list[Path]:
    items_csv, students_csv, pairs_csv = (out / "items.csv", out / "students.csv",
                                          out / "similarity.csv")
    with items_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "max_score", "n", "mean", "difficulty", "discrimination"])
        for s in stats:
            writer.writerow([s.item, f"{s.max_score:g}", s.n, f"{s.mean:.6f}",
                             f"{s.difficulty:.6f}",
                             "" if s.discrimination is None else f"{s.discrimination:.6f}"])
    with students_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        names = [it.name for it in results.items]
        writer.writerow(["student", "score", "max_score", "status", "cell_timeouts",
                         "sandbox_refusals", "robust_only", *names])
        for s in results.students:
            writer.writerow([s.student, f"{s.score:g}", f"{s.max_score:g}", s.status,
                             s.cell_timeouts, len(s.sandbox_refusals), len(s.robust_only),
                             *("" if s.scores.get(n) is None else f"{s.scores[n]:g}"
                               for n in names)])
    with pairs_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first", "second", "similarity", "share_of_first", "share_of_second",
                         "flagged"])
        for p in pairs:
            writer.writerow([p.first, p.second, f"{p.similarity:.4f}",
                             f"{p.similarity_first:.4f}", f"{p.similarity_second:.4f}",
                             "yes" if p.similarity >= threshold else "no"])
    return [items_csv, students_csv, pairs_csv]


# --- HTML --------------------------------------------------------------------------

def report_css() -> str:
    from importlib import resources

    return resources.files("dustcourse.grading").joinpath(
        "templates", "report.css").read_text(encoding="utf-8")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ellipsis(text: str, limit: int) -> str:
    return text[:limit] + ("…" if len(text) > limit else "")


def render_html(report: Report, files: dict[str, Path]) -> str:
    """The page, from templates/report.html.j2 (autoescaped). Its policy allows no
    script and no request but its own plot files beside it."""
    from markupsafe import Markup

    from .pages import content_security_policy, environment

    r, res = report, report.results
    sc = r.scores
    counts = r.counts
    summary = [
        ("Mean score", f"{sc['mean']:.1f}%"), ("Median score", f"{sc['median']:.1f}%"),
        ("Standard deviation", f"{sc['sd']:.1f} percentage points"),
        ("Lowest / highest", f"{sc['min']:.1f}% / {sc['max']:.1f}%"),
        ("Cronbach's α (analysed items)", _fmt(r.alpha)),
        ("Graded without incident (status ok)", counts["graded_ok"]),
        ("Submissions stopped by a time limit (status timeout)", counts["notebook_timeouts"]),
        ("Cells interrupted at the cell time limit (run went on)", counts["cell_timeouts"]),
        ("Kernels that died (crash, exit, resource limit)", counts["kernel_died"]),
        ("Unreadable or missing notebooks (error)", counts["errors"]),
        ("Likely sandbox refusals (errors in cells; students)",
         f"{counts['sandbox_refusals']} ({counts['students_with_sandbox_refusals']})"),
        ("Hand-graded answers still to grade", counts["manual_pending"]),
        ("Similarity flags (pairs to review)", len(r.flagged)),
        ("Answers that failed only the robustness run (students)",
         f"{counts['robust_only']} ({counts['students_with_robust_only']})"),
    ]
    failing = {st.item: sum(1 for s in res.students if (s.scores.get(st.item) or 0) < st.max_score)
               for st in r.item_stats}
    robust = Counter(item for s in res.students for item in s.robust_only)
    flagged_with: dict[str, list[str]] = {}
    for p in r.flagged:
        flagged_with.setdefault(p.first, []).append(p.second)
        flagged_with.setdefault(p.second, []).append(p.first)
    students = []
    for s in res.students:
        marks = []
        for it in res.items:
            value = s.scores.get(it.name)
            marks.append(("to grade", False) if value is None else
                         (f"{value:g}", value < it.max_score))
        notes = []
        if s.cell_timeouts:
            notes.append(f"{s.cell_timeouts} cell(s) stopped by the time limit")
        if s.sandbox_refusals:
            notes.append("sandbox: " + _ellipsis("; ".join(s.sandbox_refusals), 200))
        if s.status not in ("ok", "skipped") and s.reason:
            notes.append(_ellipsis(s.reason, 120))
        if s.robust_only:
            notes.append("failed only the robustness run (answer does not follow the data): "
                         + ", ".join(_short(i) for i in s.robust_only))
        if s.student in flagged_with:
            notes.append("similar to " + ", ".join(flagged_with[s.student]))
        pct = 100 * s.score / s.max_score if s.max_score else 0
        students.append({"student": s.student, "score": f"{s.score:g} / {s.max_score:g}",
                         "pct": f"{pct:.0f}", "status": s.status, "marks": marks,
                         "notes": notes, "flagged": s.student in flagged_with})
    n = counts["students"]
    css = report_css()
    env = environment().overlay()
    env.filters.update({
        "fmt": _fmt, "g": lambda v: f"{v:g}", "pct": lambda v: f"{v:.0%}",
        "breakable": lambda text: Markup("_<wbr>").join(str(text).split("_")),
    })
    return env.get_template("report.html.j2").render(
        r=r, css=Markup(css), csp=content_security_policy(css, images="'self' data:"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        max_points=res.students[0].max_score, summary=summary, failing=failing,
        robust=robust,
        band=discrimination_label,
        pending=[it.name for it in res.items if it.name not in r.analysed_items],
        items_height=int(150 * max(2.4, 0.45 * len(r.item_stats) + 1.2)),
        files={k: v.name for k, v in files.items()}, n_pairs=n * (n - 1) // 2,
        item_names=[_short(it.name) for it in res.items], students=students,
    )
