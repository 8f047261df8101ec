"""Perturbed copies of the course's data tables, for the grader's robustness run.

The rules live beside the data package, in ``data/perturbations.json``: for each table
(by its name in ``data/datapackage.json``) a list of operations applied in order to the
CSV text. Every random choice (a factor, a shift, which rows are copied, the new row
order) is drawn from a generator seeded with the assignment, the course secret and the
rule's ``group``, so the same assignment and secret always give the same copy, rules
sharing a group share their draw (one factor for several tables), and students who do
not know the secret cannot predict the numbers.

Operations (``"op"``; ``where`` is ``{column: [allowed values]}``, rows matching every
column; ``digits`` is the number of decimals written, by default the original cell's):

``shuffle``
    reorder the rows.
``scale``
    multiply ``columns`` by a factor drawn log-uniformly from ``factor: [lo, hi]`` and
    at least ``min_change`` (default 0.05) away from 1; with ``trend: {"column", "from",
    "rate": [lo, hi], "group"}`` also by ``(1 + rate) ** (row[column] - from)``.
``shift``
    add a whole number drawn from ``by: [lo, hi]`` (never 0), times ``sign`` (1 or -1),
    to ``columns``: numbers, years, or ISO dates (``kind: "date"``, in days).
``stretch``
    move full ISO dates (``kind: "date"``) or years (``kind: "year"``) away from
    ``anchor`` by a factor from ``factor: [lo, hi]`` (> 1): order kept, gaps changed.
``derive``
    set ``column`` to a Python expression of the row's other (numeric) columns, where
    every column it names is filled in; ``digits`` decimals.
``printed``
    keep a printed form in step with its value (``value`` and ``printed`` name the two
    columns): in every row whose printed text agreed with its value in the real table
    (the one number printed, times a power of a thousand, is the value; or a number
    word; or a date printed as "February 13" or "Nov.1"), the number or date in the
    text is rewritten for the perturbed value, with as many significant digits as it
    had but at least three, and no decimals added to a whole number (one more digit if
    that would print the old figure again), and the value becomes
    exactly what is printed. Rows whose text did not agree are left alone. Put it after
    the operations that change the value.
``add_rows``
    copy ``count`` rows chosen among those matching ``where``, with new keys
    (``key: {"column", "suffix": "_x{n}"}`` or ``{"column", "numbered": "v{n:02d}"}``,
    numbered after the largest existing one), cells from ``set``, and ``jitter``
    (``{"column", "factor": [lo, hi]}``) applied to the copies; or, with ``rows``,
    add those literal rows.

:func:`perturb_files` applies the rules to an assignment's files ({relative path:
bytes}); :func:`validate_perturbed` checks perturbed tables with Frictionless against
the same schema as the real ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import random
import re
import secrets
import shutil
import tempfile
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path, PurePosixPath

RULES_FILE = "perturbations.json"
SECRET_ENV = "DUSTCOURSE_GRADING_SECRET"
SECRET_FILE = Path("grading") / "secret"  # under the course root; gitignored

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class PerturbationError(ValueError):
    """A rule that cannot be applied, or a perturbed table that breaks its schema."""


def course_secret(root: Path) -> str:
    """The course's grading secret: $DUSTCOURSE_GRADING_SECRET, else ``grading/secret``
    under the course root, created (random) on first use. Never shipped to students."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    path = Path(root) / SECRET_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def load_rules(data_directory: Path) -> dict:
    rules = json.loads((Path(data_directory) / RULES_FILE).read_text())
    return rules["tables"]


def _datapackage(data_directory: Path) -> dict:
    return json.loads((Path(data_directory) / "datapackage.json").read_text())


