"""``dustcourse grade ...``: the instructor's grading commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click


class _GradebookGroup(click.Group):
    """A gradebook that cannot be reached (database server down, wrong URL or password)
    ends any command with one line saying so, never a traceback nor the password."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from sqlalchemy.exc import OperationalError

            if not isinstance(exc, OperationalError):
                raise
            reason = str(exc.orig or exc).strip().splitlines()
            raise click.ClickException(
                f"cannot use the gradebook: {reason[0] if reason else 'no reason given'}. "
                "Check the URL (--db, $DUSTCOURSE_DB_URL or nbgrader_config.py) and that the "
                "database server runs (docs/grading.md)") from exc


@click.group(cls=_GradebookGroup)
def grade() -> None:
    """Grade submissions: sandboxed, in parallel, recorded in nbgrader's gradebook.

    Run from the course root (the folder holding nbgrader_config.py). Manual grading
    stays in nbgrader's formgrader.
    """


def _use_database(ctx: click.Context, _param, value: str | None) -> None:
    if value:
        from .database import using

        ctx.with_resource(using(value))


db_option = click.option(
    "--db", metavar="URL", default=None, expose_value=False, callback=_use_database,
    is_eager=True,
    help="The gradebook's database URL, e.g. postgresql://grader:secret@host/course. "
         "Default: $DUSTCOURSE_DB_URL, else c.CourseDirectory.db_url of nbgrader_config.py "
         "(SQLite gradebook.db).")


@grade.command("autograde")
@click.argument("assignment")
@click.option("--student", "students", multiple=True, metavar="ID",
              help="Grade only this student (repeatable). Default: every submission.")
@click.option("-j", "--jobs", type=click.IntRange(1), default=None,
              help="Local worker processes (or workers of a new local Dask cluster). "
                   "Default: the number of CPU cores.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="Where notebooks run: local worker processes, or a Dask cluster.")
@click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
              help="Address of a running Dask scheduler (with --executor dask). "
                   "Without it, a local Dask cluster is started.")
@click.option("--force", is_flag=True,
              help="Regrade submissions already graded (default: skip unchanged ones).")
@click.option("--no-sandbox", "no_sandbox", is_flag=True,
              help="Run student code WITHOUT the sandbox (trusted code only).")
@click.option("--no-robustness", "no_robustness", is_flag=True,
              help="Skip the robustness run (the second run on perturbed data): "
                   "quicker, but typed-in answers are not caught.")
@click.option("--cell-timeout", type=click.IntRange(1), default=None,
              help="Seconds per cell. Default: Execute.timeout of nbgrader_config.py.")
@click.option("--notebook-timeout", type=click.IntRange(1), default=600, show_default=True,
              help="Seconds per notebook.")
