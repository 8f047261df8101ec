"""Load the course's data tables as typed pandas DataFrames.

Every table in ``data/`` is described in ``data/datapackage.json`` (a Frictionless
Data Package). :func:`load` validates the file against that description and
converts each column to the type the schema gives it:

* ``integer`` -> ``int64`` (``Int64`` when the column has gaps), ``number`` -> ``float64``;
* ``date`` -> ``datetime64``, ``yearmonth`` -> ``Period[M]``, ``year`` -> ``Int64``;
* ``boolean`` -> ``bool`` (``verified`` columns: ``yes``/``no`` in the file);
* a string field with an ``enum`` constraint -> ``category`` with those categories;
* a string field marked ``"partialDate": true`` (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``)
  keeps its text and gains ``<name>_start`` (first day it can mean) and ``<name>_precision``;
* a string field marked ``"numberOrDate": true`` (the ``value`` of the article figures)
  keeps its text and gains ``<name>_number`` plus the partial-date columns above.

Units and descriptions from the schema are in ``df.attrs["units"]`` and
``df.attrs["descriptions"]``; the resource's sources are in ``df.attrs["sources"]``.

A missing file raises :class:`DataFileMissingError`; a file that breaks its schema
raises :class:`SchemaViolationError` naming the rows, fields and rules broken.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pandas as pd

__all__ = [
    "DataError",
    "DataFileMissingError",
    "SchemaViolationError",
    "UnknownTableError",
    "data_dir",
    "describe",
    "load",
    "table_names",
    "validate",
]


class DataError(Exception):
    """Base class for problems with the course's data files."""


class DataFileMissingError(DataError, FileNotFoundError):
    """A table's CSV file (or the datapackage descriptor) is not where it should be."""


class SchemaViolationError(DataError, ValueError):
    """A table's CSV file does not match its schema in datapackage.json."""


class UnknownTableError(DataError, KeyError):
    """No table of that name is described in datapackage.json."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


def data_dir() -> Path:
    """The folder holding the CSV files and datapackage.json.

    ``$DUSTCOURSE_DATA`` overrides it (the tests use this to check a modified copy).
    """
    override = os.environ.get("DUSTCOURSE_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "data"


def _descriptor_path(directory: Path) -> Path:
    path = directory / "datapackage.json"
    if not path.is_file():
        raise DataFileMissingError(
            f"{path} is missing: the data package descriptor is needed to load any table. "
            "Restore it with `git checkout -- data/datapackage.json`."
        )
    return path


@cache
def _descriptor(directory: Path) -> dict:
    return json.loads(_descriptor_path(directory).read_text(encoding="utf-8"))


def table_names(directory: Path | None = None) -> list[str]:
    """Names of all tables described in the data package."""
    return [r["name"] for r in _descriptor(directory or data_dir())["resources"]]


def describe(name: str, directory: Path | None = None) -> dict:
    """The datapackage.json entry (path, schema, sources...) of one table."""
    for resource in _descriptor(directory or data_dir())["resources"]:
        if resource["name"] == name:
            return resource
    raise UnknownTableError(
        f"no table named {name!r} in the data package; known tables: "
        + ", ".join(table_names(directory))
    )


def _csv_path(resource: dict, directory: Path) -> Path:
    path = directory / resource["path"]
    if not path.is_file():
        raise DataFileMissingError(
            f"table {resource['name']!r}: file {path} is missing. "
            f"Restore it with `git checkout -- data/{resource['path']}`."
        )
    return path


def validate(name: str, directory: Path | None = None) -> None:
    """Check one table against its schema with Frictionless; raise on the first problems."""
    directory = directory or data_dir()
    resource = describe(name, directory)
    _csv_path(resource, directory)
    _validated(name, directory, _fingerprint(directory / resource["path"]))


def _fingerprint(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@cache
def _validated(name: str, directory: Path, fingerprint: tuple[int, int]) -> None:
    from frictionless import Package, system

    with system.use_context(trusted=True):
        package = Package(str(_descriptor_path(directory)))
        report = package.get_resource(name).validate()
    if report.valid:
        return
    problems = [
        f"  row {e.row_number}, field {e.field_name!r}: {e.message}"
        if getattr(e, "row_number", None)
        else f"  {e.message}"
        for task in report.tasks
        for e in task.errors
    ]
    shown = "\n".join(problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    raise SchemaViolationError(
        f"table {name!r} ({directory / describe(name, directory)['path']}) breaks its schema "
        f"in data/datapackage.json:\n{shown}{more}"
    )


def _partial_date_columns(text: pd.Series, name: str) -> dict[str, pd.Series]:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` -> first possible day and precision."""
    length = text.str.len()
    precision = pd.Series(pd.NA, index=text.index, dtype="object")
    precision[length == 10] = "day"
    precision[length == 7] = "month"
    precision[length == 4] = "year"
    padded = text.where(length != 7, text + "-01").where(length != 4, text + "-01-01")
    start = pd.to_datetime(padded.where(precision.notna()), format="%Y-%m-%d")
    return {
        f"{name}_start": start,
        f"{name}_precision": precision.astype(pd.CategoricalDtype(["year", "month", "day"])),
    }