class _Draws:
    """Seeded random draws: one generator per (assignment, secret, group)."""

    def __init__(self, assignment: str, secret: str):
        self.assignment, self.secret = assignment, secret
        self.cache: dict[tuple, object] = {}

    def rng(self, group: str) -> random.Random:
        seed = hashlib.sha256(f"{self.secret}\0{self.assignment}\0{group}".encode()).digest()
        return random.Random(int.from_bytes(seed[:16], "big"))

    def factor(self, group: str, bounds, min_change: float = 0.05) -> float:
        key = ("factor", group)
        if key not in self.cache:
            lo, hi = (float(b) for b in bounds)
            rng = self.rng(group)
            for _ in range(1000):
                value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
                if abs(value - 1) >= min_change:
                    break
            else:
                raise PerturbationError(f"no factor in {bounds} is {min_change} away from 1")
            self.cache[key] = value
        return self.cache[key]

    def integer(self, group: str, bounds) -> int:
        key = ("integer", group)
        if key not in self.cache:
            lo, hi = (int(b) for b in bounds)
            choices = [v for v in range(lo, hi + 1) if v != 0]
            if not choices:
                raise PerturbationError(f"no non-zero whole number in {bounds}")
            self.cache[key] = self.rng(group).choice(choices)
        return self.cache[key]


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def _format(value: float, digits: int) -> str:
    if digits <= 0:
        return str(round(value))
    return f"{value:.{digits}f}"


def _matches(row: dict, where: Mapping | None) -> bool:
    return all(row.get(col, "") in allowed for col, allowed in (where or {}).items())


def _read(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


_ORIGINAL = "\0original"  # each row's cells in the real table (copies keep their source's)


def _write(header: list[str], rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _columns(rule: dict) -> list[str]:
    return rule["columns"] if "columns" in rule else [rule["column"]]


def _scale(rows, rule, draws, group):
    factor = draws.factor(rule.get("group", group), rule["factor"], rule.get("min_change", 0.05))
    trend = rule.get("trend")
    rate = (draws.factor(trend.get("group", group + ":trend"), [1 + r for r in trend["rate"]],
                         min_change=0) - 1) if trend else 0.0
    for row in rows:
        if not _matches(row, rule.get("where")):
            continue
        row_factor = factor
        if trend and row.get(trend["column"], ""):
            row_factor *= (1 + rate) ** (float(row[trend["column"]]) - float(trend["from"]))
        for col in _columns(rule):
            cell = row.get(col, "")
            if _NUMBER.fullmatch(cell):
                digits = rule.get("digits", _decimals(cell))
                row[col] = _format(float(cell) * row_factor, digits)


def _shift_date(text: str, days: int) -> str:
    return (date.fromisoformat(text) + timedelta(days=days)).isoformat()


def _shift(rows, rule, draws, group):
    amount = draws.integer(rule.get("group", group), rule["by"]) * int(rule.get("sign", 1))
    for row in rows:
        if not _matches(row, rule.get("where")):
            continue
        for col in _columns(rule):
            cell = row.get(col, "")
            if rule.get("kind") == "date" and _FULL_DATE.fullmatch(cell):
                row[col] = _shift_date(cell, amount)
            elif rule.get("kind") != "date" and _NUMBER.fullmatch(cell):
                row[col] = _format(float(cell) + amount, _decimals(cell))


def _stretch(rows, rule, draws, group):
    factor = draws.factor(rule.get("group", group), rule["factor"], rule.get("min_change", 0.02))
    if factor < 1:
        raise PerturbationError("a stretch factor below 1 could merge dates: use factor > 1")
    kind = rule.get("kind", "date")
    for row in rows:
        if not _matches(row, rule.get("where")):
            continue
        for col in _columns(rule):
            cell = row.get(col, "")
            if kind == "date" and _FULL_DATE.fullmatch(cell):
                anchor = date.fromisoformat(rule["anchor"])
                offset = (date.fromisoformat(cell) - anchor).days
                row[col] = _shift_date(rule["anchor"], round(offset * factor))
            elif kind == "year" and re.fullmatch(r"\d{4}", cell):
                anchor = int(rule["anchor"])
                row[col] = str(anchor + round((int(cell) - anchor) * factor))


def _derive(rows, rule, draws, group):
    expression = compile(rule["expression"], rule["column"], "eval")
    names = expression.co_names
    for row in rows:
        if not _matches(row, rule.get("where")):
            continue
        if not all(_NUMBER.fullmatch(row.get(n, "") or "") for n in names if n in row):
            continue
        values = {n: float(row[n]) for n in names if n in row}
        value = eval(expression, {"__builtins__": {}, "round": round}, values)  # course rules
        row[rule["column"]] = _format(value, int(rule.get("digits", 0)))


def _add_rows(rows, rule, draws, group):
    rng = draws.rng(rule.get("group", group))
    if "rows" in rule:
        new = [dict.fromkeys(rows[0] if rows else [], "") | r for r in rule["rows"]]
        rows.extend({k: str(v) for k, v in r.items()} for r in new)
        return
    candidates = [r for r in rows if _matches(r, rule.get("where"))]
    if not candidates:
        raise PerturbationError(f"add_rows: no row matches {rule.get('where')}")
    key = rule["key"]
    column = key["column"]
    taken = {r[column] for r in rows}
    numbers = [int(m.group()) for r in rows for m in [re.search(r"\d+$", r[column])] if m]
    next_number = max(numbers, default=0) + 1
    for n in range(1, int(rule.get("count", 1)) + 1):
        copy = dict(rng.choice(candidates))
        if "suffix" in key:
            copy[column] = copy[column] + key["suffix"].format(n=n)
        else:
            copy[column] = key["numbered"].format(n=next_number)
            next_number += 1
        if copy[column] in taken:
            raise PerturbationError(f"add_rows: key {copy[column]!r} already exists")
        taken.add(copy[column])
        copy.update({k: str(v) for k, v in rule.get("set", {}).items()})
        jitter = rule.get("jitter")
        if jitter and _NUMBER.fullmatch(copy.get(jitter["column"], "")):
            cell = copy[jitter["column"]]
            lo, hi = jitter["factor"]
            value = float(cell) * math.exp(rng.uniform(math.log(lo), math.log(hi)))
            copy[jitter["column"]] = _format(value, _decimals(cell))
        rows.append(copy)


_NUMBER_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?")
_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
          "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
          "seventeen", "eighteen", "nineteen", "twenty"]
_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_MONTH_DAY = re.compile(r"\b(" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS)
                        + r")(\.?\s*)(\d{1,2})\b")


