"""Months and seasons: expand a calendar of phases into months, name a month's season.

The production calendar of *Return to Dust* (``data/rtd_production_calendar.csv``) lists
phases of the shoot, each with a first and a last month. :func:`months_of_phases` turns
it into one row per month, the shape needed to count months by season or to draw a
month-by-month chart. Seasons are **meteorological** (Northern Hemisphere): December to
February is winter, March to May spring, June to August summer, September to November
autumn. That is a convention, not a fact about any year's weather; the traditional
Chinese calendar, for one, starts spring in early February.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["SEASONS", "meteorological_season", "months_of_phases"]

SEASONS = ("winter", "spring", "summer", "autumn")
_SEASON_OF_MONTH = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring",
                    6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}


def meteorological_season(month) -> str:
    """The meteorological season of a month (1-12, a Period or a Timestamp)."""
    number = getattr(month, "month", month)
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 12:
        raise ValueError(
            f"expected a month number from 1 to 12, a Period or a Timestamp, got {month!r}"
        )
    return _SEASON_OF_MONTH[number]


def months_of_phases(phases: pd.DataFrame, start: str = "start", end: str = "end") -> pd.DataFrame:
    """One row per month of every phase, both end months included.

    ``phases`` has monthly Periods (or anything ``pd.Period(..., "M")`` accepts) in the
    columns ``start`` and ``end``; its other columns are repeated on each month's row, and
    a column ``month`` (Period[M]) is added first. Phases must not overlap or run
    backwards: a month belongs to one phase only.
    """
    rows = []
    for record in phases.to_dict("records"):
        first, last = pd.Period(record[start], "M"), pd.Period(record[end], "M")
        if last < first:
            raise ValueError(f"phase ends ({last}) before it starts ({first}): {record}")
        for month in pd.period_range(first, last, freq="M"):
            rows.append({"month": month, **record})
    months = pd.DataFrame(rows)
    if months.empty:
        return months
    if months["month"].duplicated().any():
        twice = months.loc[months["month"].duplicated(), "month"].astype(str).tolist()
        raise ValueError(f"phases overlap: {', '.join(twice)} belong to more than one phase")
    return months.reset_index(drop=True)
