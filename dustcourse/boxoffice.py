"""Box-office arithmetic for the chapter on the film's run: day numbers, milestones, a growth curve.

Chinese box-office reports count the days of a run with the release day as day 1
(for *Return to Dust*, 8 July 2022 is day 1, so 1 September is day 56). A cumulative
figure "on day d" is the total at the end of that day, so the end of day d is d days
into the run and the run starts, before any ticket is sold, at day 0 with a total of 0.

* :func:`day_number` turns a date into that day count;
* :func:`cumulative_series` picks one cumulative figure per day out of the milestone table;
* :func:`days_to_reach` interpolates the day on which a cumulative total crossed a threshold;
* :func:`average_daily_gross` is the mean takings per day between two cumulative milestones;
* :func:`implied_admissions` and :func:`implied_price` link gross, tickets and price;
* :func:`logistic` and :func:`fit_logistic` fit an S-shaped (logistic) curve to the
  cumulative milestones, deterministically (fixed starting guess and bounds).

Every function returns plain Python numbers (or a DataFrame), ready for
:func:`dustcourse.book.glue_number`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "RELEASE_DATE",
    "LogisticFit",
    "average_daily_gross",
    "cumulative_series",
    "day_number",
    "days_to_reach",
    "fit_logistic",
    "implied_admissions",
    "implied_price",
    "logistic",
]

RELEASE_DATE = pd.Timestamp("2022-07-08")  # mainland release of Return to Dust: day 1


def day_number(date, release=RELEASE_DATE) -> int:
    """Day of the run, counting the release day as day 1 (8 Jul 2022 -> 1, 1 Sep 2022 -> 56)."""
    stamp = pd.Timestamp(date)
    if pd.isna(stamp):
        raise ValueError("a missing date has no day number")
    return int((stamp.normalize() - pd.Timestamp(release).normalize()).days) + 1


def cumulative_series(milestones: pd.DataFrame, exclude=(), unit: str = "yuan") -> pd.DataFrame:
    """One cumulative gross per day from the milestone table, with day numbers.

    Keeps the rows with ``figure == "cumulative_gross"`` in ``unit`` whose date is known
    to the day, drops the row ids in ``exclude``, and keeps the *largest* figure of each
    day (reports of "over X" and thresholds "passed X" are all lower bounds of the total
    that day). Returns a DataFrame indexed by ``day`` (int) with the columns ``date``,
    ``gross`` (in ``unit``) and ``id`` (the row kept), sorted by day.

    Raises ``ValueError`` if the result is not non-decreasing: a cumulative total cannot
    fall, so a fall means a stale or conflicting row that must be excluded by hand.
    """
    rows = milestones.copy()
    if "id" not in rows.columns:
        rows = rows.reset_index()
    dates = rows["date"].astype("string")
    keep = (
        (rows["figure"].astype("string") == "cumulative_gross")
        & (rows["unit"].astype("string") == unit)
        & dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
        & ~rows["id"].isin(list(exclude))
    )
    rows = rows[keep].assign(
        date=pd.to_datetime(dates[keep]), gross=lambda d: d["value"].astype(float)
    )
    rows = rows.sort_values(["date", "gross"]).drop_duplicates("date", keep="last")
    out = pd.DataFrame({
        "day": [day_number(d) for d in rows["date"]],
        "date": rows["date"].to_numpy(),
        "gross": rows["gross"].to_numpy(),
        "id": rows["id"].to_numpy(),
    }).set_index("day")
    falls = out["gross"].diff() < 0
    if falls.any():
        bad = ", ".join(f"{out.loc[d, 'id']} (day {d})" for d in out.index[falls])
        raise ValueError(
            f"the cumulative gross falls at {bad}: exclude the stale or conflicting row"
        )
    return out


def _curve(days, values, start_at_zero: bool) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(days, dtype=float)
    y = np.asarray(values, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
        raise ValueError("days and values must be two sequences of the same length")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if start_at_zero and x[0] > 0:
        x, y = np.r_[0.0, x], np.r_[0.0, y]
    if np.any(np.diff(y) < 0):
        raise ValueError("a cumulative total cannot fall: the values must be non-decreasing")
    return x, y


def days_to_reach(days, values, threshold: float, *, start_at_zero: bool = True) -> float:
    """The (fractional) day on which a cumulative total first reached ``threshold``.

    Straight-line interpolation between the known points; with ``start_at_zero`` the
    run begins at day 0 with a total of 0. If a point equals the threshold, its day is
    returned. Raises ``ValueError`` if the total never reaches the threshold.

    >>> days_to_reach([10, 20], [100, 300], 200)
    15.0
    """
    x, y = _curve(days, values, start_at_zero)
    if threshold <= y[0]:
        return float(x[0])
    above = np.nonzero(y >= threshold)[0]
    if len(above) == 0:
        raise ValueError(f"the total never reaches {threshold!r} (maximum {y[-1]!r})")
    i = int(above[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (threshold - y0) / (y1 - y0) * (x1 - x0))


def average_daily_gross(day_from, gross_from, day_to, gross_to) -> float:
    """Mean takings per day between two cumulative milestones: (gross_to - gross_from) / days."""
    days = float(day_to) - float(day_from)
    if days <= 0:
        raise ValueError(f"day_to ({day_to}) must come after day_from ({day_from})")
    return (float(gross_to) - float(gross_from)) / days


def _ratio(numerator, denominator, what: str):
    den = np.asarray(denominator, dtype=float)
    if not np.all(den > 0):
        raise ValueError(f"{what} must be positive, got {denominator!r}")
    result = np.asarray(numerator, dtype=float) / den
    return float(result) if result.ndim == 0 else result


def implied_admissions(gross, average_price):
    """Tickets sold if ``gross`` (yuan) was taken at ``average_price`` (yuan per ticket).

    Either argument may be an array (a range of prices, say); scalars give a float.
    """
    return _ratio(gross, average_price, "the average ticket price")


def implied_price(gross, admissions):
    """Average price per ticket (yuan) implied by a gross (yuan) and a count of admissions."""
    return _ratio(gross, admissions, "admissions")


def logistic(t, K, r, t0):
    """Logistic curve K / (1 + exp(-r (t - t0))): total K, growth rate r per day, midpoint t0."""
    return K / (1.0 + np.exp(-r * (np.asarray(t, dtype=float) - t0)))


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic curve: saturation level ``K`` (units of the data), rate ``r`` (per
    day), midpoint ``t0`` (day), with standard errors from the fit's covariance."""

    K: float
    r: float
    t0: float
    K_se: float
    r_se: float
    t0_se: float
    rmse: float
    n: int

    def __call__(self, t):
        return logistic(t, self.K, self.r, self.t0)


