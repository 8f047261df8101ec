"""The ``dustcourse`` command: course maintenance for authors and instructors, and
``dustcourse check`` for students.

Heavy imports (pandas, nbgrader, frictionless) happen inside the commands, so that
``dustcourse --help`` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .grading.cli import grade


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dustcourse")
def main() -> None:
    """Tools for the Return to Dust data-analysis course.

    \b
    Examples:
      dustcourse exercises generate          # solutions/ -> exercises/ (all assignments)
      dustcourse exercises check             # fail if exercises/ is out of date
      dustcourse data validate               # check data/ against datapackage.json
      dustcourse grade autograde ps0-warmup  # sandboxed parallel grading (see --help)
      dustcourse check ps0-warmup.ipynb      # run an exercise's public checks
      sudo dustcourse hub                    # the course on a JupyterHub (docs/hub.md)
    """


@main.command("check")
@click.argument(
    "notebook", nargs=-1, required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--timeout", default=60, show_default=True,
              help="Seconds each cell may run before it counts as failed.")
def check_command(notebook: tuple[Path, ...], timeout: int) -> None:
    """Run the public checks of exercise NOTEBOOK(s) and list each question's result.

    The notebook runs from the top in a fresh kernel, in its own folder (so it finds
    its data/), through nbgrader's validator; the file is not changed. Each graded
    cell is listed by its grade id: passed, failed (with the message of the failing
    check) or manual (graded by your instructor). Exits 1 when a check fails.

    \b
    Example:
      dustcourse check ps0-warmup/ps0-warmup.ipynb
    """
    from .check import check

    failed = False
    for path in notebook:
        report = check(path, timeout=timeout)
        click.echo(str(report))
        failed = failed or not report.ok
    if failed:
        sys.exit(1)


@main.group()
def exercises() -> None:
    """Generate the student exercises from the instructor sources in solutions/."""


@exercises.command("generate")
@click.argument("assignment", nargs=-1)
@click.option("--db", "db_url", metavar="URL", default=None,
              help="Record the assignments in this gradebook (database URL). Default: "
                   "$DUSTCOURSE_DB_URL, else nbgrader_config.py's (SQLite gradebook.db).")
def exercises_generate(assignment: tuple[str, ...], db_url: str | None) -> None:
    """Regenerate exercises/ASSIGNMENT from solutions/ASSIGNMENT (default: all).

    Writes solutions/<a>/<a>.ipynb from its MyST source <a>.md, then runs
    `nbgrader generate_assignment` (solutions and hidden tests removed, cells locked),
    which records each assignment and its tests in the gradebook.
    Commit the changed files under exercises/ afterwards.
    """
    from .exercises import ExerciseError, assignments, generate

    names = list(assignment) or assignments()
    try:
        for path in generate(names, db_url=db_url):
            click.echo(f"generated {path.relative_to(path.parents[1])}")
    except ExerciseError as exc:
        raise click.ClickException(str(exc)) from exc


@exercises.command("check")
@click.argument("assignment", nargs=-1)
def exercises_check(assignment: tuple[str, ...]) -> None:
    """Exit 1 if the committed exercises differ from a fresh generation.

    Fix a failure with `dustcourse exercises generate` and commit the result.
    """
    from .exercises import ExerciseError, out_of_sync

    try:
        problems = out_of_sync(list(assignment) or None)
    except ExerciseError as exc:
        raise click.ClickException(str(exc)) from exc
    if problems:
        click.echo("\n".join(problems), err=True)
        click.echo("Run `dustcourse exercises generate` and commit exercises/.", err=True)
        sys.exit(1)
    click.echo("exercises/ is in sync with solutions/")


@main.group()
def data() -> None:
    """Inspect and check the data package in data/."""


@data.command("validate")
def data_validate() -> None:
    """Validate every table against data/datapackage.json (Frictionless)."""
    from .data import DataError, table_names, validate

    failed = 0
    for name in table_names():
        try:
            validate(name)
            click.echo(f"ok      {name}")
        except DataError as exc:
            failed += 1
            click.echo(f"FAILED  {exc}", err=True)
    if failed:
        sys.exit(1)


@data.command("list")
def data_list() -> None:
    """List the tables with their row counts and titles."""
    from .data import describe, load, table_names

    for name in table_names():
        df = load(name, check=False)
        click.echo(f"{name:28} {len(df):5d} rows  {describe(name).get('title', '')}")


@main.command("hub")
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1.")
@click.option("--exchange", type=click.Path(file_okay=False, path_type=Path),
              default=Path("/srv/nbgrader/exchange"), show_default=True,
              help="nbgrader's exchange folder (nbgrader's default place).")
def hub_command(port: int, exchange: Path) -> None:
    """Start the course's JupyterHub on http://127.0.0.1:PORT for a local trial.

    Run as root (`sudo make hub`): the hub spawns each student's JupyterLab as that
    student. The trial accounts (dust-student1, dust-student2, made by `make setup`)
    get fresh random passwords, printed here. Release from the course root with
    `nbgrader release_assignment ps0-warmup` (the default exchange; docs/hub.md has the
    whole loop and a production set-up). Ctrl-C stops the hub and the students' servers.
    """
    import os
    import signal

    from .hub import TRIAL_RUNTIME, HubError, configure, set_passwords, start_hub, stop_hub

    # The course's exchange folders belong to whoever runs the instructor's commands:
    # the user who called sudo.
    owner = (int(os.environ.get("SUDO_UID", os.getuid())),
             int(os.environ.get("SUDO_GID", os.getgid())))
    try:
        # root's files stay out of the clone (which `make clean` empties as its owner)
        hub = configure(TRIAL_RUNTIME, exchange=exchange.resolve(), port=port, owner=owner)
        passwords = set_passwords(hub.students)
        start_hub(hub)
    except HubError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"JupyterHub: {hub.url}/  (log: {hub.log})")
    for user, password in passwords.items():
        click.echo(f"  log in as {user} with password {password}")
    click.echo(f"Exchange: {hub.exchange}/{hub.course_id}. Ctrl-C stops the hub.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        hub.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_hub(hub)


main.add_command(grade)  # dustcourse grade import|autograde|feedback|export


if __name__ == "__main__":  # pragma: no cover
    main()
