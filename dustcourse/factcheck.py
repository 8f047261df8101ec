"""The fact-check's verdict rules, and how the verdicts change under other readings.

The chapter *The articles as data* gives every checked claim one of the verdicts of
:mod:`dustcourse.verdicts`. Two kinds of check are computed by rule:

* a **numeric check** compares a printed figure with the value the record gives,
  with :func:`dustcourse.printed.verdict` (:func:`numeric_verdicts` does it for a
  table of checks);
* a **conversion check** compares the exchange rate a yuan/dollar pair implies with
  the rate its own section pins down: the interval of the section's most precisely
  printed pair, its *anchor* (:func:`conversion_verdict`, :func:`conversion_verdicts`).

A verdict depends on choices: how wide a printed figure's rounding interval is (the
course reads trailing zeros as not significant, the wide reading; the narrow reading
counts them, see :func:`dustcourse.printed.rounding_interval`), and, where the record
holds conflicting rows, which row is checked against. :func:`swap_record_row` makes
the other choice for a table of checks, and :func:`sensitivity` counts the verdicts
that flip.

>>> conversion_verdict(7.0, 6.99, 7.01, anchor_low=6.995, anchor_high=7.005)
'consistent'
>>> conversion_verdict(7.02, 7.01, 7.03, anchor_low=6.995, anchor_high=7.005)
'wrong'
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .printed import implied_rate, implied_rate_interval, verdict
from .verdicts import CONSISTENT, ROUNDING, WRONG

__all__ = [
    "conversion_verdict",
    "conversion_verdicts",
    "flips",
    "numeric_verdicts",
    "pair_intervals",
    "sensitivity",
    "swap_record_row",
]


def conversion_verdict(
    rate: float, low: float, high: float, *, anchor_low: float, anchor_high: float
) -> str:
    """The verdict on one dollar conversion, against its section's anchor interval.

    ``consistent`` when the implied ``rate`` lies in the anchor interval
    ``(anchor_low, anchor_high]``; ``rounding`` when only the pair's own interval of
    rates ``(low, high]`` (what its rounding allows) overlaps the anchor; ``wrong``
    when not even that does.
    """
    if anchor_low < rate <= anchor_high:
        return CONSISTENT
    if low < anchor_high and anchor_low < high:
        return ROUNDING
    return WRONG


def pair_intervals(
    pairs: pd.DataFrame, *, trailing_zeros: bool = False
) -> pd.DataFrame:
    """Each pair's implied rate and the interval of rates its rounding allows.

    ``pairs`` has columns ``yuan`` and ``usd`` (the printed texts), ``article`` and
    ``section``; the result adds ``rate``, ``low``, ``high`` and ``width``.
    ``trailing_zeros=True`` is the narrow reading of the dollar figures' rounding.
    """
    out = pairs.copy()
    printed = list(zip(out["yuan"], out["usd"], strict=True))
    bounds = [implied_rate_interval(y, u, trailing_zeros=trailing_zeros) for y, u in printed]
    out["rate"] = [implied_rate(y, u) for y, u in printed]
    out["low"] = [b[0] for b in bounds]
    out["high"] = [b[1] for b in bounds]
    out["width"] = out["high"] - out["low"]
    return out


def conversion_verdicts(pairs: pd.DataFrame) -> pd.Series:
    """The verdict on every pair (same index as ``pairs``), each against its section's anchor.

    ``pairs`` has columns ``article``, ``section``, ``rate``, ``low``, ``high`` and
    ``width`` (see :func:`pair_intervals`); the anchor of a section is its pair with
    the narrowest interval.
    """
    results = {}
    for _, group in pairs.groupby(["article", "section"], sort=False):
        anchor = group.loc[group["width"].idxmin()]
        for key, row in group.iterrows():
            results[key] = conversion_verdict(
                row["rate"], row["low"], row["high"],
                anchor_low=anchor["low"], anchor_high=anchor["high"],
            )
    return pd.Series(results, name="verdict").reindex(pairs.index)


def numeric_verdicts(checks: pd.DataFrame, *, trailing_zeros: bool = False) -> pd.Series:
    """The verdict of every numeric check: a table with columns ``figure_id``,
    ``printed`` (the text compared) and ``checked`` (the record's value); the result
    is indexed by ``figure_id``."""
    return pd.Series(
        [
            verdict(p, c, trailing_zeros=trailing_zeros)
            for p, c in zip(checks["printed"], checks["checked"], strict=True)
        ],
        index=pd.Index(checks["figure_id"], name="figure_id"),
        name="verdict",
    )


def swap_record_row(
    checks: pd.DataFrame, old: str, new: str, values: Mapping[str, float]
) -> pd.DataFrame:
    """The checks with every comparison against record row ``old`` made against ``new``.

    ``checks`` has a ``record`` column (the id of the record row each check used, or
    missing) and a ``checked`` column; ``values`` maps record ids to their values.
    Raises ``ValueError`` when no check uses ``old``.
    """
    uses = checks["record"].eq(old)
    if not uses.any():
        raise ValueError(f"no check is made against record row {old!r}")
    out = checks.copy()
    out.loc[uses, "checked"] = float(values[new])
    out.loc[uses, "record"] = new
    return out


def flips(base: pd.Series, alternative: pd.Series) -> pd.DataFrame:
    """The verdicts that differ between two readings (both Series indexed by figure id)."""
    alternative = alternative.reindex(base.index)
    changed = base.ne(alternative) & alternative.notna()
    return pd.DataFrame({"before": base[changed], "after": alternative[changed]})


def sensitivity(
    base: pd.Series, scenarios: Mapping[str, pd.Series], labels: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """One row per scenario: how many verdicts it recomputes, how many flip, and which.

    ``base`` holds the fact-check's verdicts; each scenario holds the verdicts it
    recomputes (indexed by figure id, a subset of ``base``). ``labels`` names the
    figures in the ``flips`` column (the figure id where it has no label).
    """
    labels = labels or {}
    rows = []
    for name, alternative in scenarios.items():
        unknown = set(alternative.index) - set(base.index)
        if unknown:
            raise ValueError(
                f"scenario {name!r} judges claims not in the fact-check: {sorted(unknown)}"
            )
        changed = flips(base.loc[alternative.index], alternative)
        rows.append({
            "scenario": name,
            "verdicts recomputed": len(alternative),
            "verdicts that flip": len(changed),
            "flips": "; ".join(
                f"{labels.get(fid, fid)}: {r.before} → {r.after}" for fid, r in changed.iterrows()
            ) or "none",
        })
    return pd.DataFrame(rows)
