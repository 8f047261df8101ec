"""The ``dustcourse`` command: course maintenance for authors and instructors.

Heavy imports (pandas, nbgrader, frictionless) happen inside the commands, so that
``dustcourse --help`` answers at once.
"""

from __future__ import annotations

import sys

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dustcourse")
def main() -> None:
    """Tools for the Return to Dust data-analysis course.

    \b
    Examples:
      dustcourse exercises generate          # solutions/ -> exercises/ (all assignments)
      dustcourse exercises check             # fail if exercises/ is out of date
      dustcourse data validate               # check data/ against datapackage.json
    """


@main.group()
def exercises() -> None:
    """Generate the student exercises from the instructor sources in solutions/."""


@exercises.command("generate")
@click.argument("assignment", nargs=-1)
def exercises_generate(assignment: tuple[str, ...]) -> None:
    """Regenerate exercises/ASSIGNMENT from solutions/ASSIGNMENT (default: all).

    Writes solutions/<a>/<a>.ipynb from its MyST source <a>.md, then runs
    `nbgrader generate_assignment` (solutions and hidden tests removed, cells locked).
    Commit the changed files under exercises/ afterwards.
    """
    from .exercises import ExerciseError, assignments, generate

    names = list(assignment) or assignments()
    try:
        for path in generate(names):
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


if __name__ == "__main__":  # pragma: no cover
    main()
