"""Classical item analysis of an assignment: pure functions on a score matrix.

Rows are students, columns are items (graded cells); ``scores[i][j]`` is the points
student ``i`` earned on item ``j``, out of ``max_scores[j]``. No nbgrader here: the
report (:mod:`.report`) reads the gradebook and hands the numbers to these functions.

Definitions (n students, item j worth m_j points, x_ij the points earned):

* mean:            x̄_j = (1/n) Σ_i x_ij
* difficulty:      p_j = x̄_j / m_j, the share of the item's points the class earned
                   (1 = everyone right: an *easy* item; 0 = nobody);
* discrimination:  r_j = corr(x_·j, R_·j), the Pearson correlation between the item
                   score and the *rest score* R_i = T_i − x_ij (the student's total over
                   all items minus this item). For an all-or-nothing item this is the
                   corrected point-biserial correlation
                   r_pb = (M₁ − M₀) / s_R · √(p (1 − p)), with M₁ and M₀ the mean rest
                   scores of those who got the item and those who did not, s_R the
                   population standard deviation of the rest score and p the share who
                   got it. It is undefined (``None``) when the item or the rest score
                   does not vary.

Rules of thumb (Ebel): r ≥ 0.40 very good, 0.30–0.39 good, 0.20–0.29 marginal,
below 0.20 poor: an item that the strong students fail as often as the weak ones is
worth re-reading.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ItemStats:
    item: str
    max_score: float
    n: int
    mean: float
    difficulty: float
    discrimination: float | None


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's correlation coefficient; ``None`` if either variable is constant."""
    if len(xs) != len(ys):
        raise ValueError("both variables need one value per student")
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sxy / math.sqrt(sxx * syy)


def item_statistics(
    items: Sequence[str], max_scores: Sequence[float], scores: Sequence[Sequence[float]]
) -> list[ItemStats]:
    """Mean, difficulty index and corrected item–rest discrimination of every item."""
    if len(items) != len(max_scores):
        raise ValueError("one maximum score per item")
    if any(len(row) != len(items) for row in scores):
        raise ValueError("every student needs a score for every item")
    n = len(scores)
    totals = [sum(row) for row in scores]
    stats = []
    for j, (item, max_score) in enumerate(zip(items, max_scores, strict=True)):
        column = [row[j] for row in scores]
        mean = sum(column) / n if n else 0.0
        rest = [t - x for t, x in zip(totals, column, strict=True)]
        stats.append(ItemStats(
            item=item,
            max_score=max_score,
            n=n,
            mean=mean,
            difficulty=mean / max_score if max_score else 0.0,
            discrimination=pearson(column, rest),
        ))
    return stats


def describe(values: Sequence[float]) -> dict[str, float]:
    """n, mean, population standard deviation, median, minimum and maximum."""
    n = len(values)
    if not n:
        return {"n": 0, "mean": 0.0, "sd": 0.0, "median": 0.0, "min": 0.0, "max": 0.0}
    ordered = sorted(values)
    mean = sum(ordered) / n
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    sd = math.sqrt(sum((v - mean) ** 2 for v in ordered) / n)
    return {"n": n, "mean": mean, "sd": sd, "median": median,
            "min": ordered[0], "max": ordered[-1]}


def cronbach_alpha(scores: Sequence[Sequence[float]]) -> float | None:
    """Internal consistency: α = k/(k−1) · (1 − Σ var(item) / var(total)), population
    variances; ``None`` with fewer than two items or a constant total."""
    if not scores or len(scores[0]) < 2:
        return None
    k = len(scores[0])
    columns = list(zip(*scores, strict=True))
    totals = [sum(row) for row in scores]

    def var(values):
        mean = sum(values) / len(values)
        return sum((v - mean) ** 2 for v in values) / len(values)

    total_var = var(totals)
    if total_var <= 1e-12:
        return None
    return k / (k - 1) * (1 - sum(var(c) for c in columns) / total_var)


def common_messages(messages: Iterable[str], top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` most frequent messages with their counts (ties: alphabetical)."""
    counts = Counter(m for m in messages if m)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]


def discrimination_label(r: float | None) -> str:
    """Ebel's bands for a discrimination index."""
    if r is None:
        return "undefined"
    if r >= 0.40:
        return "very good"
    if r >= 0.30:
        return "good"
    if r >= 0.20:
        return "marginal"
    return "poor"
