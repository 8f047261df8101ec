"""A synthetic ps0-warmup class whose item statistics, misconceptions and copies are
known in advance (used by tests/test_grading_report.py).

30 students. 28 "independent" students each write every answer their own way: each
answer cell has seven correct formulations, and student (x, y) uses formulation
(x + q·y) mod 7 for answer cell q, so two students share at most one formulation
(a Latin-square design: (x − x') + q(y − y') ≡ 0 mod 7 has at most one solution q).
On top of that, controlled mistakes (the wrong-answer table below), one student whose
last answer loops forever (it times out), one who writes outside the sandbox's
scratch folder, one who hands in the blank notebook, and one who copies another
student's notebook except one answer, renaming variables and rewording comments
(s29 copies s05).
"""

from __future__ import annotations

import re

# --- seven correct formulations of each answer cell --------------------------------

Q1 = [
    'figures_per_article = figures["article"].value_counts()',
    'figures_per_article = figures.groupby("article").size()',
    "counts = {}\n"
    'for name in figures["article"]:\n'
    "    counts[name] = counts.get(name, 0) + 1\n"
    "figures_per_article = pd.Series(counts)",
    'figures_per_article = figures.groupby("article")["id"].count()',
    "from collections import Counter\n"
    'figures_per_article = pd.Series(Counter(figures["article"].tolist()))',
    'figures_per_article = pd.crosstab(figures["article"], columns="n")["n"]',
    'tally = figures.pivot_table(index="article", values="id", aggfunc="count")\n'
    'figures_per_article = tally["id"]',
]

Q2 = [
    'pair = figures[figures["pair"] == "nc_gross_by_sep7"].set_index("unit")\n'
    'implied_rate = float(pair.loc["yuan", "value"]) / float(pair.loc["USD", "value"])',
    'rows = figures[figures["pair"] == "nc_gross_by_sep7"]\n'
    'yuan_amount = float(rows[rows["unit"] == "yuan"]["value"].iloc[0])\n'
    'usd_amount = float(rows[rows["unit"] == "USD"]["value"].iloc[0])\n'
    "implied_rate = yuan_amount / usd_amount",
    'lookup = figures.set_index("id")["value"]\n'
    'implied_rate = float(lookup["nc_gross_by_sep7_yuan"]) / float(lookup["nc_gross_by_sep7_usd"])',
    "sub = figures.query(\"pair == 'nc_gross_by_sep7'\")\n"
    'amounts = dict(zip(sub["unit"], pd.to_numeric(sub["value"])))\n'
    'implied_rate = float(amounts["yuan"] / amounts["USD"])',
    "numbers = {}\n"
    "for row in figures.itertuples():\n"
    '    if row.pair == "nc_gross_by_sep7":\n'
    "        numbers[row.unit] = float(row.value)\n"
    'implied_rate = numbers["yuan"] / numbers["USD"]',
    'sel = figures.loc[figures["pair"].eq("nc_gross_by_sep7"), ["unit", "value"]]\n'
    'series = pd.to_numeric(sel.set_index("unit")["value"])\n'
    'implied_rate = float(series["yuan"]) / float(series["USD"])',
    "def amount(unit):\n"
    '    mask = (figures["pair"] == "nc_gross_by_sep7") & (figures["unit"] == unit)\n'
    '    return float(figures.loc[mask, "value"].squeeze())\n'
    'implied_rate = amount("yuan") / amount("USD")',
]

