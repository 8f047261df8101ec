"""Small statistics helpers for the chapters: growth rates, thresholds, per-decade change.

Every function takes plain numbers or a pandas Series indexed by year and returns a plain
Python number, so that the result can go straight into :func:`dustcourse.book.glue_number`.
Growth rates are returned as *shares* (0.05 for 5 percent), never as percentages.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = [
    "cagr",
    "change_per_decade",
    "first_year_at_or_above",
    "growth",
    "implied_price_index",
    "pct_change_series",
]


def _positive(value, name: str) -> float:
    value = float(value)
    if math.isnan(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return value


def growth(start, end) -> float:
    """Total growth from ``start`` to ``end`` as a share: growth(100, 110) -> 0.1."""
    return _positive(end, "end") / _positive(start, "start") - 1


def cagr(start, end, years) -> float:
    """Compound annual growth rate, as a share, over ``years`` years.

    >>> round(cagr(100, 121, 2), 6)
    0.1
    """
    years = float(years)
    if not years > 0:
        raise ValueError(f"years must be positive, got {years!r}")
    return (_positive(end, "end") / _positive(start, "start")) ** (1 / years) - 1


def first_year_at_or_above(series: pd.Series, threshold: float) -> int:
    """The first year (index label, in sorted order) whose value is >= ``threshold``.

    Missing values are skipped. Raises ``ValueError`` if no year reaches the threshold,
    so that a chapter claiming a crossing fails loudly when the data change.
    """
    values = series.dropna().sort_index()
    reached = values[values >= threshold]
    if reached.empty:
        raise ValueError(f"no year reaches {threshold!r} (maximum {values.max()!r})")
    return int(reached.index[0])


def change_per_decade(series: pd.Series, start: int, end: int) -> float:
    """Average change per ten years between two years of a series (linear, not compound).

    For a share in percent the result is in percentage points per decade.
    """
    if end <= start:
        raise ValueError(f"end ({end}) must come after start ({start})")
    first, last = series.loc[start], series.loc[end]
    if pd.isna(first) or pd.isna(last):
        raise ValueError(f"missing value for {start} or {end}")
    return float(last - first) / (end - start) * 10


def pct_change_series(series: pd.Series) -> pd.Series:
    """Year-on-year growth in percent, only between consecutive years.

    A gap in the years (2013 -> 2015) gives NaN instead of a two-year change passed off
    as one year's growth.
    """
    values = series.sort_index().astype("float64")
    years = pd.Series(values.index, index=values.index)
    consecutive = years.diff() == 1
    change = (values / values.shift(1) - 1) * 100
    return change.where(consecutive)


def implied_price_index(nominal: pd.Series, real_growth_pct: pd.Series, base_year: int,
                        *, real_shift_pp: float = 0.0) -> pd.Series:
    """The price index implied by nominal levels and published real growth, base year = 100.

    Each year's price change is what nominal growth (computed from consecutive levels of
    ``nominal``) keeps once real growth (``real_growth_pct``, percent) is taken out:
    ``(1 + nominal growth) / (1 + real growth)``. The factors are chained from
    ``base_year`` to the last year of an unbroken run of consecutive years; a gap ends
    the index. ``real_shift_pp`` adds that many percentage points to every real rate (to
    bound the effect of rates rounded to one decimal).

    >>> levels = pd.Series([100.0, 110.0, 121.0], index=[2020, 2021, 2022])
    >>> real = pd.Series([5.0, 5.0], index=[2021, 2022])
    >>> implied_price_index(levels, real, 2020).round(2).tolist()
    [100.0, 104.76, 109.75]
    """
    nominal_pct = pct_change_series(nominal)
    real = real_growth_pct.reindex(nominal_pct.index).astype("float64") + real_shift_pp
    factor = (1 + nominal_pct / 100) / (1 + real / 100)
    if base_year not in factor.index or pd.isna(nominal.get(base_year)):
        raise ValueError(f"no level for the base year {base_year}")
    index = {base_year: 100.0}
    year = base_year + 1
    while year in factor.index and pd.notna(factor.loc[year]):
        index[year] = index[year - 1] * float(factor.loc[year])
        year += 1
    if len(index) < 2:
        raise ValueError(f"no price change can be computed after {base_year}")
    return pd.Series(index, name="price_index").rename_axis("year")