MIN_SIGNIFICANT = 3  # printed figures keep the value to 3 digits: ratios barely move


def _significant(token: str) -> int:
    digits = token.replace(",", "")
    if "." in digits:
        return len(digits.replace(".", "").lstrip("0")) or 1
    return len(digits.lstrip("0").rstrip("0")) or 1


def _printed_date(text: str, value: str):
    """The "Month D" match of ``text`` that prints the ISO date ``value`` (None if none)."""
    if not _FULL_DATE.fullmatch(value):
        return None
    day = date.fromisoformat(value)
    matches = [m for m in _MONTH_DAY.finditer(text)
               if m.group(1)[:3].lower() == _MONTHS[day.month - 1][:3].lower()
               and int(m.group(3)) == day.day]
    return matches[0] if len(matches) == 1 else None


def _printed_number(text: str, value: str):
    """(match, scale) of the one number ``text`` prints for ``value`` (None if it does not
    print it): the number times 1, 10^3, 10^6 or 10^9 is the value."""
    if not _NUMBER.fullmatch(value or ""):
        return None
    tokens = list(_NUMBER_TOKEN.finditer(text))
    if len(tokens) == 1:
        number = float(tokens[0].group().replace(",", ""))
        for scale in (1, 1e3, 1e6, 1e9):
            if number and math.isclose(number * scale, float(value), rel_tol=1e-12):
                return tokens[0], scale
        return None
    words = list(_WORD.finditer(text))
    if not tokens and len(words) == 1 and _WORDS.index(words[0].group().lower()) == float(value):
        return words[0], None
    return None


def printed_agrees(text: str, value: str) -> bool:
    """Does the printed ``text`` print ``value`` (the relation :func:`_printed` keeps)?"""
    return bool(_printed_date(text or "", value or "") or _printed_number(text or "", value or ""))


