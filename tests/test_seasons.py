"""dustcourse.seasons: meteorological seasons and a calendar of phases expanded to months."""

from __future__ import annotations

import pandas as pd
import pytest

from dustcourse import data
from dustcourse.seasons import meteorological_season, months_of_phases


@pytest.mark.parametrize(("month", "season"), [(1, "winter"), (2, "winter"), (3, "spring"),
                                              (6, "summer"), (9, "autumn"), (11, "autumn"),
                                              (12, "winter")])
def test_meteorological_season(month, season):
    assert meteorological_season(month) == season
    assert meteorological_season(pd.Period(f"2020-{month:02d}", "M")) == season
    assert meteorological_season(pd.Timestamp(f"2021-{month:02d}-15")) == season


@pytest.mark.parametrize("bad", [0, 13, 2.0, "March", True])
def test_meteorological_season_refuses_non_months(bad):
    with pytest.raises(ValueError, match="month number"):
        meteorological_season(bad)


def test_phases_expand_to_months_with_both_ends():
    phases = pd.DataFrame({"phase": [1, 2], "start": ["2020-11", "2021-01"],
                           "end": ["2020-12", "2021-01"]})
    months = months_of_phases(phases)
    assert months["month"].astype(str).tolist() == ["2020-11", "2020-12", "2021-01"]
    assert months["phase"].tolist() == [1, 1, 2]


def test_overlapping_or_backward_phases_are_refused():
    overlap = pd.DataFrame({"start": ["2020-01", "2020-02"], "end": ["2020-02", "2020-03"]})
    with pytest.raises(ValueError, match="overlap"):
        months_of_phases(overlap)
    backward = pd.DataFrame({"start": ["2020-05"], "end": ["2020-04"]})
    with pytest.raises(ValueError, match="before it starts"):
        months_of_phases(backward)


def test_production_calendar_seasons_agree_with_its_months():
    """Every month the course assigned to a phase lies in the season the article names."""
    months = months_of_phases(data.load("rtd_production_calendar"))
    assert (months["month"].map(meteorological_season) == months["season"].astype(str)).all()