@db_option
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Course root (holds nbgrader_config.py).")
def autograde_command(assignment, students, jobs, executor, scheduler, force, no_sandbox,
                      no_robustness, cell_timeout, notebook_timeout, root):
    """Autograde ASSIGNMENT for every student in submitted/ (or the named ones).

    \b
    Examples:
      dustcourse grade autograde ps0-warmup
      dustcourse grade autograde ps0-warmup --student alice --force
      dustcourse grade autograde ps0-warmup --executor dask --scheduler tcp://10.0.0.5:8786
    """
    from ..perturb import PerturbationError
    from .autograde import Interrupted, autograde, load_config, submitted_students
    from .sandbox import Limits, SandboxUnavailable

    if not (root / "nbgrader_config.py").is_file():
        raise click.ClickException(f"{root.resolve()} has no nbgrader_config.py: use --root")
    config = load_config(root.resolve())
    default_timeout = int(config.Execute.get("timeout", 60))
    limits = Limits(cell_timeout=cell_timeout or default_timeout, notebook_timeout=notebook_timeout)
    names = list(students) or submitted_students(root.resolve(), assignment, config)
    if not names:
        raise click.ClickException(f"no submissions of {assignment} in submitted/")
    _require_generated(config, assignment)
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    if no_sandbox:
        click.secho("WARNING: student code runs unsandboxed, with your rights.", fg="red", err=True)
    tally = Tally()
    with click.progressbar(length=len(names), label=f"Grading {assignment}",
                           show_pos=True, file=sys.stderr,
                           item_show_func=lambda _: tally.line()) as bar:

        def progress(outcome) -> None:
            tally.add(outcome)
            bar.update(1, outcome)

        try:
            outcomes = autograde(root, assignment, names, jobs=jobs, force=force,
                                 sandbox=not no_sandbox, limits=limits, executor=executor,
                                 scheduler=scheduler, progress=progress,
                                 robustness=not no_robustness)
        except SandboxUnavailable as exc:
            raise click.ClickException(
                f"{exc}\nRefusing to run student code unsandboxed; pass --no-sandbox to "
                "grade trusted notebooks without it."
            ) from exc
        except PerturbationError as exc:
            raise click.ClickException(
                f"cannot make the robustness run's data: {exc}\nFix data/perturbations.json, "
                "or pass --no-robustness to grade without the robustness run.") from exc
        except OSError as exc:  # e.g. no Dask scheduler at that address
            raise click.ClickException(f"cannot reach the workers: {exc}") from exc
        except Interrupted as stop:
            interrupted = stop
        else:
            interrupted = None
            bar.update(len(names) - bar.pos)
    if interrupted is not None:
        click.echo(f"\nInterrupted: {len(interrupted.outcomes)} submission(s) recorded, "
                   f"{len(interrupted.left)} left as they were; run the same command "
                   "again to grade them.", err=True)
        sys.exit(130)
    click.echo(summary_table(outcomes))
    click.echo(f"{tally.line()} in {tally.elapsed():.0f} s")
    click.echo(workers_line(outcomes))
    if not no_robustness:
        from .robustness import instructor_warnings

        for line in instructor_warnings(root.resolve(), assignment):
            click.secho(f"Robustness run: {line}", fg="yellow")
    failed = [o for o in outcomes if o.status in FAILED_STATUSES]
    if failed:
        click.echo(f"\n{len(failed)} submission(s) not graded to the end "
                   "(their scores count what ran; see docs/grading.md):")
        for o in failed:
            click.echo(f"  {o.student}  {o.status}  {o.reason}")
        sys.exit(1)


# A submission in one of these states makes `autograde` exit with status 1. "skipped"
# (graded by an earlier run, whose status is shown) and "ok" do not.
FAILED_STATUSES = ("timeout", "kernel_died", "error", "worker_failed")


def _require_generated(config, assignment: str) -> None:
    """Refuse, with what to run first, an assignment the gradebook does not know yet
    (nbgrader records an assignment and its tests when it generates the student version)."""
    from nbgrader.api import Gradebook, MissingEntry

    from .autograde import _coursedir
    from .database import shown, sqlite_file, unreachable

    coursedir = _coursedir(config)
    db_file = sqlite_file(coursedir.db_url)
    if db_file is None or db_file.is_file():  # not SQLite, or a file: look inside
        problem = unreachable(coursedir.db_url)
        if problem:
            raise click.ClickException(
                f"the gradebook {shown(coursedir.db_url)}: {problem}. Check the URL "
                "(--db, $DUSTCOURSE_DB_URL or nbgrader_config.py) and that the database "
                "server runs (docs/grading.md)")
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            try:
                gb.find_assignment(assignment)
                return
            except MissingEntry:
                pass
    raise click.ClickException(
        f"{assignment} is not in the gradebook ({shown(coursedir.db_url)}) yet: run "
        "`dustcourse exercises generate` first (it generates the student versions and "
        "records each assignment's tests), then autograde again"
    )


class Tally:
    """Submissions done and failed, and the throughput, for the progress bar."""

    def __init__(self):
        import time

        self._clock = time.monotonic
        self.started = self._clock()
        self.done = self.failed = self.graded = 0

    def add(self, outcome) -> None:
        self.done += 1
        self.graded += outcome.status != "skipped"
        self.failed += outcome.status not in ("ok", "skipped")

    def elapsed(self) -> float:
        return self._clock() - self.started

    def line(self) -> str:
        rate = self.graded / self.elapsed() * 60 if self.elapsed() > 0 else 0.0
        return f"{self.done} done, {self.failed} failed, {rate:.1f} submissions/min"