def _printed(rows, rule, draws, group):
    value_col, text_col = rule["value"], rule["printed"]
    for row in rows:
        original = row.get(_ORIGINAL)
        if original is None or row[value_col] == original[value_col]:
            continue
        old_text, old_value = original[text_col], original[value_col]
        if row[text_col] != old_text:
            continue  # a rule already rewrote it
        match = _printed_date(old_text, old_value)
        if match and _FULL_DATE.fullmatch(row[value_col]):
            new = date.fromisoformat(row[value_col])
            month = _MONTHS[new.month - 1]
            name = month if len(match.group(1)) > 3 else month[:3]
            row[text_col] = (old_text[:match.start()] + f"{name}{match.group(2)}{new.day}"
                             + old_text[match.end():])
            continue
        found = _printed_number(old_text, old_value)
        if not found or not _NUMBER.fullmatch(row[value_col]):
            continue
        match, scale = found
        target = float(row[value_col])
        if scale is None:  # a number word
            number = round(target)
            if not 0 <= number < len(_WORDS) or number == float(old_value):
                row[value_col] = old_value  # no word to print it: the row stays as it was
                continue
            word = _WORDS[number]
            word = word.capitalize() if match.group()[0].isupper() else word
            row[text_col] = old_text[:match.start()] + word + old_text[match.end():]
            row[value_col] = _format(number, _decimals(old_value))
            continue
        token = match.group()
        first = max(_significant(token), MIN_SIGNIFICANT)
        for significant in range(first, first + 4):
            number = target / scale
            magnitude = math.floor(math.log10(abs(number))) if number else 0
            places = significant - 1 - magnitude
            if scale == 1:  # a whole number stays whole ("600 households", "39-year-old")
                places = min(places, _decimals(token))
            decimals = max(0, places)
            rounded = round(number, places)
            printed = f"{rounded:,.{decimals}f}" if "," in token else f"{rounded:.{decimals}f}"
            if printed != token:
                break
        row[text_col] = old_text[:match.start()] + printed + old_text[match.end():]
        row[value_col] = _format(float(printed.replace(",", "")) * scale, _decimals(old_value))


def _shuffle(rows, rule, draws, group):
    draws.rng(rule.get("group", group)).shuffle(rows)


OPERATIONS = {"shuffle": _shuffle, "scale": _scale, "shift": _shift, "stretch": _stretch,
              "derive": _derive, "add_rows": _add_rows, "printed": _printed}


def perturb_table(table: str, text: str, rules: list[dict], assignment: str, secret: str,
                  draws: _Draws | None = None) -> str:
    """The perturbed CSV text of one table (``rules``: its list from the rules file)."""
    draws = draws or _Draws(assignment, secret)
    header, rows = _read(text)
    for row in rows:
        row[_ORIGINAL] = dict(row)
    for index, rule in enumerate(rules):
        operation = OPERATIONS.get(rule.get("op"))
        if operation is None:
            raise PerturbationError(f"{table}: unknown operation {rule.get('op')!r}")
        operation(rows, rule, draws, f"{table}#{index}")
    return _write(header, rows)


def table_paths(data_directory: Path) -> dict[str, str]:
    """file name (``article_figures.csv``) -> table name, from the data package."""
    return {r["path"]: r["name"] for r in _datapackage(data_directory)["resources"]}


def perturb_files(files: Mapping[str, bytes], assignment: str, secret: str,
                  data_directory: Path) -> dict[str, bytes]:
    """The assignment's files with every data table (``data/<table file>``) perturbed.

    Raises :class:`PerturbationError` for a shipped table that has no rules, so that no
    file an assignment reads is left as it is by mistake.
    """
    rules = load_rules(data_directory)
    tables = table_paths(data_directory)
    draws = _Draws(assignment, secret)
    out = dict(files)
    for name, content in files.items():
        path = PurePosixPath(name)
        if path.parent != PurePosixPath("data") or path.name not in tables:
            continue
        table = tables[path.name]
        if table not in rules:
            raise PerturbationError(f"no perturbation rules for table {table!r} "
                                    f"in {data_directory / RULES_FILE}")
        text = content.decode("utf-8")
        out[name] = perturb_table(table, text, rules[table], assignment, secret,
                                  draws).encode("utf-8")
    return out


