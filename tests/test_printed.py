"""dustcourse.printed: reading printed figures, their rounding and implied exchange rates."""

from __future__ import annotations

import math

import pytest

from dustcourse import data
from dustcourse.printed import (
    PrintedFigure,
    claimed_range,
    implied_rate,
    implied_rate_interval,
    parse_amount,
    parse_figure,
    rounding_interval,
    verdict,
)


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("US$14.3m", 14_300_000.0, "USD"),
        ("100 million yuan", 100_000_000.0, "yuan"),
        ("2.58 billion", 2_580_000_000.0, None),
        ("17,970 yuan", 17_970.0, "yuan"),
        ("$7.1 million", 7_100_000.0, "USD"),
        ("US$290,000", 290_000.0, "USD"),
        ("US$2,604", 2_604.0, "USD"),
        ("14.38 million", 14_380_000.0, None),
        ("RMB 36.2m", 36_200_000.0, "yuan"),
        ("1437.80万", 14_378_000.0, None),
        ("3.5亿 yuan", 350_000_000.0, "yuan"),
        ("USD 5.3m", 5_300_000.0, "USD"),
        ("2bn", 2_000_000_000.0, None),
        ("12k", 12_000.0, None),
        ("1,000,000", 1_000_000.0, None),
        ("0", 0.0, None),
        ("  US$14.3m  ", 14_300_000.0, "USD"),
        ("15 US dollars", 15.0, "USD"),
    ],
)
def test_parse_amount_reads_money_and_counts(text, value, currency):
    assert parse_amount(text) == (value, currency)


@pytest.mark.parametrize(
    ("text", "value", "qualifier", "noun"),
    [
        ("Over 600 households", 600.0, "more_than", "households"),
        ("more than 2.58 billion views", 2_580_000_000.0, "more_than", "views"),
        ("less than 2,000 yuan", 2_000.0, "less_than", ""),
        ("almost 1.5 million cinemagoers", 1_500_000.0, "about", "cinemagoers"),
        ("approximately 3.3 square kilometers", 3.3, "about", "square kilometers"),
        ("MORE  THAN 10 million views", 10_000_000.0, "more_than", "views"),
        ("a dozen eggs", 12.0, "exact", "eggs"),
        ("twice", 2.0, "exact", ""),
        ("two eldest brothers", 2.0, "exact", "eldest brothers"),
        ("19 films and television series", 19.0, "exact", "films and television series"),
        ("500 million rural residents", 500_000_000.0, "exact", "rural residents"),
    ],
)
def test_parse_figure_reads_qualifiers_and_nouns(text, value, qualifier, noun):
    figure = parse_figure(text)
    assert isinstance(figure, PrintedFigure)
    assert (figure.value, figure.qualifier, figure.noun) == (value, qualifier, noun)
    assert figure.text == text


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("US$14.3m", 100_000.0),
        ("1.57 million yuan", 10_000.0),
        ("US$290,000", 10_000.0),  # trailing zeros not significant by default
        ("US$2,604", 1.0),
        ("100 million yuan", 100_000_000.0),
        ("40 days", 10.0),
        ("2.58 billion", 10_000_000.0),
        ("a dozen eggs", 1.0),
        ("0.0033", 0.0001),
    ],
)
def test_step_is_the_place_of_the_last_printed_digit(text, step):
    assert parse_figure(text).step == pytest.approx(step)


def test_trailing_zeros_can_be_declared_significant():
    assert parse_figure("US$290,000", trailing_zeros=True).step == 1.0
    assert rounding_interval("US$290,000", trailing_zeros=True) == (289_999.5, 290_000.5)
    assert rounding_interval("100 million yuan", trailing_zeros=True) == (
        99_500_000.0,
        100_500_000.0,
    )


def test_the_narrow_reading_reaches_the_implied_rate_interval():
    """trailing_zeros is passed on to the dollar figure (it used to be ignored there)."""
    wide = implied_rate_interval("2 million yuan", "US$290,000")
    narrow = implied_rate_interval("2 million yuan", "US$290,000", trailing_zeros=True)
    assert wide == pytest.approx((2e6 / 295_000, 2e6 / 285_000))
    assert narrow == pytest.approx((2e6 / 290_000.5, 2e6 / 289_999.5))
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 1000


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("US$14.3m", 14_250_000.0, 14_350_000.0),
        ("$7.1 million", 7_050_000.0, 7_150_000.0),
        ("US$290,000", 285_000.0, 295_000.0),
        ("US$2m", 1_500_000.0, 2_500_000.0),
        ("14.38 million", 14_375_000.0, 14_385_000.0),
        ("3.3", 3.25, 3.35),
        ("Over 600 households", 550.0, 650.0),  # the qualifier is not part of rounding
    ],
)
def test_rounding_interval_is_half_a_step_either_side(text, low, high):
    assert rounding_interval(text) == (pytest.approx(low), pytest.approx(high))


def test_rounding_interval_accepts_a_parsed_figure():
    figure = parse_figure("US$4.3m")
    assert rounding_interval(figure) == rounding_interval("US$4.3m")