MU_LINE = "M2_PER_MU = 10_000 / 15\n"
Q3 = [
    MU_LINE + 'by_id = figures.set_index("id")\n'
    'land_m2 = float(by_id.loc["nc_land_rented_mu", "value"]) * M2_PER_MU\n'
    'printed_m2 = float(by_id.loc["nc_land_rented_km2", "value"]) * 1_000_000\n'
    "error_factor = printed_m2 / land_m2",
    MU_LINE + 'mu = float(figures.loc[figures["id"] == "nc_land_rented_mu", "value"].iloc[0])\n'
    'km2 = float(figures.loc[figures["id"] == "nc_land_rented_km2", "value"].iloc[0])\n'
    "land_m2 = mu * M2_PER_MU\n"
    "error_factor = km2 * 1e6 / land_m2",
    MU_LINE + 'values = pd.to_numeric(figures.set_index("id")["value"], errors="coerce")\n'
    'land_m2 = values["nc_land_rented_mu"] * M2_PER_MU\n'
    'error_factor = values["nc_land_rented_km2"] * 1_000_000 / land_m2',
    MU_LINE + "def number(key):\n"
    '    return float(figures.query("id == @key")["value"].iloc[0])\n'
    'land_m2 = number("nc_land_rented_mu") * M2_PER_MU\n'
    'error_factor = number("nc_land_rented_km2") * 10**6 / land_m2',
    MU_LINE + 'table = dict(zip(figures["id"], figures["value"]))\n'
    'land_m2 = float(table["nc_land_rented_mu"]) * M2_PER_MU\n'
    'article_m2 = float(table["nc_land_rented_km2"]) * 1000 * 1000\n'
    "error_factor = article_m2 / land_m2",
    MU_LINE + 'rented = figures[figures.id.str.startswith("nc_land_rented")]\n'
    'area = dict(zip(rented.unit, rented.value.astype(float)))\n'
    'land_m2 = area["mu"] * M2_PER_MU\n'
    'error_factor = area["km2"] * 1_000_000 / land_m2',
    MU_LINE + "for row in figures.itertuples():\n"
    '    if row.id == "nc_land_rented_mu":\n'
    "        land_m2 = float(row.value) * M2_PER_MU\n"
    '    elif row.id == "nc_land_rented_km2":\n'
    "        km2_printed = float(row.value)\n"
    "error_factor = km2_printed * 1_000_000 / land_m2",
]

Q4 = [
    'usd_figures = figures[figures["unit"] == "USD"].sort_values(\n'
    '    "value", key=pd.to_numeric, ascending=False\n)',
    'usd_figures = figures.query("unit == \'USD\'").sort_values(\n'
    '    by="value", key=lambda col: col.astype(float), ascending=False)',
    'dollars = figures[figures.unit.eq("USD")]\n'
    'order = pd.to_numeric(dollars["value"]).sort_values(ascending=False).index\n'
    "usd_figures = dollars.loc[order]",
    'usd_figures = (figures[figures["unit"] == "USD"]\n'
    '               .assign(amount=lambda d: d["value"].astype(float))\n'
    '               .sort_values("amount", ascending=False)\n'
    '               .drop(columns="amount"))',
    'usd = figures.loc[figures["unit"] == "USD"].copy()\n'
    'usd["number"] = pd.to_numeric(usd["value"])\n'
    'usd_figures = usd.nlargest(len(usd), "number").drop(columns=["number"])',
    'mask = figures["unit"].isin(["USD"])\n'
    'positions = pd.to_numeric(figures.loc[mask, "value"]).to_numpy().argsort()[::-1]\n'
    "usd_figures = figures[mask].iloc[positions]",
    "rows = [r for _, r in figures.iterrows() if r['unit'] == 'USD']\n"
    "rows.sort(key=lambda r: float(r['value']), reverse=True)\n"
    "usd_figures = pd.DataFrame(rows)",
]

ANSWER_CELLS = ["q1_figures_per_article", "q2_implied_rate", "q3_land_area", "q4_usd_figures"]
POOLS = [Q1, Q2, Q3, Q4]
ITEMS = {  # graded test cell -> points
    "q1_figures_per_article_tests": 1,
    "q2_implied_rate_tests": 2,
    "q3_land_m2_tests": 1,
    "q3_error_factor_tests": 1,
    "q4_usd_figures_tests": 2,
}


# --- controlled mistakes ---------------------------------------------------------

def by_section(code: str) -> str:
    """Counts per section instead of per article."""
    return code.replace('"article"', '"section"').replace(".article", ".section").replace(
        '"article",', '"section",')


def inverted(code: str) -> str:
    """Dollars per yuan: the two amounts swapped."""
    swap = {'"yuan"': '"USD"', '"USD"': '"yuan"', "sep7_yuan": "sep7_usd", "sep7_usd": "sep7_yuan"}
    return re.sub("|".join(re.escape(k) for k in swap), lambda m: swap[m.group(0)], code)