_COLUMN_KEYS = ("column", "value", "printed")


def check_rules(data_directory: Path) -> list[str]:
    """Problems of the rules file against the data package ([] if none): a table the
    package does not have, an unknown operation, a column its table does not have."""
    problems = []
    schemas = {r["name"]: {f["name"] for f in r["schema"]["fields"]}
               for r in _datapackage(data_directory)["resources"]}
    for table, rules in load_rules(data_directory).items():
        if table not in schemas:
            problems.append(f"{table}: not a table of the data package")
            continue
        for index, rule in enumerate(rules):
            where = f"{table} rule {index + 1} ({rule.get('op')})"
            if rule.get("op") not in OPERATIONS:
                problems.append(f"{where}: unknown operation")
            named = list(rule.get("columns", [])) + list(rule.get("where", {}) or {})
            named += [rule[k] for k in _COLUMN_KEYS if k in rule]
            named += [rule[k]["column"] for k in ("trend", "key", "jitter") if k in rule]
            if rule.get("op") == "printed" and not {"value", "printed"} <= set(rule):
                problems.append(f"{where}: name the value and printed columns")
            problems += [f"{where}: no column {c!r}" for c in named if c not in schemas[table]]
    return problems


def relation_problems(table: str, original: str, perturbed: str, rules: list[dict]) -> list[str]:
    """Rows of a perturbed table (CSV text) that break a relation its ``printed`` rules
    keep: a printed text that agreed with its value in the real table and no longer
    does. Rows are matched by their first column (the key)."""
    header, before = _read(original)
    _, after = _read(perturbed)
    key = header[0]
    real = {row[key]: row for row in before}
    problems = []
    for rule in rules:
        if rule.get("op") != "printed":
            continue
        value, text = rule["value"], rule["printed"]
        for row in after:
            source = real.get(row[key])
            if source and printed_agrees(source[text], source[value]) \
                    and not printed_agrees(row[text], row[value]):
                problems.append(f"{table}: row {row[key]}: {text} {row[text]!r} does not "
                                f"print {value} {row[value]!r}")
    return problems


def validate_perturbed(files: Mapping[str, bytes], data_directory: Path,
                       originals: Mapping[str, bytes] | None = None) -> list[str]:
    """Problems of the perturbed tables against data/datapackage.json ([] if none),
    and, given the real ``originals``, the relations the rules keep
    (:func:`relation_problems`).

    The tables are checked in a copy of the data folder, so foreign keys into tables
    the assignment does not ship are checked against the real ones.
    """
    from frictionless import Package, system

    tables = table_paths(data_directory)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dustcourse-perturbed-") as tmp:
        for path in Path(data_directory).iterdir():
            if path.is_file():
                shutil.copy(path, Path(tmp, path.name))
        names = []
        for name, content in files.items():
            path = PurePosixPath(name)
            if path.parent == PurePosixPath("data") and path.name in tables:
                Path(tmp, path.name).write_bytes(content)
                names.append(tables[path.name])
        with system.use_context(trusted=True):
            package = Package(str(Path(tmp, "datapackage.json")))
            for table in sorted(names):
                report = package.get_resource(table).validate()
                problems += [
                    f"{table}: row {getattr(e, 'row_number', '?')}, field "
                    f"{getattr(e, 'field_name', '?')}: {e.message}"
                    for task in report.tasks for e in task.errors
                ]
    rules = load_rules(data_directory)
    for name, content in (originals or {}).items():
        table = tables.get(PurePosixPath(name).name)
        if PurePosixPath(name).parent == PurePosixPath("data") and table and name in files:
            problems += relation_problems(table, content.decode("utf-8"),
                                          files[name].decode("utf-8"), rules.get(table, []))
    return problems