def test_claimed_range_follows_the_qualifier():
    assert claimed_range("Over 600 households") == (600.0, math.inf)
    assert claimed_range("less than 2,000 yuan") == (-math.inf, 2_000.0)
    assert claimed_range("almost 1.5 million") == rounding_interval("1.5 million")
    assert claimed_range("US$4.3m") == rounding_interval("US$4.3m")


@pytest.mark.parametrize(
    ("printed", "checked", "expected"),
    [
        ("100 million yuan", 100_000_000, "consistent"),
        ("14.38 million", 14_378_000, "rounding"),
        ("50 million yuan", 50_820_000, "rounding"),
        ("30 million yuan", 40_000_000, "wrong"),
        ("1.57 million yuan", 1_670_000, "wrong"),
        ("40 days", 49, "wrong"),
        ("US$220,000", 233_104, "wrong"),
        ("US$2m", 2_084_511, "rounding"),
        ("less than 2,000 yuan", 1_497.5, "consistent"),
        ("less than 2,000 yuan", 2_400, "wrong"),
        ("Over 600 households", 640, "consistent"),
        ("Over 600 households", 590, "wrong"),
        ("Over 600 households", 600, "consistent"),
        ("3.3", 0.003333, "wrong"),
        ("US$14.3m", 14_350_000, "wrong"),  # the upper end is excluded
        ("US$14.3m", 14_250_000, "rounding"),  # the lower end is included
    ],
)
def test_verdict(printed, checked, expected):
    assert verdict(printed, checked) == expected


def test_verdict_refuses_a_missing_checked_value():
    with pytest.raises(ValueError, match="no checked value"):
        verdict("US$14.3m", float("nan"))


def test_implied_rate_and_its_interval():
    assert implied_rate("100 million yuan", "US$14.3m") == pytest.approx(100 / 14.3)
    low, high = implied_rate_interval("100 million yuan", "US$14.3m")
    assert low == pytest.approx(100 / 14.35)
    assert high == pytest.approx(100 / 14.25)
    assert low < implied_rate("100 million yuan", "US$14.3m") < high


def test_implied_rate_interval_with_rounded_yuan_is_wider():
    exact = implied_rate_interval("1.57 million yuan", "US$220,000")
    rounded = implied_rate_interval("1.57 million yuan", "US$220,000", yuan_exact=False)
    assert exact == (pytest.approx(1.57e6 / 225_000), pytest.approx(1.57e6 / 215_000))
    assert rounded == (pytest.approx(1.565e6 / 225_000), pytest.approx(1.575e6 / 215_000))


def test_implied_rate_accepts_a_yuan_amount_without_currency():
    assert implied_rate("14.38 million", "US$2m") == pytest.approx(7.19)


@pytest.mark.parametrize(
    ("yuan", "usd", "message"),
    [
        ("US$14.3m", "US$14.3m", "not yuan"),
        ("100 million yuan", "100 million yuan", "not printed as US dollars"),
        ("100 million yuan", "14.3m", "not printed as US dollars"),
        ("100 million yuan", "US$0", "positive"),
    ],
)
def test_implied_rate_rejects_pairs_in_the_wrong_currencies(yuan, usd, message):
    with pytest.raises(ValueError, match=message):
        implied_rate(yuan, usd)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no number"),
        ("the only Chinese title", "no number"),
        ("US$", "no number"),
        ("dozens of bags", "vague"),
        ("millions migrating", "vague"),
        ("14.3.2", "cannot read"),
        ("14.3x", "cannot read"),
        ("1,00 yuan", "cannot read"),
        ("5 and 6 people", "cannot read"),
        ("between 5 and 6", "cannot read"),
        ("US$14.3m yuan", "two different currencies"),
        ("14.3m million", "scale is given twice"),
        ("$ twelve", "currency sign before a number word"),
        ("-5 yuan", "cannot read"),
    ],
)
def test_unreadable_text_raises_a_loud_value_error(text, message):
    with pytest.raises(ValueError, match=message):
        parse_figure(text)


def test_non_text_raises_type_error():
    with pytest.raises(TypeError):
        parse_figure(14.3)  # type: ignore[arg-type]


MONEY_AND_COUNTS = {
    "yuan", "USD", "yuan_per_year", "USD_per_year", "yuan_per_month", "USD_per_month",
    "people", "households", "views", "count",
}


def test_every_printed_money_and_count_figure_round_trips_or_is_a_reading():
    """Each as_printed string parses back to the table's value, in the table's currency;
    the only ones refused are those whose note records a reading ('read as')."""
    figures = data.load("article_figures")
    rows = figures[figures["unit"].astype(str).isin(MONEY_AND_COUNTS)]
    assert len(rows) > 20
    refused = set()
    for row in rows.itertuples():
        try:
            value, currency = parse_amount(row.as_printed)
        except ValueError:
            refused.add(row.id)
            continue
        assert value == row.value_number, row.id
        unit = str(row.unit)
        if unit.startswith(("yuan", "USD")):
            expected = "yuan" if unit.startswith("yuan") else "USD"
            assert currency in (expected, None), row.id
            if currency is None:
                assert "inferred" in row.note, f"{row.id}: currency not printed, note must say so"
        else:
            assert currency is None, row.id
    readings = {r.id for r in rows.itertuples() if isinstance(r.note, str) and "read as" in r.note}
    assert refused == readings
