"""Agreement between two codings (dustcourse.agreement) and the second coding of rtd_voices."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dustcourse.agreement import (
    agreement_table,
    chance_agreement,
    disagreements,
    kappa,
    observed_agreement,
    paired_codes,
)

DATA = Path(__file__).resolve().parent.parent / "data"
STANCES = ["praise", "criticism", "context"]


def codes(**units: str) -> pd.Series:
    return pd.Series(units)


def hand_kappa(first: pd.Series, second: pd.Series, categories: list[str]) -> float:
    """Cohen's kappa written out: (p_o - p_e) / (1 - p_e)."""
    second = second.reindex(first.index)
    p_o = (first == second).mean()
    p_e = sum((first == c).mean() * (second == c).mean() for c in categories)
    return (p_o - p_e) / (1 - p_e)


def test_kappa_is_the_textbook_formula():
    first = codes(a="praise", b="context", c="context", d="criticism", e="context", f="praise")
    second = codes(a="praise", b="context", c="praise", d="criticism", e="context", f="context")
    assert kappa(first, second, STANCES) == pytest.approx(hand_kappa(first, second, STANCES))
    assert observed_agreement(first, second) == pytest.approx(4 / 6)
    assert chance_agreement(first, second, STANCES) == pytest.approx(
        (2 / 6) * (2 / 6) + (1 / 6) * (1 / 6) + (3 / 6) * (3 / 6))


def test_perfect_agreement_is_one_and_units_are_matched_by_id_not_order():
    first = codes(a="praise", b="context", c="criticism")
    second = codes(c="criticism", a="praise", b="context")
    assert kappa(first, second, STANCES) == 1.0
    assert disagreements(first, second).empty


def test_table_keeps_every_category_with_zeros():
    first = codes(a="context", b="context")
    second = codes(a="context", b="praise")
    table = agreement_table(first, second, STANCES)
    assert list(table.index) == STANCES and list(table.columns) == STANCES
    assert table.to_numpy().sum() == 2 and table.loc["context", "praise"] == 1
    assert table.loc["criticism", "criticism"] == 0


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (codes(a="praise", b="context"), codes(a="praise"), "only in the first: b"),
        (codes(a="praise"), codes(a="praise", z="context"), "only in the second: z"),
        (pd.Series(["praise", "context"], index=["a", "a"]), codes(a="praise"),
         "codes some units twice"),
        (codes(a="praise", b=None), codes(a="praise", b="context"), "without a code: b"),
    ],
)
def test_mismatched_codings_are_refused(first, second, message):
    with pytest.raises(ValueError, match=message):
        paired_codes(first, second)


def test_unknown_code_and_undefined_kappa_are_refused():
    with pytest.raises(ValueError, match="outside the categories"):
        agreement_table(codes(a="praise"), codes(a="positive"), STANCES)
    with pytest.raises(ValueError, match="undefined"):
        kappa(codes(a="context", b="context"), codes(a="context", b="context"), STANCES)


def test_second_coding_covers_exactly_the_voices_of_the_first():
    first = pd.read_csv(DATA / "rtd_voices.csv").set_index("id")["stance"]
    second = pd.read_csv(DATA / "rtd_voices_second_coding.csv").set_index("id")
    assert list(second.columns) == ["stance", "note"]
    assert sorted(second.index) == sorted(first.index)
    assert set(second["stance"]) <= set(STANCES)
    assert second["note"].str.len().min() > 40, "every unit has a one-sentence reason"
    assert 0 < kappa(first, second["stance"], STANCES) <= 1