def hectares(code: str) -> str:
    """Mu converted to hectares (1/15 ha) instead of square metres."""
    first, rest = code.split("\n", 1)
    return first + "\n" + rest.replace("M2_PER_MU", "(1 / 15)")


Q2_SERIES = {
    "s13": 'implied_rate = figures.loc[figures["pair"] == "nc_gross_by_sep7", "value"]',
    "s25": 'implied_rate = pd.to_numeric(figures[figures.pair == "nc_gross_by_sep7"].value)',
}
Q4_TEXT_SORT = {
    "s06": 'usd_figures = figures[figures["unit"] == "USD"].sort_values("value", ascending=False)',
    "s14": "usd_figures = figures.query(\"unit == 'USD'\").sort_values(by='value')[::-1]",
    "s22": "usd_only = figures[figures.unit == 'USD']\n"
           "usd_figures = usd_only.sort_values('value', ascending=False)",
    "s16": 'usd_figures = figures[figures["unit"] == "USD"].sort_values(\n'
           '    "value", key=pd.to_numeric)',  # ascending: smallest first
    "s09": "is_usd = figures['unit'].str.fullmatch('USD')\n"
           "usd_figures = figures[is_usd].sort_values(['value'], ascending=[False])",
    "s27": "usd_figures = figures.groupby('unit').get_group('USD')\n"
           "usd_figures = usd_figures.sort_values('value')\n"
           "usd_figures = usd_figures.iloc[::-1]",
}
Q4_SANDBOX = (  # writes a note outside the scratch folder first: the sandbox refuses
    'with open("/usr/local/ps0-notes.txt", "w") as notes:\n'
    '    notes.write("done")\n'
)
Q4_LOOP = "while True:  # waiting for the data to settle\n    pass"

MESSAGES = {
    "q1_section": "AssertionError: the index should hold exactly the two article names, "
                  "'newschina' and 'vice'",
    "q2_inverted": "AssertionError: a rate in yuan per US dollar is greater than 1 (one dollar "
                   "buys several yuan); did you divide dollars by yuan?",
    "q2_series": "AssertionError: implied_rate should be a single float, not a Series or a "
                 "string: use float(...)",
    "q3_land": "AssertionError: land_m2 is too small for a field of several mu: is it in "
               "square metres, not km² or hectares?",
    "q3_factor": "AssertionError: error_factor should be the printed area in m² divided by the "
                 "correct area in m²",
    "q4_order": "AssertionError: the rows are not in numerical order from the largest value "
                "to the smallest",
    "q4_missing": "NameError: name 'usd_figures' is not defined",
}

MISTAKES = {  # student -> which controlled mistakes
    "s02": ["q2_inverted"], "s03": ["q1_section"], "s04": ["q3_hectares"],
    "s05": ["q2_inverted"], "s06": ["q4_text"], "s07": ["q2_inverted"],
    "s08": ["q2_inverted", "q3_hectares"], "s09": ["q3_hectares", "q4_text"],
    "s11": ["q2_inverted"], "s12": ["q4_loop"], "s13": ["q2_series"],
    "s14": ["q4_text", "q2_inverted"], "s15": ["q2_inverted"], "s16": ["q4_text"],
    "s17": ["q1_section", "q2_inverted", "q3_hectares"], "s19": ["q2_inverted"],
    "s20": ["q4_sandbox"], "s21": ["q3_hectares"],
    "s22": ["q4_text", "q1_section"], "s23": ["q2_inverted"],
    "s25": ["q2_series", "q3_hectares"], "s27": ["q2_inverted", "q1_section", "q4_text"],
    "s29": ["q2_inverted"],  # copies s05, mistake included
}
COPIER, COPIED = "s29", "s05"
BLANK = "s30"
TIMEOUT = "s12"
SANDBOX = "s20"
STUDENTS = [f"s{i:02d}" for i in range(1, 31)]


def formulation(student: str) -> list[int]:
    """Which of the seven formulations student sNN uses for each answer cell."""
    number = int(student[1:]) - 1  # s01..s28 -> 0..27
    x, y = number % 7, number // 7
    return [(x + q * y) % 7 for q in range(4)]


