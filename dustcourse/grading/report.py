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

The page needs no script, font or style sheet from elsewhere: it opens from the file
system or any static server.
"""

from __future__ import annotations

import csv
import html
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
            for cell in notebook.grade_cells:  # graded and an answer: graded by hand
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

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 70rem; margin: 1.5rem auto; padding: 0 1rem; color: #1a1a1a;
       line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #999; }
h3 { font-size: 1.05rem; margin-bottom: 0.3rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #999; padding: 0.2rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wide { overflow-x: auto; }
td.notes { min-width: 14rem; font-size: 0.85rem; }
img { max-width: 100%; height: auto; }
pre { background: #f5f5f5; padding: 0.4rem; margin: 0; font-size: 0.82rem;
      white-space: pre-wrap; }
.note { color: #444; font-size: 0.9rem; }
.fail { color: #a00; font-weight: bold; }
.flag { background: #fff3cd; }
figure { margin: 1rem 0; }
figcaption { font-size: 0.9rem; color: #333; }
@media print { body { max-width: none; } h2 { page-break-after: avoid; }
               figure, table { page-break-inside: avoid; } }
"""


def _breakable(text: str) -> str:
    """Let long grade ids in table headers wrap after their underscores."""
    return text.replace("_", "_<wbr>")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_html(report: Report, files: dict[str, Path]) -> str:
    r, res = report, report.results
    e = html.escape
    rows = []

    def table(header: list[str], body: list[list[str]], numeric: set[int] = frozenset(),
              row_class: Callable[[int], str] | None = None) -> str:
        head = "".join(f"<th scope=\"col\">{_breakable(e(h))}</th>" for h in header)
        lines = []
        for i, row in enumerate(body):
            css = f' class="{row_class(i)}"' if row_class and row_class(i) else ""
            cells = "".join(
                f'<td class="num">{c}</td>' if j in numeric else
                f'<td class="notes">{c}</td>' if header[j] == "Notes" else f"<td>{c}</td>"
                for j, c in enumerate(row)
            )
            lines.append(f"<tr{css}>{cells}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"

    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    max_points = res.students[0].max_score
    sc = r.scores
    rows.append(f"<h1>Assignment report: {e(r.assignment)}</h1>")
    rows.append(f'<p class="note">{r.counts["students"]} submissions, {max_points:g} points '
                f"each. Generated {generated} by <code>dustcourse grade report</code> from "
                "the gradebook and the autograded notebooks.</p>")

    rows.append("<h2>Summary</h2>")
    rows.append(table(["Measure", "Value"], [
        ["Mean score", f"{sc['mean']:.1f}%"], ["Median score", f"{sc['median']:.1f}%"],
        ["Standard deviation", f"{sc['sd']:.1f} percentage points"],
        ["Lowest / highest", f"{sc['min']:.1f}% / {sc['max']:.1f}%"],
        ["Cronbach's α (analysed items)", _fmt(r.alpha)],
        ["Graded without incident (status ok)", str(r.counts["graded_ok"])],
        ["Submissions stopped by a time limit (status timeout)",
         str(r.counts["notebook_timeouts"])],
        ["Cells interrupted at the cell time limit (run went on)",
         str(r.counts["cell_timeouts"])],
        ["Kernels that died (crash, exit, resource limit)", str(r.counts["kernel_died"])],
        ["Unreadable or missing notebooks (error)", str(r.counts["errors"])],
        ["Likely sandbox refusals (errors in cells; students)",
         f"{r.counts['sandbox_refusals']} ({r.counts['students_with_sandbox_refusals']})"],
        ["Hand-graded answers still to grade", str(r.counts["manual_pending"])],
        ["Similarity flags (pairs to review)", str(len(r.flagged))],
        ["Answers that failed only the robustness run (students)",
         f"{r.counts['robust_only']} ({r.counts['students_with_robust_only']})"],
    ], numeric={1}))

    rows.append("<h2>Score distribution</h2>")
    rows.append(
        f'<figure><img src="{files["scores"].name}" width="1050" height="540" '
        f'alt="Histogram of the {r.counts["students"]} students\' scores in 10-point bins '
        f'from 0 to 100%; mean {sc["mean"]:.0f}%, median {sc["median"]:.0f}%.">'
        "<figcaption>Total score of each submission as a percentage of the points "
        "available; answers awaiting hand grading count as 0.</figcaption></figure>")

    rows.append("<h2>Questions: difficulty and discrimination</h2>")
    rows.append(
        '<p class="note">For n students and a graded cell worth m points, with x<sub>i</sub> '
        "the points student i earned on it: <b>mean</b> = Σx<sub>i</sub>/n; "
        "<b>difficulty index</b> p = mean / m, the share of the cell's points the class "
        "earned (1 = everyone right, so a <i>high</i> p is an <i>easy</i> question); "
        "<b>discrimination</b> r = Pearson correlation between x<sub>i</sub> and the rest "
        "score R<sub>i</sub> = T<sub>i</sub> − x<sub>i</sub> (total over the analysed cells "
        "minus this cell). For an all-or-nothing cell this is the corrected point-biserial "
        "correlation r = (M<sub>1</sub> − M<sub>0</sub>)/s<sub>R</sub> · √(p(1 − p)). "
        "Bands (Ebel): ≥ 0.40 very good, 0.30–0.39 good, 0.20–0.29 marginal, below 0.20 "
        "poor; — when the cell or the rest score does not vary. Hand-graded cells are "
        "analysed once every submission is graded.</p>")
    failing = {it: sum(1 for s in res.students if (s.scores.get(it) or 0) < mx)
               for it, mx in ((st.item, st.max_score) for st in r.item_stats)}
    robust = Counter(item for s in res.students for item in s.robust_only)
    rows.append(table(
        ["Graded cell", "Points", "Mean", "Difficulty p", "Discrimination r", "Band",
         "Students below full marks", "Failed only the robustness run"],
        [[f"<code>{e(s.item)}</code>", f"{s.max_score:g}", _fmt(s.mean), _fmt(s.difficulty),
          _fmt(s.discrimination), discrimination_label(s.discrimination),
          str(failing[s.item]), str(robust[s.item])] for s in r.item_stats],
        numeric={1, 2, 3, 4, 6, 7}))
    pending = [it.name for it in res.items if it.name not in r.analysed_items]
    if pending:
        rows.append(f'<p class="note">Not analysed yet (hand grading incomplete): '
                    f'{", ".join(f"<code>{e(p)}</code>" for p in pending)}.</p>')
    rows.append(
        f'<figure><img src="{files["items"].name}" width="1200" '
        f'height="{int(150 * max(2.4, 0.45 * len(r.item_stats) + 1.2))}" '
        'alt="Two bar charts, one bar per graded cell: left, the difficulty index from 0 to '
        '1; right, the discrimination index from −1 to 1 with a dotted line at 0.2.">'
        "<figcaption>Difficulty and discrimination of each autograded cell; hatched bars "
        "have no defined discrimination.</figcaption></figure>")

    rows.append("<h2>Common misconceptions: the most frequent failed checks</h2>")
    rows.append('<p class="note">For each question, the messages of the checks that failed, '
                "with the number of students who got each (a test cell reports its first "
                "failing check). Cells that never ran (time limit, crash, unreadable "
                "notebook) are counted apart.</p>")
    for item, messages in r.misconceptions.items():
        rows.append(f"<h3><code>{e(item)}</code></h3>")
        if messages:
            rows.append(table(["Failed check", "Students"],
                              [[e(m), str(n)] for m, n in messages], numeric={1}))
        else:
            rows.append('<p class="note">No failed checks.</p>')
        if r.not_run.get(item):
            rows.append(f'<p class="note">Never ran for {r.not_run[item]} student(s).</p>')

    rows.append("<h2>Similarity flags</h2>")
    rows.append(
        '<p class="note">Every pair of submissions is compared with copydetect (winnowed '
        "fingerprints of the tokenised code; names and strings normalised, so renaming "
        "does not hide a copy). Only the code students wrote is compared: the locked cells "
        "and the starter code of the released notebook are left out. A pair is listed when "
        f"at least {r.threshold:.0%} of the pair's own code matches. <b>These are flags for "
        "a person to review, not verdicts:</b> short answers can be alike by chance, and "
        "students may have worked together as allowed.</p>")
    if r.flagged:
        rows.append(table(
            ["Students", "Similarity", "Share of each one's code", "Matching code (first)",
             "Matching code (second)"],
            [[f"{e(p.first)} and {e(p.second)}", f"{p.similarity:.0%}",
              f"{e(p.first)}: {p.similarity_first:.0%}<br>{e(p.second)}: "
              f"{p.similarity_second:.0%}",
              f"<pre>{e(p.excerpt_first)}</pre>", f"<pre>{e(p.excerpt_second)}</pre>"]
             for p in r.flagged],
            numeric={1}, row_class=lambda _i: "flag"))
    else:
        rows.append("<p>No pair above the threshold.</p>")
    n = r.counts["students"]
    rows.append(
        f'<figure><img src="{files["similarity"].name}" width="1050" height="480" '
        f'alt="Histogram of the similarity of all {n * (n - 1) // 2} pairs of students, '
        f'with the flag threshold at {r.threshold:.2f} marked.">'
        "<figcaption>Similarity of every pair of students; the dashed line is the flag "
        "threshold. All pairs are in similarity.csv.</figcaption></figure>")

    rows.append("<h2>Students</h2>")
    flagged_with: dict[str, list[str]] = {}
    for p in r.flagged:
        flagged_with.setdefault(p.first, []).append(p.second)
        flagged_with.setdefault(p.second, []).append(p.first)
    header = ["Student", "Score", "%", "Status", *[_short(it.name) for it in res.items],
              "Notes"]
    body = []
    for s in res.students:
        marks = []
        for it in res.items:
            value = s.scores.get(it.name)
            if value is None:
                marks.append("to grade")
            elif value >= it.max_score:
                marks.append(f"{value:g}")
            else:
                marks.append(f'<span class="fail">{value:g}</span>')
        notes = []
        if s.cell_timeouts:
            notes.append(f"{s.cell_timeouts} cell(s) stopped by the time limit")
        if s.sandbox_refusals:
            notes.append("sandbox: " + e("; ".join(s.sandbox_refusals))[:200])
        if s.status not in ("ok", "skipped") and s.reason:
            notes.append(e(s.reason[:120] + ("…" if len(s.reason) > 120 else "")))
        if s.robust_only:
            notes.append("failed only the robustness run (answer does not follow the data): "
                         + ", ".join(e(_short(i)) for i in s.robust_only))
        if s.student in flagged_with:
            notes.append("similar to " + ", ".join(e(o) for o in flagged_with[s.student]))
        pct = 100 * s.score / s.max_score if s.max_score else 0
        body.append([e(s.student), f"{s.score:g} / {s.max_score:g}", f"{pct:.0f}",
                     e(s.status), *marks, "<br>".join(notes)])
    rows.append('<div class="wide">' + table(
        header, body, numeric={1, 2, *range(4, 4 + len(res.items))},
        row_class=lambda i: "flag" if res.students[i].student in flagged_with else "")
        + "</div>")
    rows.append('<p class="note">Red: below full marks. Data: items.csv, students.csv, '
                "similarity.csv beside this page.</p>")

    body_html = "\n".join(rows)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>Report: {e(r.assignment)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body_html}\n</main>\n</body>\n</html>\n"
    )