def _convert(raw: pd.DataFrame, schema: dict) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for field in schema["fields"]:
        name, kind = field["name"], field.get("type", "string")
        col = raw[name]
        if kind == "integer":
            col = pd.to_numeric(col).astype("Int64" if col.isna().any() else "int64")
        elif kind == "number":
            col = pd.to_numeric(col).astype("float64")
        elif kind == "date":
            col = pd.to_datetime(col, format="%Y-%m-%d")
        elif kind == "yearmonth":
            col = pd.PeriodIndex(col, freq="M").to_series(index=raw.index)
        elif kind == "year":
            col = pd.to_numeric(col).astype("Int64")
        elif kind == "boolean":
            true_values = field.get("trueValues", ["true"])
            col = col.isin(true_values)
        elif "enum" in field.get("constraints", {}):
            col = col.astype(pd.CategoricalDtype(field["constraints"]["enum"]))
        columns[name] = col
        if field.get("numberOrDate"):
            is_number = col.str.fullmatch(r"-?\d+(\.\d+)?", na=False)
            columns[f"{name}_number"] = pd.to_numeric(col.where(is_number)).astype("float64")
            columns.update(_partial_date_columns(col.where(~is_number), name))
        elif field.get("partialDate"):
            columns.update(_partial_date_columns(col, name))
    return pd.DataFrame(columns, index=raw.index)


def load(name: str, *, directory: Path | None = None, check: bool = True) -> pd.DataFrame:
    """Load one table of the data package as a typed DataFrame.

    >>> figures = load("article_figures")          # doctest: +SKIP
    >>> figures.attrs["units"]["value"]            # doctest: +SKIP

    ``check=False`` skips the Frictionless validation (faster, for repeated loads).
    """
    directory = directory or data_dir()
    resource = describe(name, directory)
    path = _csv_path(resource, directory)
    if check:
        validate(name, directory)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    expected = [f["name"] for f in resource["schema"]["fields"]]
    if list(raw.columns) != expected:
        raise SchemaViolationError(
            f"table {name!r} ({path}): columns are {list(raw.columns)}, "
            f"but data/datapackage.json expects {expected}"
        )
    df = _convert(raw, resource["schema"])
    df.attrs["table"] = name
    df.attrs["title"] = resource.get("title", name)
    df.attrs["units"] = {f["name"]: f["unit"] for f in resource["schema"]["fields"] if "unit" in f}
    df.attrs["descriptions"] = {
        f["name"]: f.get("description", "") for f in resource["schema"]["fields"]
    }
    df.attrs["sources"] = resource.get("sources", [])
    return df