def copy_of(code: str) -> str:
    """What a student who copies does: renames variables, rewrites comments, spacing."""
    renames = {"counts": "tally_dict", "name": "art", "rows": "picked", "yuan_amount": "cny",
               "usd_amount": "dollars_", "lookup": "ids", "sub": "part", "amounts": "amt",
               "numbers": "vals", "sel": "chosen", "series": "ser", "by_id": "indexed",
               "mu": "n_mu", "km2": "n_km2", "values": "vals_num", "table": "tbl",
               "pair": "pr", "dollars": "usd_rows", "order": "idx", "usd": "us",
               "tally": "tab", "area": "areas", "mask": "m", "positions": "pos"}
    out = code
    for old, new in renames.items():
        out = re.sub(rf"(?<![\w\"'.]){old}(?![\w\"'])", new, out)
    return "# my answer\n" + out.replace(" = ", "=") + "\n"


def answers(student: str) -> dict[str, str] | None:
    """The answer cells of a student (None: the blank notebook)."""
    if student == BLANK:
        return None
    source = COPIED if student == COPIER else student
    cells = {cell: POOLS[q][v] for q, (cell, v) in
             enumerate(zip(ANSWER_CELLS, formulation(source), strict=True))}
    mistakes = MISTAKES.get(source, [])
    if "q1_section" in mistakes:
        cells["q1_figures_per_article"] = by_section(cells["q1_figures_per_article"])
    if "q2_inverted" in mistakes:
        cells["q2_implied_rate"] = inverted(cells["q2_implied_rate"])
    if "q2_series" in mistakes:
        cells["q2_implied_rate"] = Q2_SERIES[source]
    if "q3_hectares" in mistakes:
        cells["q3_land_area"] = hectares(cells["q3_land_area"])
    if "q4_text" in mistakes:
        cells["q4_usd_figures"] = Q4_TEXT_SORT[source]
    if "q4_sandbox" in mistakes:
        cells["q4_usd_figures"] = Q4_SANDBOX + cells["q4_usd_figures"]
    if "q4_loop" in mistakes:
        cells["q4_usd_figures"] = Q4_LOOP
    if student == COPIER:  # everything copied except the first answer
        cells = {k: copy_of(v) for k, v in cells.items()}
        cells["q1_figures_per_article"] = Q1[1]
    return cells


def expected_results(student: str) -> dict[str, tuple[float, str]]:
    """item -> (points, failure message; "" if passed, None if the cell never ran)."""
    if student == BLANK:
        names = ["figures_per_article", "implied_rate", "land_m2", "error_factor",
                 "usd_figures"]
        return {item: (0, f"NameError: name '{name}' is not defined")
                for item, name in zip(ITEMS, names, strict=True)}
    mistakes = MISTAKES.get(COPIED if student == COPIER else student, [])
    out = {item: (points, "") for item, points in ITEMS.items()}
    if "q1_section" in mistakes:
        out["q1_figures_per_article_tests"] = (0, MESSAGES["q1_section"])
    if "q2_inverted" in mistakes:
        out["q2_implied_rate_tests"] = (0, MESSAGES["q2_inverted"])
    if "q2_series" in mistakes:
        out["q2_implied_rate_tests"] = (0, MESSAGES["q2_series"])
    if "q3_hectares" in mistakes:
        out["q3_land_m2_tests"] = (0, MESSAGES["q3_land"])
        out["q3_error_factor_tests"] = (0, MESSAGES["q3_factor"])
    if "q4_text" in mistakes:
        out["q4_usd_figures_tests"] = (0, MESSAGES["q4_order"])
    if "q4_sandbox" in mistakes:
        out["q4_usd_figures_tests"] = (0, MESSAGES["q4_missing"])
    if "q4_loop" in mistakes:  # the loop is interrupted at the cell limit; the test runs
        out["q4_usd_figures_tests"] = (0, MESSAGES["q4_missing"])
    return out


def expected_scores() -> dict[str, dict[str, float]]:
    return {s: {item: r[0] for item, r in expected_results(s).items()} for s in STUDENTS}
