"""The built chapter "Film realism" (_build/html/book/film-realism.html).

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
PAGE = "book/film-realism.html"


@pytest.fixture(scope="module")
def text(pages) -> str:  # noqa: F811
    return chapter_text(pages, PAGE)


@pytest.fixture(scope="module")
def figures() -> pd.Series:
    return pd.read_csv(DATA / "article_figures.csv").set_index("id")["value"]


@pytest.fixture(scope="module")
def films() -> pd.DataFrame:
    return pd.read_csv(DATA / "li_ruijun_filmography.csv").sort_values("year")


@pytest.fixture(scope="module")
def voices() -> pd.DataFrame:
    return pd.read_csv(DATA / "rtd_voices.csv")


def test_figures_tables_and_exercises(pages):  # noqa: F811
    page = pages[PAGE]
    assert_chapter_shape(page)
    assert len(re.findall(r"<table\b", page)) >= 1
    assert "ps3-film-realism.zip" in page


def test_no_raw_values_leak_into_the_text(text):
    assert not re.search(r"np\.(float|int)\d*\(", text)
    assert "Traceback" not in text
    assert "nan" not in text.split()


def test_filmography_gaps_and_ages(text, figures, films):
    birth = int(figures.loc["nc_director_birth_year"])
    ages = films["year"] - birth
    assert f"his first feature at {ages.iloc[0]} and his sixth at {ages.iloc[-1]}" in text
    gaps = films["year"].diff().dropna()
    spread = f"run from {gaps.min():.0f} to {gaps.max():.0f} years, {gaps.mean():.1f} on average"
    assert spread in text
    for title in films["title_zh"]:
        assert title in text, f"the filmography table shows the Chinese title {title}"


def test_production_calendar(text):
    calendar = pd.read_csv(DATA / "rtd_production_calendar.csv")
    months = sum(len(pd.period_range(r.start, r.end, freq="M")) for r in calendar.itertuples())
    assert f"which gives a shoot of {months} months" in text
    assumed = (calendar["dates_basis"] != "printed_start").sum()
    assert f"marks {assumed} of the {len(calendar)} phases as assumed" in text


def test_cast(text, figures):
    people = pd.read_csv(DATA / "rtd_people.csv").set_index("name")
    wu_age = int(figures.loc[people.loc["Wu Renlin", "age_figure_id"]])
    assert f"he is {wu_age} and the director's uncle" in text.replace("’", "'")
    professional = (people["actor"] == "professional").sum()
    assert f"which makes {professional} professional" in text


def test_voice_counts(text, voices):
    counts = voices.groupby(["article", "stance"]).size()
    n_nc, n_vice = counts["newschina"].sum(), counts["vice"].sum()
    assert f"There are {len(voices)} voices: {n_nc} in NewsChina and {n_vice} in VICE" in text
    assert f"NewsChina reports {counts['newschina', 'praise']} voices that praise" in text
    share = (voices["stance"] == "criticism").mean()
    assert f"Overall, {share:.0%} of the voices criticise" in text
    assert ("vice", "praise") not in counts.index, "the text says VICE has no praising voice"


def test_reception_day_counts(text, figures):
    release = pd.Timestamp(figures.loc["nc_china_release_date"])
    vlog = pd.Timestamp(figures.loc["nc_vlog_post_date"])
    assert f"The vlog appeared {(vlog - release).days} days later" in text
    milestones = pd.read_csv(DATA / "rtd_box_office_milestones.csv").set_index("id")
    takeoff = pd.Timestamp(milestones.loc["m15", "date"])
    assert (f"{(takeoff - vlog).days} days after the vlog and {(takeoff - release).days} days "
            "after the release") in text


def test_takeoff_is_the_start_of_a_run_and_sections_are_counted_where_known(text, films):
    milestones = pd.read_csv(DATA / "rtd_box_office_milestones.csv").set_index("id")
    first = milestones[milestones["as_of_note"].str.contains("first day above RMB 1m", na=False)]
    first_day = pd.Timestamp(first["date"].iloc[0])
    assert "the first of a run of days above 1 million yuan" in text
    assert f"once before, on {first_day.day} {first_day:%B}" in text
    known = films["section"].notna()
    competition = films["section"].fillna("").str.contains("Competition")
    assert (f"gives the festival section of {known.sum()} of the films (for the first two it is "
            f"not recorded): of those, {competition.sum()} were selected") in text
    assert "assert by tone" not in text
    assert "first wide release" not in text


def test_second_coding_agreement_and_kappa(text, voices):
    """Kappa written out by hand here, from the two CSV files (the chapter uses scikit-learn)."""
    second = pd.read_csv(DATA / "rtd_voices_second_coding.csv").set_index("id")["stance"]
    first = voices.set_index("id")["stance"]
    second = second.reindex(first.index)
    n, same = len(first), int((first == second).sum())
    p_o = same / n
    stances = ["praise", "criticism", "context"]
    p_e = sum((first == c).mean() * (second == c).mean() for c in stances)
    k = (p_o - p_e) / (1 - p_e)
    text = text.replace("’", "'")
    assert f"The two coders agree on {same} of the {n} voices ({p_o:.0%})" in text
    assert f"chance alone would give {p_e:.0%}; kappa is {k:.2f}" in text
    assert f"agrees on {same} of them (Cohen's kappa {k:.2f})" in text
    recoded = second.copy()
    recoded["v12"] = "context"  # the exercise: the second coder applies the rule for doubt
    p_o2 = (first == recoded).mean()
    p_e2 = sum((first == c).mean() * (recoded == c).mean() for c in stances)
    assert f"falls from {k:.2f} to {(p_o2 - p_e2) / (1 - p_e2):.2f}" in text
    differ = first.index[first != second]
    noun = "unit" if len(differ) == 1 else "units"
    assert f"The coders differ on {len(differ)} {noun}:" in text
    for unit in differ:
        reading = f"read as {first[unit]} and the second as {second[unit]}"
        assert f"whom the first coder {reading}" in text


def test_the_codebook_is_a_page_linked_from_the_chapter(pages):  # noqa: F811
    assert 'href="codebook-voices.html' in pages[PAGE]
    codebook = chapter_text(pages, "book/codebook-voices.html").replace("’", "'")
    assert "Decision rules" in codebook
    assert "It was written after the course's first coding of the table" in codebook


def test_withdrawal_in_its_reported_context(text):
    events = pd.read_csv(DATA / "rtd_events.csv").set_index("id")
    critique = pd.Timestamp(events.loc["e17", "date"])
    near_zero = pd.Timestamp(events.loc["e18", "date"])
    removed = pd.Timestamp(events.loc["e21", "date"])
    assert f"On {critique.day} {critique:%B}" in text and "Kunlunce Institute" in text
    assert f"{(near_zero - critique).days} days later" in text
    assert f"{(removed - critique).days} days after the critique" in text
    assert "no official notice had been received" in text
