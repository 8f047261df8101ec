"""The built chapter "Rural migration" (_build/html/book/rural-migration.html).

Each test recomputes a glued number straight from the CSV files in data/ (plain
pandas.read_csv, not the course loader or the chapter's code) and checks that the
rendered text says it.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_book import ROOT, assert_chapter_shape, chapter_text, pages  # noqa: F401  (pages is a fixture)

DATA = ROOT / "data"
PAGE = "book/rural-migration.html"


@pytest.fixture(scope="module")
def text(pages) -> str:  # noqa: F811
    return chapter_text(pages, PAGE)


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return pd.read_csv(DATA / "cn_population_urbanization.csv")


@pytest.fixture(scope="module")
def income() -> pd.DataFrame:
    return pd.read_csv(DATA / "cn_disposable_income.csv").set_index("year")


@pytest.fixture(scope="module")
def migrants() -> pd.DataFrame:
    return pd.read_csv(DATA / "cn_migrant_workers.csv").set_index("year")


def published(population: pd.DataFrame) -> pd.DataFrame:
    return population[population["series"] == "as_published"].set_index("year")


def test_figures_tables_and_exercises(pages):  # noqa: F811
    page = pages[PAGE]
    assert_chapter_shape(page)
    assert len(re.findall(r"<table\b", page)) >= 1
    assert "ps2-rural-migration" in page


def test_no_raw_values_leak_into_the_text(text):
    assert not re.search(r"np\.(float|int)\d*\(", text)
    assert "Traceback" not in text
    assert not re.search(r"\b[12],\d{3}\b(?= (census|in|to|and))", text.replace("1,000", ""))


def test_urban_share_and_crossing(text, population):
    pub = published(population)
    first, last = pub.index.min(), pub.index.max()
    assert f"At the end of {first} the table gives" in text
    assert f"{pub.loc[first, 'urban_share_pct']:.2f}% of the population was urban" in text
    assert f"the share was {pub.loc[last, 'urban_share_pct']:.2f}%" in text
    crossing = pub[pub["urban_share_pct"] >= 50].index.min()
    assert f"first reached one half in {crossing}" in text
    assert f"({pub.loc[crossing, 'urban_10k'] / 100:,.2f} million) outnumbered" in text


def test_census_revision(text, population):
    pub = published(population)
    rev = population[population["series"] == "revised_7th_census"].set_index("year")
    both = pub.merge(rev, left_index=True, right_index=True, suffixes=("_p", "_r"))
    gap = both["urban_share_pct_r"] - both["urban_share_pct_p"]
    low, high = f"{gap.min():.2f} percentage points", f"{gap.max():.2f} percentage points"
    assert f"by between {low} and {high}" in text
    y = both.index.max()
    extra = (both.loc[y, "total_10k_r"] - both.loc[y, "total_10k_p"]) / 100
    assert f"The revision added {extra:,.2f} million people" in text


def test_five_hundred_million(text, population):
    pub = published(population)
    for year in (2021, 2022):
        rural_m = pub.loc[year, "rural_10k"] / 100
        assert f"{rural_m:,.2f} million" in text
        gap = 500 - rural_m
        assert f"{gap:,.2f} million ({gap / rural_m:.1%})" in text


def test_gaotai_income(text, income):
    figures = pd.read_csv(DATA / "article_figures.csv").set_index("id")
    gaotai = float(figures.loc["nc_gaotai_income_annual_yuan", "value"])
    assert f"{gaotai:,.0f} yuan (unverified)" in text
    year = int(figures.loc["nc_gaotai_income_year", "value"])
    rural = income.loc[year, "rural_yuan"]
    assert f"{gaotai / rural:.1%} of the national rural average" in text
    assert f"{rural:,.0f} yuan per rural resident" in text
    assert f"{gaotai / 12:,.1f} yuan" in text


def test_income_ratio_and_real_growth(text, income):
    split = income.dropna(subset=["urban_yuan", "rural_yuan"])
    first, last = split.index.min(), split.index.max()
    ratio = split["urban_yuan"] / split["rural_yuan"]
    assert f"from {ratio.loc[first]:.2f} in {first}" in text
    assert f"{ratio.loc[last]:.2f} in {last}" in text
    years = last - first
    nominal = (split.loc[last, "rural_yuan"] / split.loc[first, "rural_yuan"]) ** (1 / years) - 1
    assert f"a compound annual growth rate, CAGR, of {nominal:.1%}" in text
    chained = (1 + income.loc[first + 1 : last, "rural_real_growth_pct"] / 100).prod()
    assert f"a real CAGR of {chained ** (1 / years) - 1:.1%}" in text


def test_migrant_workers(text, migrants):
    first, last = migrants.index.min(), migrants.index.max()
    assert f"There were {migrants.loc[first, 'total_million']:,.2f} million migrant workers" in text
    share = migrants["outside_home_area_million"] / migrants["total_million"]
    assert f"from {share.loc[first]:.1%} of the total to {share.loc[last]:.1%}" in text
    over = migrants["share_over_50_pct"]
    assert f"from {over.loc[first]:.1f}% to {over.loc[last]:.1f}%" in text
    wage = migrants["avg_monthly_income_yuan"]
    cagr = (wage.loc[last] / wage.loc[first]) ** (1 / (last - first)) - 1
    assert f"a CAGR of {cagr:.1%}" in text


def test_migrant_wages_in_constant_prices(text, income, migrants):
    """The implied price index, (1 + nominal) / (1 + real) chained from the first survey
    year, and the wage deflated by it, recomputed here in plain pandas."""
    first, last = migrants.index.min(), migrants.index.max()
    index = {first: 100.0}
    for year in range(first + 1, last + 1):
        nominal = income.loc[year, "rural_yuan"] / income.loc[year - 1, "rural_yuan"]
        real = 1 + income.loc[year, "rural_real_growth_pct"] / 100
        index[year] = index[year - 1] * nominal / real
    prices = pd.Series(index)
    wage = migrants["avg_monthly_income_yuan"] / prices * 100
    assert f"it reaches {prices.loc[last]:.1f} in {last}" in text
    assert f"earned {wage.loc[last]:,.0f} yuan a month in {first} yuan" in text
    cagr = (wage.loc[last] / wage.loc[first]) ** (1 / (last - first)) - 1
    assert f"{cagr:.1%} a year, instead of" in text
    assert "rural residents’ income" in text or "rural residents' income" in text  # whose prices
    assert "fig-rm-real-wage" in text or "constant prices" in text


def test_unsourced_claims_are_sourced_hedged_or_cut(text, migrants):
    share = migrants["local_million"] / migrants["total_million"]
    first, last, peak = share.index.min(), share.index.max(), int(share.idxmax())
    assert share[last] > share[first] and peak < last, "the local share fell after its peak"
    assert (f"a larger share of them work near home than in {first} (though that share has "
            f"fallen since its peak in {peak})") in text
    assert "growing share of them work near home" not in text
    assert "one of the poorer provinces" not in text
    assert "decides where a person is entitled" not in text
    assert "Part of the rising share in the first chart is made this way" not in text
    assert "tables cannot say" in text
    assert "unverified income figure is right" in text


def test_the_welcome_page_claims_only_what_is_sourced(pages):  # noqa: F811
    from test_book import text_of

    welcome = text_of(pages["book/index.html"])
    assert "quiet film" in welcome
    for unsourced in ("small budget", "almost empty cinemas", "rented plot"):
        assert unsourced not in welcome
