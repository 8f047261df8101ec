"""dustcourse.boxoffice: day numbers, the cumulative series, interpolation, the logistic fit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dustcourse import boxoffice as bo
from dustcourse.data import load


def test_day_number_counts_the_release_day_as_day_one():
    assert bo.day_number("2022-07-08") == 1
    assert bo.day_number("2022-09-01") == 56  # "day 56" in the Chinese reports
    assert bo.day_number("2022-09-07") == 62
    assert bo.day_number(pd.Timestamp("2022-07-21 22:00")) == 14
    with pytest.raises(ValueError):
        bo.day_number(pd.NaT)


def table(rows):
    return pd.DataFrame(rows, columns=["id", "date", "figure", "value", "unit"])


def test_cumulative_series_keeps_the_largest_dated_yuan_figure_per_day():
    rows = table([
        ("a", "2022-07-14", "cumulative_gross", 3_500_000, "yuan"),
        ("b", "2022-07-14", "cumulative_gross", 4_320_000, "yuan"),
        ("c", "2022-09", "cumulative_gross", 50_000_000, "yuan"),       # month only
        ("d", "2022-09-04", "cumulative_gross", 12_700_000, "USD"),     # other unit
        ("e", "2022-09-04", "weekend_gross", 36_200_000, "yuan"),       # not cumulative
        ("f", "2022-09-04", "cumulative_gross", 87_400_000, "yuan"),
        ("g", None, "cumulative_gross", 13_000_000, "yuan"),            # undated
    ])
    series = bo.cumulative_series(rows)
    assert list(series.index) == [7, 59]
    assert series.index.name == "day"
    assert list(series["id"]) == ["b", "f"]
    assert list(series["gross"]) == [4_320_000.0, 87_400_000.0]


def test_cumulative_series_refuses_a_falling_total_unless_excluded():
    rows = table([
        ("a", "2022-09-15", "cumulative_gross", 110_000_000, "yuan"),
        ("b", "2022-09-26", "cumulative_gross", 100_000_000, "yuan"),
    ])
    with pytest.raises(ValueError, match="b \\(day 81\\)"):
        bo.cumulative_series(rows)
    assert list(bo.cumulative_series(rows, exclude=["b"])["id"]) == ["a"]


def test_cumulative_series_of_the_course_data_rises():
    milestones = load("rtd_box_office_milestones", check=False)
    series = bo.cumulative_series(milestones, exclude=["m17", "m46"])
    assert series["gross"].is_monotonic_increasing
    assert series.loc[62, "gross"] == 100_000_000


def test_days_to_reach_interpolates_from_day_zero():
    assert bo.days_to_reach([10, 20], [100, 300], 200) == 15.0
    assert bo.days_to_reach([10, 20], [100, 300], 50) == 5.0        # from (0, 0)
    assert bo.days_to_reach([10, 20], [100, 300], 100) == 10.0      # a point on the threshold
    assert bo.days_to_reach([20, 10], [300, 100], 250) == 17.5      # order does not matter
    assert bo.days_to_reach([10, 20], [100, 300], 50, start_at_zero=False) == 10.0
    with pytest.raises(ValueError, match="never reaches"):
        bo.days_to_reach([10, 20], [100, 300], 301)
    with pytest.raises(ValueError, match="cannot fall"):
        bo.days_to_reach([10, 20], [300, 100], 200)


def test_average_daily_gross_and_ticket_arithmetic():
    assert bo.average_daily_gross(14, 10e6, 43, 20e6) == pytest.approx(10e6 / 29)
    with pytest.raises(ValueError):
        bo.average_daily_gross(43, 20e6, 14, 10e6)
    assert bo.implied_admissions(50e6, 40) == 1.25e6
    assert bo.implied_price(50e6, 1.25e6) == 40.0
    with pytest.raises(ValueError):
        bo.implied_admissions(50e6, 0)
    with pytest.raises(ValueError):
        bo.implied_price(50e6, 0)
    prices = np.array([25.0, 40.0, 50.0])
    assert list(bo.implied_admissions(50e6, prices)) == [2e6, 1.25e6, 1e6]


def test_fit_logistic_recovers_a_known_curve():
    days = np.array([5, 15, 25, 35, 45, 50, 55, 60, 65, 75], dtype=float)
    values = bo.logistic(days, 120.0, 0.25, 50.0)
    fit = bo.fit_logistic(days, values)
    assert pytest.approx(120.0, rel=1e-4) == fit.K
    assert fit.r == pytest.approx(0.25, rel=1e-4)
    assert fit.t0 == pytest.approx(50.0, abs=1e-3)
    assert fit.rmse < 1e-4 and fit.n == len(days)
    assert fit(50.0) == pytest.approx(60.0, rel=1e-4)


def test_fit_logistic_is_deterministic_and_bounded():
    days = [7, 14, 33, 43, 50, 55, 56, 58, 59, 60, 61, 62, 70]
    values = [4.32, 10, 18, 20, 30, 40, 50.82, 74, 87.4, 93, 96, 100, 110]
    first, second = bo.fit_logistic(days, values), bo.fit_logistic(days, values)
    assert first == second
    assert max(values) <= first.K <= 20 * max(values)
    assert min(days) <= first.t0 <= max(days)
    assert math.isfinite(first.K_se) and first.K_se > 0
    with pytest.raises(ValueError, match="four points"):
        bo.fit_logistic(days[:3], values[:3])


# --- the run: one rule for the rows left out, the start of the surge ---------------

def rows(data):
    columns = ["id", "date", "figure", "value", "unit", "as_of_note", "note"]
    return pd.DataFrame(data, columns=columns)


def test_reading_tells_exact_figures_from_bounds_and_approximations():
    def read(as_of, note=""):
        return bo.reading({"as_of_note": as_of, "note": note})

    assert read("day 56 ('56 days in'), written the day it first topped the chart") == "as reported"
    assert read("day 56: stated as 'over 50m'") == "lower bound"
    assert read("at removal: 'more than 100m'") == "lower bound"
    assert read("total as of publication: 'exceeded 110m'") == "lower bound"
    assert read("by 9 Aug", "Lower bound.") == "lower bound"
    assert read("day 55 (31 Aug): total passed 40m") == "threshold passed"
    assert read("three days after 30m (approx. day 53 = 29 Aug)") == "approximate"
    assert read("by 9 Aug (stated as about 1800万)", "Approximate.") == "approximate"


def test_run_exclusions_drop_a_total_the_daily_takings_contradict():
    """A 'passed 40m' dated day 53, when an exact day-56 total less days 55-56 leaves 38m."""
    data = rows([
        ("a", "2022-08-29", "cumulative_gross", 40e6, "yuan", "approx. day 53", ""),
        ("b", "2022-08-31", "cumulative_gross", 40e6, "yuan", "total passed 40m", ""),
        ("c", "2022-08-31", "daily_gross", 6e6, "yuan", "day 55", ""),
        ("d", "2022-09-01", "daily_gross", 7e6, "yuan", "day 56", ""),
        ("e", "2022-09-01", "cumulative_gross", 51e6, "yuan", "day 56", ""),
    ])
    out = bo.run_exclusions(data)
    assert list(out["id"]) == ["a"]
    reason = out.loc[0, "reason"]
    assert reason.startswith("contradicted") and "38.00 million yuan" in reason
    assert list(bo.run_series(data)["id"]) == ["b", "e"]
    # without the day-55 takings, 40m on day 53 fits under 51m - 7m = 44m: nothing left out
    assert bo.run_exclusions(data[data["id"] != "c"]).empty


def test_run_exclusions_drop_a_stale_round_figure_and_keep_lower_bounds_that_fit():
    data = rows([
        ("a", "2022-09-15", "cumulative_gross", 110e6, "yuan", "'exceeded 110m'", ""),
        ("b", "2022-09-26", "cumulative_gross", 100e6, "yuan", "'more than 100m'", ""),
        ("c", "2022-09-07", "cumulative_gross", 100e6, "yuan", "passed 100m", ""),
    ])
    out = bo.run_exclusions(data)
    assert list(out["id"]) == ["b"] and out.loc[0, "reason"].startswith("stale")
    series = bo.run_series(data)
    assert list(series["id"]) == ["c", "a"] and list(series.attrs["excluded"]["id"]) == ["b"]
    # a lower bound is no upper bound: 'more than 100m' later does not contradict 110m
    assert "a" in set(series["id"])


def test_the_course_run_leaves_out_the_derived_date_and_the_stale_total():
    """The box-office and film-realism chapters draw this series (no 29 Aug point)."""
    milestones = load("rtd_box_office_milestones", check=False)
    series = bo.run_series(milestones)
    excluded = series.attrs["excluded"].set_index("id")
    assert list(excluded.index) == ["m17", "m46"]
    assert excluded.loc["m17", "reason"].startswith("contradicted")
    assert excluded.loc["m46", "reason"].startswith("stale")
    assert 53 not in series.index  # 29 Aug 2022
    assert series["gross"].is_monotonic_increasing


def test_run_start_is_the_start_of_the_run_not_the_first_good_day():
    data = rows([
        ("a", "2022-07-17", "daily_gross", 1.2e6, "yuan", "second Sunday", ""),
        ("b", "2022-08-22", "daily_gross", 0.33e6, "yuan", "the lull", ""),
        ("c", "2022-08-26", "daily_gross", 1.04e6, "yuan", "day 50", ""),
        ("d", "2022-09-03", "daily_gross", 14.4e6, "yuan", "record", ""),
        ("e", "2022-09-20", "daily_gross", 0.2e6, "yuan", "after the peak", ""),
    ])
    start = bo.run_start(data, threshold=1e6)
    assert start["id"] == "c" and start["day"] == 50
    assert bo.run_start(data[data["id"] != "b"], threshold=1e6)["id"] == "a"
    with pytest.raises(ValueError):
        bo.run_start(data, threshold=20e6)
    course = bo.run_start(load("rtd_box_office_milestones", check=False), threshold=1e6)
    assert course["id"] == "m15" and course["day"] == 50   # 26 Aug; 17 Jul (m07) was one day


def test_run_band_spans_the_sources_and_the_exact_totals_that_follow():
    """Day 50: 'over 30m' (press) and an exact 31m (data service): lower 30m, value 31m.
    Day 56: exact 51m, with day 55-56 takings of 6m and 7m known: day 55 was at most
    51 - 7 = 44m (day 50 is bounded by its own exact 31m, below 51 - 7 - 6 = 38m).
    Day 60: a lower bound with nothing exact after it, so no upper bound."""
    data = rows([
        ("a", "2022-08-26", "cumulative_gross", 30e6, "yuan", "over 30m", ""),
        ("b", "2022-08-26", "cumulative_gross", 31e6, "yuan", "day 50", ""),
        ("c", "2022-08-31", "daily_gross", 6e6, "yuan", "day 55", ""),
        ("d", "2022-08-31", "cumulative_gross", 40e6, "yuan", "total passed 40m", ""),
        ("e", "2022-09-01", "daily_gross", 7e6, "yuan", "day 56", ""),
        ("f", "2022-09-01", "cumulative_gross", 51e6, "yuan", "day 56", ""),
        ("g", "2022-09-05", "cumulative_gross", 90e6, "yuan", "over 90m", ""),
    ])
    band = bo.run_band(data)
    assert list(band.index) == [50, 55, 56, 60]
    assert list(band["lower"]) == [30e6, 40e6, 51e6, 90e6]
    assert list(band["value"]) == [31e6, 40e6, 51e6, 90e6]
    assert list(band["upper"]) == [31e6, 44e6, 51e6, 90e6]
    assert list(band["upper_known"]) == [True, True, True, False]
    assert list(band["n_reports"]) == [2, 1, 1, 1]


def test_run_band_of_the_course_data_contains_the_run_and_rises():
    band = bo.run_band(load("rtd_box_office_milestones"))
    run = bo.run_series(load("rtd_box_office_milestones"))
    assert list(band.index) == list(run.index) and (band["value"] == run["gross"]).all()
    for column in ("lower", "value", "upper"):
        assert band[column].is_monotonic_increasing, column
    assert (band["lower"] <= band["value"]).all() and (band["value"] <= band["upper"]).all()
    assert (band["upper"] > band["value"]).any() and (band["lower"] < band["value"]).any()


def test_legs_is_total_over_opening_weekend():
    assert bo.legs(30e6, 10e6) == 3.0
    with pytest.raises(ValueError):
        bo.legs(30e6, 0)