def fit_logistic(days, values) -> LogisticFit:
    """Least-squares logistic fit to cumulative totals (scipy ``curve_fit``, trust region).

    Deterministic: the starting guess is fixed by the data (K = 1.2 x the largest total,
    r = 0.1 per day, t0 = the day the total first passes half its largest value) and the
    parameters are bounded (K from the largest total to 20 times it, r in (0.001, 5),
    t0 within the observed days). Fit in units where the totals are of order 1-1000
    (million yuan, say) so that the optimiser is well scaled.
    """
    from scipy.optimize import curve_fit

    x, y = _curve(days, values, start_at_zero=False)
    if len(x) < 4:
        raise ValueError("a three-parameter curve needs at least four points")
    top = float(y.max())
    t_half = days_to_reach(x, y, top / 2, start_at_zero=False)
    p0 = [1.2 * top, 0.1, t_half]
    lower = [top, 1e-3, float(x.min())]
    upper = [20 * top, 5.0, float(x.max())]
    params, cov = curve_fit(
        logistic, x, y, p0=p0, bounds=(lower, upper), method="trf", maxfev=20000
    )
    errors = np.sqrt(np.clip(np.diag(cov), 0, None))
    residuals = y - logistic(x, *params)
    rmse = math.sqrt(float(np.mean(residuals**2)))
    return LogisticFit(*map(float, params), *map(float, errors), rmse=rmse, n=len(x))
