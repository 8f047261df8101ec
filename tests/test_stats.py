"""dustcourse.stats: growth rates, thresholds and per-decade change."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dustcourse.stats import (
    cagr,
    change_per_decade,
    first_year_at_or_above,
    growth,
    implied_price_index,
    pct_change_series,
)


def test_growth_and_cagr():
    assert growth(100, 110) == pytest.approx(0.1)
    assert cagr(100, 121, 2) == pytest.approx(0.1)
    assert cagr(100, 100, 5) == 0
    assert cagr(200, 100, 1) == pytest.approx(-0.5)


@pytest.mark.parametrize("args", [(0, 10, 1), (-1, 10, 1), (10, math.nan, 1), (10, 20, 0)])
def test_cagr_refuses_bad_input(args):
    with pytest.raises(ValueError):
        cagr(*args)


def test_first_year_at_or_above():
    share = pd.Series([36.2, 49.95, None, 51.27, 50.5], index=[2000, 2010, 2011, 2012, 2013])
    assert first_year_at_or_above(share, 50) == 2012
    assert first_year_at_or_above(share, 49.95) == 2010  # the threshold itself counts
    unsorted = share.sort_index(ascending=False)
    assert first_year_at_or_above(unsorted, 50) == 2012
    with pytest.raises(ValueError, match="no year reaches"):
        first_year_at_or_above(share, 60)


def test_change_per_decade():
    share = pd.Series([20.0, 30.0, 45.0], index=[1980, 1990, 2000])
    assert change_per_decade(share, 1980, 1990) == pytest.approx(10)
    assert change_per_decade(share, 1980, 2000) == pytest.approx(12.5)
    with pytest.raises(ValueError):
        change_per_decade(share, 1990, 1980)
    with pytest.raises(ValueError):
        change_per_decade(pd.Series([1.0, None], index=[1, 2]), 1, 2)


def test_pct_change_series_skips_gaps():
    income = pd.Series([100.0, 110.0, 121.0, 150.0], index=[2013, 2015, 2016, 2017])
    change = pct_change_series(income)
    assert math.isnan(change.loc[2013]) and math.isnan(change.loc[2015])
    assert change.loc[2016] == pytest.approx(10)
    assert change.loc[2017] == pytest.approx(150 / 121 * 100 - 100)


def test_implied_price_index_chains_nominal_over_real():
    levels = pd.Series([100.0, 110.0, 121.0, 133.1], index=[2019, 2020, 2021, 2022])
    real = pd.Series([10.0, 4.76190476, 0.0], index=[2020, 2021, 2022])
    index = implied_price_index(levels, real, 2019)
    assert index.index.tolist() == [2019, 2020, 2021, 2022] and index.index.name == "year"
    assert index.tolist() == pytest.approx([100, 100, 105, 115.5])
    # base elsewhere: only the years from the base on
    assert implied_price_index(levels, real, 2020).tolist() == pytest.approx([100, 105, 115.5])
    # a higher real rate leaves less for prices
    assert implied_price_index(levels, real, 2019, real_shift_pp=0.05).iloc[-1] < 115.5


def test_implied_price_index_stops_at_a_gap_and_refuses_no_base():
    levels = pd.Series([100.0, 110.0, 120.0, 130.0], index=[2018, 2019, 2021, 2022])
    real = pd.Series([5.0, 5.0, 5.0], index=[2019, 2021, 2022])
    assert implied_price_index(levels, real, 2018).index.tolist() == [2018, 2019]
    with pytest.raises(ValueError):
        implied_price_index(levels, real, 2017)
    with pytest.raises(ValueError):
        implied_price_index(levels, real, 2019)  # the gap follows at once
