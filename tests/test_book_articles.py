"""The built chapter "The articles as data" (_build/html/book/articles-as-data.html).

Each test recomputes a glued number straight from the CSV files in data/ (plain
pandas.read_csv, not the course loader or the chapter's code) and checks that the
rendered text says it.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from test_book import HTML, ROOT, assert_chapter_shape, pages, text_of  # noqa: F401  (pages is a fixture)

DATA = ROOT / "data"
PAGE = "book/articles-as-data.html"
MU_M2 = 10_000 / 15
MONEY_AND_COUNTS = {
    "yuan", "USD", "yuan_per_year", "USD_per_year", "yuan_per_month", "USD_per_month",
    "people", "households", "views", "count",
}


@pytest.fixture(scope="module")
def text(pages) -> str:  # noqa: F811
    assert PAGE in pages, "the chapter is not built: is it in _toc.yml?"
    return text_of(pages[PAGE])


@pytest.fixture(scope="module")
def figures() -> pd.DataFrame:
    return pd.read_csv(DATA / "article_figures.csv", dtype=str).set_index("id")


def number(figures: pd.DataFrame, figure_id: str) -> float:
    return float(figures.loc[figure_id, "value"])


def fact_check_rows(page: str) -> list[dict[str, str]]:
    """The rows of the fact-check table (the last table with a "claim" column) as dicts."""
    tables = re.findall(r"<table id=\"T_\w+\">.*?</table>", page, flags=re.S)
    table = [t for t in tables if re.search(r"<th[^>]*>claim</th>", t)][-1]
    headers = [html.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", table)]
    rows = []
    for row in re.findall(r"<tr>\s*(<td.*?)</tr>", table, flags=re.S):
        raw = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        cells = [html.unescape(c).strip() for c in raw]
        rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def test_the_chapter_is_in_the_table_of_contents_and_has_its_figures(pages):  # noqa: F811
    assert_chapter_shape(pages[PAGE])


def test_no_raw_values_leak_into_the_text(text):
    assert not re.search(r"np\.(float|int)\d*\(", text)
    assert "Traceback" not in text
    # a year must never be printed with a thousands separator
    assert not re.search(r"\b2,0[12]\d\b", text)


def test_parser_round_trip_counts(text, figures):
    rows = figures[figures["unit"].isin(MONEY_AND_COUNTS)]
    readings = rows["note"].fillna("").str.contains("read as")
    assert f"All {(~readings).sum()} figures the function reads come back" in text
    assert f"The {readings.sum()} it refuses are" in text


def test_headline_implied_rate_and_its_interval(text, figures):
    yuan, usd = number(figures, "nc_gross_by_sep7_yuan"), number(figures, "nc_gross_by_sep7_usd")
    step = 100_000  # "US$14.3m": last printed digit is a hundred thousand dollars
    assert f"here {yuan / usd:.3f} yuan per US dollar" in text
    low, high = yuan / (usd + step / 2), yuan / (usd - step / 2)
    assert f"that is between {low:.3f} and {high:.3f}" in text


def test_official_annual_rates(text):
    annual = pd.read_csv(DATA / "fx_cny_per_usd_annual.csv")
    year_2022 = annual[annual["year"] == 2022]
    fed = year_2022[year_2022["series"].str.startswith("FRED AEXCHUS")]["mean_cny_per_usd"].item()
    wb = year_2022[year_2022["series"].str.startswith("World Bank")]["mean_cny_per_usd"].item()
    assert f"the annual average for 2022 is {fed:.4f} yuan per dollar" in text
    assert f"at {wb:.4f} for the same year" in text


def test_implied_rates_span_and_the_round_rate(text, figures):
    paired = figures[figures["pair"].notna()].copy()
    paired["usd"] = paired["unit"].str.startswith("USD")
    rates = {}
    for key, group in paired.groupby("pair"):
        yuan = float(group.loc[~group["usd"], "value"].iloc[0])
        usd = float(group.loc[group["usd"], "value"].iloc[0])
        rates[key] = yuan / usd
    low, high = min(rates.values()), max(rates.values())
    assert f"Every implied rate lies between {low:.3f} and {high:.3f}" in text
    assert f"reproduces {len(rates) - 1} of the {len(rates)} pairs" in text


def test_land_area(text, figures):
    mu = number(figures, "nc_land_rented_mu")
    printed_km2 = number(figures, "nc_land_rented_km2")
    m2 = mu * MU_M2
    assert f"The correct size is {m2:,.0f} m², which is {m2 / 1e6:.4f} km²" in text
    assert f"too large by a factor of about {printed_km2 * 1e6 / m2:,.0f}" in text
    assert f"{m2 / 1000:.1f} thousand square metres" in text


def test_early_september_and_the_surge(text):
    milestones = pd.read_csv(DATA / "rtd_box_office_milestones.csv", dtype={"date": str})
    cumulative = milestones[milestones["figure"] == "cumulative_gross"]
    sep1 = cumulative[cumulative["date"] == "2022-09-01"]
    assert f"stood at {sep1['value'].max() / 1e6:.2f} million on 1 September" in text
    # The takeoff is the start of the run of days above 1 million: the first daily figure
    # at or above it after the last one below it (before the record day).
    daily = milestones[milestones["figure"] == "daily_gross"].dropna(subset=["date"])
    daily = daily.assign(date=pd.to_datetime(daily["date"])).sort_values("date")
    daily = daily[daily["date"] <= daily.loc[daily["value"].idxmax(), "date"]]
    last_below = daily.loc[daily["value"] < 1_000_000, "date"].max()
    takeoff = daily.loc[(daily["date"] > last_below) & (daily["value"] >= 1_000_000), "date"].min()
    days = (takeoff - pd.Timestamp("2022-07-08")).days
    assert f"{days} days after the release, and the film led" in text
    assert f"are {days - 40} days too early" in text
    # ...and the one earlier day above the mark is named, not taken for the takeoff
    first = milestones[milestones["as_of_note"].str.contains("first day above RMB 1m", na=False)]
    first_day = pd.Timestamp(first["date"].iloc[0])
    assert first_day < last_below
    when = f"{first_day.day} {first_day:%B}"
    after = (first_day - pd.Timestamp("2022-07-08")).days
    assert re.search(rf"passing it once before, on {when}\s*, {after} days after the release", text)


def test_single_day_and_nationwide_claims_are_paraphrased_as_printed(pages, text):  # noqa: F811
    rows = {r["printed"]: r for r in fact_check_rows(pages[PAGE])}
    peak = rows["14.38 million"]
    assert "highest" not in peak["claim"] and "single day" in peak["claim"]
    assert peak["verdict"] == "rounding"
    nationwide = rows["Li’s first feature"]
    assert "nationwide" in nationwide["claim"]
    # River Road's earlier release is recorded, how widely it was screened is not
    assert nationwide["verdict"] == "unverifiable" and "River Road" in nationwide["checked"]
    assert "NewsChina's peak day" not in text


def test_ticket_prices(text, figures):
    gross = number(figures, "vice_gross_early_sep_yuan")
    vice = gross / number(figures, "vice_admissions_early_sep")
    assert f"The implied price is {vice:.1f} yuan a ticket" in text
    national = pd.read_csv(DATA / "cn_box_office_annual.csv").set_index("year").loc[2022]
    nfa = national["gross_billion_yuan"] * 1e9 / (national["admissions_million"] * 1e6)
    assert f"which works out at {nfa:.2f} yuan a ticket" in text
    assert f"is {national['avg_ticket_price_yuan']} yuan" in text


def test_internal_consistency_of_age_and_dates(text, figures):
    birth = int(number(figures, "nc_director_birth_year"))
    assert f"he would be {2022 - birth - 1} or {2022 - birth}" in text
    premiere = pd.Timestamp(figures.loc["nc_berlin_premiere_date", "value"])
    release = pd.Timestamp(figures.loc["nc_china_release_date", "value"])
    assert f"The gap between the two is {(release - premiere).days} days" in text


def test_fact_check_table_matches_the_counts_in_the_text(pages, text, figures):  # noqa: F811
    rows = fact_check_rows(pages[PAGE])
    verdicts = pd.Series([r["verdict"] for r in rows]).value_counts()
    assert set(verdicts.index) <= {"consistent", "rounding", "wrong", "unverifiable"}
    assert (
        f"Of the {len(rows)} claims, {verdicts.get('wrong', 0)} are wrong, "
        f"{verdicts.get('rounding', 0)} differ only by rounding, "
        f"{verdicts.get('unverifiable', 0)} cannot be checked, and "
        f"{verdicts.get('consistent', 0)} agree with the record"
    ) in text
    # every figure in the corrections table is in the fact-check table, printed as in the article
    corrections = pd.read_csv(DATA / "corrections.csv", dtype=str)
    printed = {(r["printed"], r["article"]) for r in rows}
    for figure_id in corrections["figure_id"]:
        article = {"newschina": "NewsChina", "vice": "VICE"}[figures.loc[figure_id, "article"]]
        assert (figures.loc[figure_id, "as_printed"], article) in printed, figure_id


def test_fact_check_verdicts_of_the_clear_cases(pages):  # noqa: F811
    by_printed = {}
    for row in fact_check_rows(pages[PAGE]):
        by_printed.setdefault(row["printed"], set()).add(row["verdict"])
    assert by_printed["approximately 3.3 square kilometers"] == {"wrong"}
    assert by_printed["30 million yuan"] == {"wrong"}
    assert by_printed["1.57 million yuan"] == {"wrong"}
    # VICE's 50m at the start of September: the record has "over 50m" (and 50.82m) on 1 Sep
    assert by_printed["50 million yuan"] == {"consistent"}
    assert by_printed["almost 1.5 million cinemagoers"] == {"unverifiable"}
    assert by_printed["100 million yuan"] == {"consistent"}


def test_the_exercise_is_linked_and_downloadable(pages):  # noqa: F811
    page = pages[PAGE]
    assert "ps1-articles-as-data.ipynb" in page
    downloads = {p.name for p in (HTML / "_downloads").rglob("*") if p.is_file()}
    assert "ps1-articles-as-data.ipynb" in downloads


# The small prose helpers this chapter added to dustcourse.book.


def test_prose_helpers_format_ordinals_dates_and_unverified_rows():
    import numpy as np

    from dustcourse.book import format_date, format_ordinal, mark_unverified

    assert [format_ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 72, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "72nd", "111th"]
    assert format_ordinal(np.float64(69.0)) == "69th"
    with pytest.raises(TypeError):
        format_ordinal(2.5)
    assert format_date("2022-09-07") == "7 September 2022"
    assert format_date(pd.Timestamp("2022-07-08"), year=False) == "8 July"
    with pytest.raises(ValueError):
        format_date(pd.NaT)
    assert mark_unverified("42.1 yuan", np.bool_(False)) == "42.1 yuan (unverified)"
    assert mark_unverified("42.1 yuan", True) == "42.1 yuan"
    with pytest.raises(TypeError):
        mark_unverified("42.1 yuan", "no")


def sensitivity_rows(page: str) -> dict[str, dict[str, str]]:
    """The rows of the sensitivity table, by scenario."""
    tables = re.findall(r"<table id=\"T_\w+\">.*?</table>", page, flags=re.S)
    table = [t for t in tables if "verdicts that flip" in t][-1]
    rows = {}
    for row in re.findall(r"<tr>\s*(<td.*?)</tr>", table, flags=re.S):
        raw = re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        cells = [html.unescape(c).strip() for c in raw]
        rows[cells[0]] = {"recomputed": cells[1], "flip": cells[2], "flips": cells[3]}
    return rows


def test_sensitivity_of_the_verdicts(pages, text):  # noqa: F811
    from dustcourse.printed import verdict

    rows = sensitivity_rows(pages[PAGE])
    text = re.sub(r"\s+([),.;:])", r"\1", text.replace("’", "'"))  # glued values' padding
    milestones = pd.read_csv(DATA / "rtd_box_office_milestones.csv", dtype=str).set_index("id")
    figures = pd.read_csv(DATA / "article_figures.csv", dtype=str).set_index("id")
    peak = figures.loc["nc_peak_day_gross_yuan", "as_printed"]
    before = verdict(peak, float(milestones.loc["m29", "value"]))
    after = verdict(peak, float(milestones.loc["m32", "value"]))
    assert (before, after) == ("rounding", "wrong")
    assert f"NewsChina's {peak} is {before} against Beacon's figure, but {after} against" in text
    peak_row = next(r for s, r in rows.items() if s.startswith("peak day of"))
    assert peak_row["flip"] == "1" and peak_row["flips"].startswith(f"{peak} (NewsChina")
    # the two rows for the 40m crossing give one amount: no verdict moves
    assert milestones.loc["m17", "value"] == milestones.loc["m18", "value"]
    crossing = next(r for s, r in rows.items() if s.startswith("40 million yuan passed on"))
    crossing_m = float(milestones.loc["m18", "value"]) / 1e6
    assert crossing["flip"] == "0"
    assert f"The date of the crossing of {crossing_m:,.0f} million flips 0." in text
    narrow = next(r for s, r in rows.items() if s.startswith("narrow rounding reading"))
    n_flips = len(narrow["flips"].split("; "))
    assert narrow["flip"] == str(n_flips) and f"The narrow reading flips {n_flips} verdicts" in text
    rural = "500 million rural residents (NewsChina, Against All Odds): rounding → wrong"
    assert rural in narrow["flips"]
