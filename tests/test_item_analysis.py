"""Item statistics on a class small enough to compute by hand."""

from __future__ import annotations

import math

import pytest

from dustcourse.grading.item_analysis import (
    common_messages,
    cronbach_alpha,
    describe,
    discrimination_label,
    item_statistics,
    pearson,
)

# Five students, items A (1 point), B (2 points), C (1 point).
ITEMS, MAX = ["A", "B", "C"], [1, 2, 1]
SCORES = [
    [1, 2, 1],  # total 4
    [1, 2, 0],  # 3
    [1, 0, 1],  # 2
    [0, 2, 0],  # 2
    [0, 0, 0],  # 0
]


def test_mean_and_difficulty():
    stats = {s.item: s for s in item_statistics(ITEMS, MAX, SCORES)}
    assert (stats["A"].mean, stats["A"].difficulty) == (pytest.approx(0.6), pytest.approx(0.6))
    assert (stats["B"].mean, stats["B"].difficulty) == (pytest.approx(1.2), pytest.approx(0.6))
    assert (stats["C"].mean, stats["C"].difficulty) == (pytest.approx(0.4), pytest.approx(0.4))
    assert all(s.n == 5 for s in stats.values())


def test_discrimination_is_the_corrected_point_biserial():
    """By hand, with the rest score R = total − item and s_R its population SD:
    A: R = 3,2,1,2,0; M1 = 2 (got it), M0 = 1; s_R² = 5.2/5 = 1.04; p = 0.6
       r = (2 − 1)/√1.04 · √0.24 = √(0.24/1.04) = 0.48038
    B: R = 2,1,2,0,0; M1 = (2+1+0)/3 = 1 = M0 = (2+0)/2, so r = 0
    C: R = 3,3,1,2,0; M1 = 2, M0 = 5/3; s_R² = 6.8/5 = 1.36; p = 0.4
       r = (1/3)/√1.36 · √0.24 = 0.14003"""
    stats = {s.item: s.discrimination for s in item_statistics(ITEMS, MAX, SCORES)}
    assert stats["A"] == pytest.approx(math.sqrt(0.24 / 1.04))
    assert stats["A"] == pytest.approx(0.48038, abs=1e-5)
    assert stats["B"] == pytest.approx(0.0, abs=1e-12)
    assert stats["C"] == pytest.approx(0.14003, abs=1e-5)


def test_discrimination_undefined_when_nothing_varies():
    stats = item_statistics(["A", "B"], [1, 1], [[1, 0], [1, 1], [1, 0]])
    assert stats[0].discrimination is None  # everyone got A
    assert stats[1].discrimination is None  # the rest score (A) is constant
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1], [1]) is None


def test_cronbach_alpha_by_hand():
    """Item variances 0.24 + 0.96 + 0.24 = 1.44, total variance 1.76:
    α = 3/2 · (1 − 1.44/1.76) = 0.27273."""
    assert cronbach_alpha(SCORES) == pytest.approx(1.5 * (1 - 1.44 / 1.76))
    assert cronbach_alpha([[1], [0]]) is None


def test_describe_and_messages_and_labels():
    d = describe([0, 50, 100, 50])
    assert (d["mean"], d["median"], d["min"], d["max"]) == (50, 50, 0, 100)
    assert d["sd"] == pytest.approx(math.sqrt((2500 + 0 + 2500 + 0) / 4))
    assert common_messages(["b", "a", "b", "", "c", "a", "b"], top=2) == [("b", 3), ("a", 2)]
    assert [discrimination_label(r) for r in (0.5, 0.35, 0.25, 0.1, None)] == [
        "very good", "good", "marginal", "poor", "undefined"]


def test_inputs_are_checked():
    with pytest.raises(ValueError):
        item_statistics(["A"], [1, 2], [[1]])
    with pytest.raises(ValueError):
        item_statistics(["A", "B"], [1, 1], [[1]])
