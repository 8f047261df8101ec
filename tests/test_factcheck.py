"""The fact-check's verdict rules and their sensitivity (dustcourse.factcheck)."""

from __future__ import annotations

import pandas as pd
import pytest

from dustcourse.factcheck import (
    conversion_verdict,
    conversion_verdicts,
    flips,
    numeric_verdicts,
    pair_intervals,
    sensitivity,
    swap_record_row,
)
from dustcourse.verdicts import VERDICTS


@pytest.mark.parametrize(
    ("rate", "low", "high", "expected"),
    [
        (7.00, 6.98, 7.02, "consistent"),   # the rate itself inside the anchor
        (7.01, 6.99, 7.03, "rounding"),     # only the pair's interval reaches the anchor
        (7.20, 7.10, 7.30, "wrong"),        # not even the interval does
        (7.005, 6.99, 7.02, "consistent"),  # the anchor's upper end is included
    ],
)
def test_conversion_verdict(rate, low, high, expected):
    assert conversion_verdict(rate, low, high, anchor_low=6.995, anchor_high=7.005) == expected
    assert expected in VERDICTS


PAIRS = pd.DataFrame(
    {"article": ["nc", "nc", "nc"], "section": ["s", "s", "s"],
     "yuan": ["100 million yuan", "2 million yuan", "1.57 million yuan"],
     "usd": ["US$14.3m", "US$290,000", "US$220,000"]},
    index=["gross", "forecast", "week"],
)


def test_the_anchor_is_the_narrowest_pair_and_moves_with_the_reading():
    wide = conversion_verdicts(pair_intervals(PAIRS))
    assert wide["gross"] == "consistent"  # the anchor agrees with itself
    narrow_pairs = pair_intervals(PAIRS, trailing_zeros=True)
    assert narrow_pairs["width"].idxmin() == "forecast"
    narrow = conversion_verdicts(narrow_pairs)
    assert narrow["forecast"] == "consistent" and narrow["gross"] == "wrong"
    changed = flips(wide, narrow)
    assert set(changed.index) == {"gross", "forecast", "week"} - set(wide.index[wide == narrow])


CHECKS = pd.DataFrame({
    "figure_id": ["peak", "start", "land"],
    "printed": ["14.38 million", "30 million yuan", "3.3"],
    "checked": [14_378_000.0, 40_000_000.0, 0.0033],
    "record": ["m29", "m18", None],
})


def test_numeric_verdicts_and_the_narrow_reading():
    expected = {"peak": "rounding", "start": "wrong", "land": "wrong"}
    assert numeric_verdicts(CHECKS).to_dict() == expected
    narrow = numeric_verdicts(pd.DataFrame({"figure_id": ["rural"], "printed": ["500 million"],
                                            "checked": [498_350_000.0]}), trailing_zeros=True)
    assert narrow["rural"] == "wrong"


def test_swapping_a_record_row_rechecks_only_its_claims():
    values = {"m29": 14_378_000.0, "m32": 12_680_000.0, "m17": 40_000_000.0, "m18": 40_000_000.0}
    swapped = swap_record_row(CHECKS, "m29", "m32", values)
    assert swapped.loc[0, "checked"] == 12_680_000.0 and swapped.loc[0, "record"] == "m32"
    assert swapped.loc[1:].equals(CHECKS.loc[1:])
    assert numeric_verdicts(swapped)["peak"] == "wrong"
    with pytest.raises(ValueError, match="no check is made against record row 'm99'"):
        swap_record_row(CHECKS, "m99", "m32", values)


def test_sensitivity_counts_flips_per_scenario_with_labels():
    base = numeric_verdicts(CHECKS)
    table = sensitivity(base, {
        "same": base.loc[["start"]],
        "peak": pd.Series({"peak": "wrong"}),
    }, labels={"peak": "14.38 million (NewsChina)"})
    assert table["verdicts that flip"].tolist() == [0, 1]
    assert table["flips"].tolist() == ["none", "14.38 million (NewsChina): rounding → wrong"]
    with pytest.raises(ValueError, match="not in the fact-check"):
        sensitivity(base, {"odd": pd.Series({"unknown": "wrong"})})