def workers_line(outcomes) -> str:
    """Which workers ran the notebooks, with how many submissions each."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        for worker in outcome.workers:
            counts[worker] = counts.get(worker, 0) + 1
    if not counts:
        return "workers: none (nothing was executed)"
    return "workers: " + ", ".join(f"{w} ({n})" for w, n in sorted(counts.items()))


def summary_table(outcomes) -> str:
    rows = [("student", "status", "score", "seconds", "reason")]
    for o in outcomes:
        rows.append((o.student, o.status, f"{o.score:g} / {o.max_score:g}",
                     f"{o.seconds:.1f}", (o.reason or "")[:70]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
             for r in rows]
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    robust = sum(len(getattr(o, "robust_only", ())) for o in outcomes)
    if robust:
        lines.append(f"{robust} answer(s) failed only the robustness run (right on the real "
                     "data, wrong on the perturbed copy: typed in, or not following the data)")
    return "\n".join(lines)


@grade.command("export")
@click.argument("assignment")
@click.option("--to", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("grading/exports"), show_default=True,
              help="Folder for the CSV files.")
@click.option("--lms", type=click.Choice(["canvas", "moodle"]), default=None,
              help="Also write the gradebook import file of this LMS.")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="CSV mapping nbgrader ids to LMS ids (a Canvas gradebook "
              "export or Moodle grading worksheet works as it is).")
@click.option("--lms-column", default=None, metavar="NAME",
              help="Grade column of the LMS file. Canvas: 'Name (assignment id)' updates "
              "that assignment. Default: the assignment name.")
@click.option("--allow-provisional", is_flag=True,
              help="Write the LMS files even while hand grading is pending (the totals "
              "are then provisional).")
@db_option
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Course root (holds nbgrader_config.py).")
def export_command(assignment, out_dir, lms, roster, lms_column, allow_provisional, root):
    """Write per-question and per-student grade CSVs for ASSIGNMENT.

    \b
    <assignment>-questions.csv: student, assignment, question, score, max_score,
                                status, reason (first line of the failed check)
    <assignment>-totals.csv:    student, assignment, score, max_score, status, reason
    <assignment>-needs-attention.csv: student_id, name, problem, detail, lms_grade
    with --lms canvas: <assignment>-canvas.csv (Canvas Gradebook import)
    with --lms moodle: <assignment>-moodle.csv (Moodle grade import from CSV), and
                       <assignment>-moodle-worksheet.csv when the roster is Moodle's
                       grading worksheet (Upload grading worksheet)

    Scores include hand grading done in formgrader. A submission that could not be
    graded, or was rejected at import, gets an EMPTY grade cell (never 0) and is
    listed in the needs-attention file. While answers still wait for hand grading,
    no LMS file is written unless --allow-provisional. Students missing from the
    roster are listed and written to <assignment>-<lms>-unmatched.csv.

    \b
    Examples:
      dustcourse grade export ps0-warmup
      dustcourse grade export ps0-warmup --lms canvas --lms-column "PS0 (4711)"
      dustcourse grade export ps0-warmup --lms moodle --roster worksheet.csv
    """
    from .export import export, grading_state, write_needs_attention

    if roster and not lms:
        raise click.UsageError("--roster needs --lms canvas or --lms moodle")
    questions, totals = export(root, assignment, out_dir)
    click.echo(f"wrote {questions}\nwrote {totals}")
    state = grading_state(root, assignment)
    rows = state.attention_rows()
    if not lms:
        _report_attention(write_needs_attention(out_dir, assignment, rows), rows)
        return
    from .lms_export import (
        RosterError,
        feedback_comment,
        read_roster,
        write_lms_grades,
        write_moodle_worksheet,
    )

    try:
        mapping = read_roster(roster) if roster else None
    except RosterError as exc:
        raise click.ClickException(str(exc)) from exc
    if state.pending and not allow_provisional:
        path = write_needs_attention(out_dir, assignment, rows)
        pending = "; ".join(f"{s} ({', '.join(qs)})" for s, qs in sorted(state.pending.items()))
        raise click.ClickException(
            f"hand grading is pending, so the totals are provisional; NO {lms} file "
            f"written. Pending: {pending}. Grade them in formgrader, or pass "
            f"--allow-provisional to export provisional totals (see {path}).")
    grades = state.lms_grades()
    result = write_lms_grades(lms, assignment, grades, state.max_score, out_dir, mapping,
                              lms_column, state.names)
    written = {s: ("blank" if grades[s] is None else _lms_text(grades[s], state, s))
               for s in result.written}
    click.echo(f"wrote {result.path}: {len(result.written)} student(s), "
               f"out of {state.max_score:g} points"
               + (f"; {len(result.blank)} left blank (no grade)" if result.blank else ""))
    if mapping is not None and mapping.worksheet and lms == "moodle":
        comments = {s: feedback_comment(assignment, state.totals[s], state.max_score,
                                        state.questions.get(s, []))
                    for s in state.totals if grades.get(s) is not None}
        sheet = write_moodle_worksheet(assignment, grades, state.max_score, out_dir, mapping,
                                       comments)
        click.echo(f"wrote {sheet.path}: the grading worksheet with {len(sheet.written)} "
                   "grade(s) filled in (upload it OR import the CSV file, not both)")
        rows += [[s, state.names.get(s, ""), "locked_in_moodle",
                  "Grade can be changed: No; the worksheet upload will skip it",
                  written.get(s, "")] for s in sheet.locked]
    if mapping is None:
        ident = "ID (Canvas user id)" if lms == "canvas" else "Username"
        click.echo(f"no roster: the nbgrader ids are written as {ident}")
    if result.unmatched:
        click.secho(f"{len(result.unmatched)} graded student(s) not in the roster, NOT in "
                    f"the import file (see {result.unmatched_path}): "
                    + ", ".join(result.unmatched), fg="red", err=True)
        rows += [[s, state.names.get(s, ""), "not_in_roster",
                  f"not in {roster.name}: the LMS could not match them", "not in the file"]
                 for s in result.unmatched]
    if result.not_submitted:
        click.echo(f"{len(result.not_submitted)} roster student(s) without a submission "
                   "(no grade written): " + ", ".join(result.not_submitted))
        rows += [[s, mapping[s].get("name", ""), "missing", "in the roster, no submission",
                  "not in the file"] for s in result.not_submitted]
    for row in rows:
        if not row[4]:
            row[4] = written.get(row[0], "not in the file")
    rows.sort(key=lambda r: (r[0], r[2]))
    _report_attention(write_needs_attention(out_dir, assignment, rows), rows)


def _lms_text(score, state, student) -> str:
    text = f"{score:g}"
    return text + " (provisional)" if student in state.pending else text


def _report_attention(path, rows) -> None:
    if not rows:
        click.echo(f"wrote {path}: no student needs attention")
        return
    click.secho(f"{len(rows)} case(s) need attention (see {path}):", fg="yellow", err=True)
    for student, name, problem, detail, lms_grade in rows:
        click.echo(f"  {student} {name}: {problem}: {detail}"
                   + (f" [LMS: {lms_grade}]" if lms_grade else ""), err=True)


@grade.command("report")
@click.argument("assignment")
@click.option("--to", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for the report. Default: grading/reports/ASSIGNMENT.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Share of a pair's code that must match for a similarity flag. "
              "Default: 0.7.")
@db_option
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Course root (holds nbgrader_config.py).")
def report_command(assignment, out_dir, threshold, root):
    """Write the instructor's HTML report on a graded ASSIGNMENT.

    Score distribution; per question the mean, difficulty index and discrimination
    (item-rest point-biserial correlation); the most frequent failed-check messages;
    counts of timeouts, errors and sandbox refusals; similarity flags (copydetect,
    starter code excluded: flags to review, not verdicts); a per-student table.
    report.html, PNG plots and CSV data go to grading/reports/ASSIGNMENT/.

    \b
    Example:
      dustcourse grade report ps0-warmup
    """
    from .report import build_report
    from .similarity import DEFAULT_THRESHOLD

    if not (root / "nbgrader_config.py").is_file():
        raise click.ClickException(f"{root.resolve()} has no nbgrader_config.py: use --root")
    bars = {}

    def progress(stage, done, total):
        if stage not in bars:
            for bar in bars.values():
                bar.render_finish()
            bars[stage] = click.progressbar(length=total, label=stage.capitalize(),
                                            show_pos=True, file=sys.stderr)
            bars[stage].render_progress()
        bars[stage].update(done - bars[stage].pos)

    try:
        report = build_report(root, assignment, out_dir,
                              threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
                              progress=progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        for bar in bars.values():
            bar.render_finish()
    click.echo(report_summary(report))


def report_summary(report) -> str:
    c, s = report.counts, report.scores
    hardest = min(report.item_stats, key=lambda st: st.difficulty, default=None)
    lines = [
        f"{report.assignment}: {c['students']} submissions, mean {s['mean']:.1f}%, "
        f"median {s['median']:.1f}%",
        f"timeouts: {c['notebook_timeouts']} notebook(s), {c['cell_timeouts']} cell(s); "
        f"kernels died: {c['kernel_died']}; errors: {c['errors']}; "
        f"likely sandbox refusals: {c['sandbox_refusals']}",
        "hardest question: " + (f"{hardest.item} (p = {hardest.difficulty:.2f})"
                                if hardest else "none"),
        f"similarity flags (>= {report.threshold:.2f}): {len(report.flagged)} pair(s)"
        + "".join(f"\n  {p.first} ~ {p.second}: {p.similarity:.0%}" for p in report.flagged),
        f"wrote {report.html}",
    ]
    return "\n".join(lines)


@grade.command("feedback")
@click.argument("assignment")
@click.option("--student", "students", multiple=True, metavar="ID",
              help="Only this student (repeatable). Default: every graded student.")
@db_option
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Course root (holds nbgrader_config.py).")
def feedback_command(assignment, students, root):
    """Write HTML feedback for ASSIGNMENT into feedback/<student>/<assignment>/.

    Shows each student's work, scores and the messages of failed checks, but never
    the source or expected values of hidden tests. Student outputs are sanitised and
    the page runs no script and loads nothing (formgrader's Generate Feedback button
    writes the same pages).
    """
    from .autograde import _coursedir, load_config
    from .database import unreachable

    if (root / "nbgrader_config.py").is_file():  # nbgrader's app logs and hides the cause
        problem = unreachable(_coursedir(load_config(root.resolve())).db_url)
        if problem:
            raise click.ClickException(
                f"cannot use the gradebook: {problem}. Check the URL (--db, "
                "$DUSTCOURSE_DB_URL or nbgrader_config.py) and that the database server "
                "runs (docs/grading.md)")
    from .feedback import generate_feedback

    paths = generate_feedback(root, assignment, list(students) or None)
    click.echo(f"wrote {len(paths)} feedback file(s) under {root / 'feedback'}")


@grade.command("import")
@click.argument("assignment")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--allow-rejects", is_flag=True,
              help="Exit 0 even when some files or students could not be placed.")
@db_option
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Course root (holds nbgrader_config.py).")
def import_command(assignment, source, allow_rejects, root):
    """Import SOURCE (an LMS zip or folder) as submissions of ASSIGNMENT.

    Understands Canvas, Moodle (in folders or flat) and Blackboard downloads and
    nbgrader's <student>/<assignment>/ layout. Per student, the notebook named like
    the assignment (or the only notebook) is graded; other files are listed, never
    written over it. When a student submitted several times the latest wins. Unsafe
    entries (absolute paths, '..', symbolic links, oversized files) are refused.
    Ends with a table of every file: placed, replaced by later, not graded,
    rejected (with the reason); exits 1 if anything was rejected, unless
    --allow-rejects.

    \b
    Example:
      dustcourse grade import ps0-warmup ~/Downloads/submissions.zip
    """
    from .lms_import import (
        UnsafeArchive,
        import_submissions,
        record_names,
        save_record,
        summary_table,
    )

    try:
        report = import_submissions(source, assignment, root)
    except (UnsafeArchive, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary_table(report))
    save_record(root, report)
    if report.names and (root / "nbgrader_config.py").is_file():
        record_names(root, report.names)
    for student, entry, reason in report.rejected:
        click.echo(f"NOT PLACED {entry}" + (f" ({student})" if student else "")
                   + f": {reason}", err=True)
    if report.rejected:
        students = sorted(report.rejected_students)
        message = (f"{len(report.rejected)} file(s) rejected"
                   + (f"; no submission placed for {', '.join(students)}" if students else ""))
        if not allow_rejects:
            raise click.ClickException(
                message + ". Fix the download or pass --allow-rejects to accept this "
                "(the export lists these students as needing attention).")
        click.echo(message + " (accepted with --allow-rejects)", err=True)
