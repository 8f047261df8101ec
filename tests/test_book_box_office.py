"""The built chapter "Box office" (_build/html/book/box-office.html).

Each test recomputes a glued number straight from the CSV files in data/ (plain
pandas.read_csv and NumPy/SciPy, not the course loader, the course package or the
chapter's code) and checks that the rendered text says it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from test_book import HTML, ROOT, assert_chapter_shape, chapter_text, pages  # noqa: F401  (pages is a fixture)

DATA = ROOT / "data"
PAGE = "book/box-office.html"
RELEASE = pd.Timestamp("2022-07-08")  # day 1 of the run
EXCLUDED = ["m17", "m46"]  # the two rows the chapter leaves out, with reasons


@pytest.fixture(scope="module")
def text(pages) -> str:  # noqa: F811
    return chapter_text(pages, PAGE)


@pytest.fixture(scope="module")
def milestones() -> pd.DataFrame:
    return pd.read_csv(DATA / "rtd_box_office_milestones.csv").set_index("id")


@pytest.fixture(scope="module")
def series(milestones) -> pd.Series:
    """Cumulative gross in million yuan by day number, one (the largest) per dated day."""
    rows = milestones[(milestones["figure"] == "cumulative_gross") & (milestones["unit"] == "yuan")
                      & (milestones["date"].str.len() == 10) & ~milestones.index.isin(EXCLUDED)]
    best = rows.groupby("date")["value"].max()
    days = (pd.to_datetime(best.index) - RELEASE).days + 1
    return pd.Series(best.to_numpy() / 1e6, index=days).sort_index()


@pytest.fixture(scope="module")
def figures() -> pd.DataFrame:
    return pd.read_csv(DATA / "article_figures.csv").set_index("id")


def test_shape_tables_and_exercise_download(pages):  # noqa: F811
    page = pages[PAGE]
    assert_chapter_shape(page)
    assert len(re.findall(r"<img\b", page)) >= 5
    assert len(re.findall(r"<table\b", page)) >= 4
    link = re.search(r'href="([^"]*ps4-box-office\.zip)"', page)
    assert link, "the chapter links the exercise zip"
    assert (HTML / "book" / link.group(1)).resolve().is_file()


def test_no_raw_values_or_broken_math(text):
    assert not re.search(r"np\.(float|int)\d*\(", text)
    assert "Traceback" not in text
    assert "{glue:text}" not in text, "a glue role was swallowed (e.g. by $...$ math)"


def test_the_series_and_the_40_million_conflict(text, series, milestones):
    assert f"leaves {len(series)} points" in text
    end55 = (milestones.loc["m23", "value"] - milestones.loc["m22", "value"]) / 1e6
    end54 = end55 - milestones.loc["m19", "value"] / 1e6
    assert end54 < 40 <= end55
    assert f"the total at the end of day 55 was about {end55:,.2f} million yuan" in text
    assert f"the end of day 54 comes to about {end54:,.2f} million yuan" in text


def test_forecast_multiple_and_thresholds(text, series, figures):
    forecast = float(figures.loc["nc_forecast_total_yuan", "value"]) / 1e6
    assert f"took at least {series.max() / forecast:.0f} times what was expected" in text
    day50 = np.interp(50, np.r_[0, series.to_numpy()], np.r_[0, series.index.to_numpy()])
    assert f"That gives day {day50:.1f}." in text
    assert f"on day {series[series >= 100].index[0]}" in text


def test_average_daily_gross(text, series):
    slow = (series[43] - series[14]) / (43 - 14)
    surge = (series[62] - series[55]) / (62 - 55)
    assert f"the film took on average {slow:.2f} million yuan a day" in text
    assert f"the average was {surge:.2f} million yuan a day, about {surge / slow:.0f} times" in text


def test_admissions_and_prices(text, figures):
    national = pd.read_csv(DATA / "cn_box_office_annual.csv").set_index("year")
    price = national.loc[2022, "avg_ticket_price_yuan"]
    gross = float(figures.loc["vice_gross_early_sep_yuan", "value"])
    people = float(figures.loc["vice_admissions_early_sep", "value"])
    assert f"buys about {gross / price / 1e6:.2f} million tickets" in text
    assert f"imply an average price of {gross / people:.1f} yuan a ticket" in text
    assert "(unverified)" in text


def test_share_of_the_national_market(text, series):
    national = pd.read_csv(DATA / "cn_box_office_annual.csv").set_index("year")
    share = series.max() * 1e6 / (national.loc[2022, "gross_billion_yuan"] * 1e9)
    assert f"is {share:.2%} of the 2022 national box office" in text


def test_currency_conversion(text, figures):
    fx = pd.read_csv(DATA / "fx_cny_per_usd_monthly.csv").set_index("month")["mean_cny_per_usd"]
    yuan = float(figures.loc["nc_gross_by_sep7_yuan", "value"])
    assert f"at the September rate, US${yuan / fx['2022-09'] / 1e6:,.2f} million" in text
    rates_2022 = fx[fx.index.str.startswith("2022")]
    assert f"from US${yuan / rates_2022.max() / 1e6:,.2f} million to" in text
    usd = float(figures.loc["nc_gross_by_sep7_usd", "value"])
    assert f"implies {yuan / usd:.2f} yuan per dollar" in text


def test_logistic_fit(text, series):
    from scipy.optimize import curve_fit

    def logistic(t, K, r, t0):
        return K / (1 + np.exp(-r * (t - t0)))

    t, c = series.index.to_numpy(dtype=float), series.to_numpy()
    (K, r, t0), _ = curve_fit(logistic, t, c, p0=[100, 0.5, 58], maxfev=20000)
    assert f"the curve has K = {K:.0f} million yuan" in text.replace("\\(K\\)", "K")
    assert "per day (at that rate" in text and f"{r:.3f}" in text
    assert f"day {t0:.1f}" in text


# --- issue 22: facts that were wrong -----------------------------------------------

def test_the_rows_left_out_are_given_with_the_rule_s_reasons(text, milestones):
    assert "are left out by that rule" in text
    end54 = (milestones.loc["m23", "value"] - milestones.loc["m22", "value"]
             - milestones.loc["m19", "value"]) / 1e6
    assert (f"contradicted: the total at the end of day 53 was at most {end54:,.2f} million yuan"
            in text)
    assert f"stale: lower than the {milestones.loc['m44', 'value'] / 1e6:,.2f} million yuan" in text


def test_the_run_of_days_above_a_million_and_the_first_such_day(text, milestones):
    daily = milestones[milestones["figure"] == "daily_gross"].dropna(subset=["date"])
    start = pd.Timestamp(daily.loc[daily["value"] >= 1e6, "date"].min())   # after the lull
    first = milestones[milestones["as_of_note"].str.contains("first day above RMB 1m", na=False)]
    first_day = pd.Timestamp(first["date"].iloc[0])
    lull = pd.Timestamp(daily.loc[daily["value"] < 1e6, "date"].max())
    assert first_day < lull < start
    def day(d):
        return (d - RELEASE).days + 1
    assert (f"a run of days above 1 million yuan that began on {start.day} {start:%B} "
            f"(day {day(start)};") in text
    assert f"{first_day:%A} {first_day.day} {first_day:%B} (day {day(first_day)})" in text
    assert "a first day above 1 million" not in text
    assert f"the run of days above 1 million yuan began only on day {day(start)}" in text


def test_the_first_week_rate_is_not_called_unreached(text, figures):
    daily = pd.read_csv(DATA / "fx_cny_per_usd_daily.csv", parse_dates=["date"]).set_index("date")
    rates = daily.loc["2022", "cny_per_usd"]
    rate = float(figures.loc["nc_first_week_gross_yuan", "value"]) / float(
        figures.loc["nc_first_week_gross_usd", "value"])
    assert "did not reach" not in text
    first = rates[rates >= rate].index[0]
    assert f"first reached it on {first.day} {first:%B} and peaked at {rates.max():.4f}" in text
    monthly = pd.read_csv(DATA / "fx_cny_per_usd_monthly.csv").set_index("month")
    monthly = monthly["mean_cny_per_usd"]
    assert f"the October mean was {monthly['2022-10']:.4f}" in text
    assert "rounding alone can explain the pair" in text


def test_two_lower_bounds_give_no_ticket_price(text, milestones):
    national = pd.read_csv(DATA / "cn_box_office_annual.csv").set_index("year")
    admissions = milestones.loc["m54", "value"]
    assert "at most" not in text.split("Japanese distributor")[1].split("Reports from")[0]
    gross = admissions * national.loc[2022, "avg_ticket_price_yuan"] / 1e6
    assert f"would have come to {gross:,.0f} million yuan or more, above every total" in text


def test_newschina_single_day_is_not_called_a_record(text):
    assert "NewsChina's record day" not in text
    assert "may have been written before" not in text, "unsourced speculation is cut"


def test_both_chapters_draw_the_run_with_the_package_rule():
    """One function, one rule: no chapter picks the run's rows by hand."""
    for chapter in ("box-office", "film-realism", "articles-as-data"):
        source = (ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")
        assert "run_series(" in source, chapter
        assert "EXCLUDE" not in source and 'drop_duplicates("date"' not in source, chapter


def test_the_band_and_the_legs(text, series, milestones):
    """The band's first 10 million: between the interpolation on the upper edge (the
    day-56 exact total less the reported takings of days 55 and 56 caps the days before)
    and on the lower one; the legs: the highest total over the opening weekend."""
    def daily(day):
        date = (RELEASE + pd.Timedelta(days=day - 1)).strftime("%Y-%m-%d")
        rows = milestones[(milestones["figure"] == "daily_gross") & (milestones["date"] == date)]
        return rows["value"].max() / 1e6

    cap = series.loc[56] - daily(56) - daily(55)  # the cap on days 14 to 50
    early = 7 + (10 - series.loc[7]) / (cap - series.loc[7]) * (14 - 7)
    assert f"between day {early:.1f} and day 14" in text
    legs = series.max() * 1e6 / milestones.loc["m04", "value"]
    assert f"the legs were at least {legs:,.0f}" in text
    assert "fig-bo-band" in text or "band the sources allow" in text
