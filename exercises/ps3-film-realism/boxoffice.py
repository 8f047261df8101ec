"""Box-office arithmetic for the chapter on the film's run: day numbers, milestones, a growth curve.

Chinese box-office reports count the days of a run with the release day as day 1
(for *Return to Dust*, 8 July 2022 is day 1, so 1 September is day 56). A cumulative
figure "on day d" is the total at the end of that day, so the end of day d is d days
into the run and the run starts, before any ticket is sold, at day 0 with a total of 0.

* :func:`day_number` turns a date into that day count;
* :func:`cumulative_series` picks one cumulative figure per day out of the milestone table;
* :func:`reading` says how a milestone row is to be read (as reported, a lower bound, a
  threshold passed, approximate);
* :func:`run_exclusions` and :func:`run_series`: the rows the run leaves out, by one rule,
  and the run itself (every chapter and exercise that draws the run uses this one);
* :func:`run_start` finds the first day of the run of days above a daily threshold;
* :func:`days_to_reach` interpolates the day on which a cumulative total crossed a threshold;
* :func:`average_daily_gross` is the mean takings per day between two cumulative milestones;
* :func:`implied_admissions` and :func:`implied_price` link gross, tickets and price;
* :func:`run_band` gives, for each day of the run, the smallest and the largest total the
  sources report (the spread between Beacon, Maoyan and the press);
* :func:`legs` is the ratio of a final total to the opening weekend;
* :func:`logistic` and :func:`fit_logistic` fit an S-shaped (logistic) curve to the
  cumulative milestones, deterministically (fixed starting guess and bounds).

Every function returns plain Python numbers (or a DataFrame), ready for
:func:`dustcourse.book.glue_number`.
"""

from __future__ import annotations

import math
import re
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
    "legs",
    "logistic",
    "reading",
    "run_band",
    "run_exclusions",
    "run_series",
    "run_start",
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


READINGS = ("as reported", "lower bound", "threshold passed", "approximate")

_LOWER = re.compile(r"\b(?:over|more than|exceeded|at least)\b", re.IGNORECASE)
_THRESHOLD = re.compile(r"\b(?:passed|reached)\b", re.IGNORECASE)
_APPROX = re.compile(r"\b(?:approx\.?|approximate|about)\b", re.IGNORECASE)


def reading(row) -> str:
    """How to read one milestone row: one of :data:`READINGS`.

    ``"lower bound"`` when the source says the total was *over* (more than, exceeded)
    the figure, or the row's note starts with "Lower bound"; ``"approximate"`` when the
    figure or its date is approximate; ``"threshold passed"`` when the source reports a
    round mark passed or reached that day; otherwise ``"as reported"``, an exact figure.
    Lower bounds and thresholds say the total was *at least* the value.
    """
    note = "" if pd.isna(row.get("note")) else str(row.get("note"))
    as_of = "" if pd.isna(row.get("as_of_note")) else str(row.get("as_of_note"))
    if note.startswith("Lower bound") or _LOWER.search(as_of):
        return "lower bound"
    if note.startswith("Approximate") or _APPROX.search(as_of):
        return "approximate"
    if _THRESHOLD.search(as_of):
        return "threshold passed"
    return "as reported"


def _day_rows(milestones: pd.DataFrame, figure: str, unit: str) -> pd.DataFrame:
    rows = milestones.copy()
    if "id" not in rows.columns:
        rows = rows.reset_index()
    dates = rows["date"].astype("string")
    keep = (
        (rows["figure"].astype("string") == figure)
        & (rows["unit"].astype("string") == unit)
        & dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).astype(bool)
    )
    rows = rows[keep].copy()
    rows["day"] = [day_number(d) for d in dates[keep]]
    rows["value"] = rows["value"].astype(float)
    return rows.sort_values(["day", "value"], kind="stable")


def _upper_bounds(cumulative: pd.DataFrame, daily: pd.DataFrame) -> dict[int, tuple[float, str]]:
    """For each day, the most the total can have been at its end, and why.

    An exact cumulative total V at the end of day e bounds every earlier day; if the
    takings of days e, e-1, ..., k+1 are all known, the total at the end of day k was
    V less those takings, and so was every total before it.
    """
    takings = daily.groupby("day")["value"].max().to_dict()
    bounds: dict[int, tuple[float, str]] = {}
    exact = cumulative[[reading(r) == "as reported" for _, r in cumulative.iterrows()]]
    for _, row in exact.iterrows():
        total, day, used = float(row["value"]), int(row["day"]), []
        while day in takings:
            total -= takings[day]
            used.append(day)
            day -= 1
        why = f"{row['id']}: {total_text(row['value'])} at the end of day {int(row['day'])}"
        if used:
            days = f"{min(used)}-{max(used)}" if len(used) > 1 else f"{used[0]}"
            why += f", less the takings of day{'s' if len(used) > 1 else ''} {days}"
        for d in range(1, day + 1):
            if d not in bounds or total < bounds[d][0]:
                bounds[d] = (total, why)
        # the days of the chain itself are bounded too
        running = float(row["value"])
        for d in sorted(used, reverse=True):
            if d not in bounds or running < bounds[d][0]:
                bounds[d] = (running, why)
            running -= takings[d]
    return bounds


def total_text(value) -> str:
    """A yuan total for a reason string: '50.82 million yuan'."""
    return f"{float(value) / 1e6:,.2f} million yuan"


def run_exclusions(milestones: pd.DataFrame, unit: str = "yuan") -> pd.DataFrame:
    """The cumulative rows the run leaves out, each with the reason, by one rule.

    A dated cumulative figure (of any reading: exact, lower bound, threshold) says the
    total at the end of its day was at least its value. It is left out when

    1. **contradicted**: an exact total reported for the same or a later day, less the
       daily takings reported in between, shows the total that day was smaller; or
    2. **stale**: it is lower than a figure (not left out) for an earlier day, so it
       says nothing new (a round "more than X" repeated after a higher total).

    Returns a DataFrame with the columns ``id``, ``date``, ``day``, ``gross`` and
    ``reason``, in day order (empty if nothing is left out).
    """
    cumulative = _day_rows(milestones, "cumulative_gross", unit)
    daily = _day_rows(milestones, "daily_gross", unit)
    bounds = _upper_bounds(cumulative, daily)
    out = []
    kept = []
    for _, row in cumulative.iterrows():
        day, value = int(row["day"]), float(row["value"])
        limit = bounds.get(day)
        if limit is not None and value > limit[0] + 0.5:
            out.append((row["id"], row["date"], day, value,
                        f"contradicted: the total at the end of day {day} was at most "
                        f"{total_text(limit[0])} ({limit[1]})"))
        else:
            kept.append(row)
    best_day, best = None, -math.inf
    for row in sorted(kept, key=lambda r: (int(r["day"]), float(r["value"]))):
        day, value = int(row["day"]), float(row["value"])
        earlier = best if best_day is not None and best_day < day else -math.inf
        if value < earlier:
            out.append((row["id"], row["date"], day, value,
                        f"stale: lower than the {total_text(best)} already reported "
                        f"for day {best_day}"))
            continue
        if value > best or best_day is None:
            best_day, best = day, value
    return (pd.DataFrame(out, columns=["id", "date", "day", "gross", "reason"])
            .sort_values("day", kind="stable").reset_index(drop=True))


def run_series(milestones: pd.DataFrame, unit: str = "yuan") -> pd.DataFrame:
    """The film's run: :func:`cumulative_series` without the rows of :func:`run_exclusions`.

    The one series every chapter and exercise draws; ``series.attrs["excluded"]`` holds
    the rows left out, with their reasons.
    """
    excluded = run_exclusions(milestones, unit)
    series = cumulative_series(milestones, exclude=list(excluded["id"]), unit=unit)
    series.attrs["excluded"] = excluded
    return series


def run_band(milestones: pd.DataFrame, unit: str = "yuan") -> pd.DataFrame:
    """The run with an uncertainty band, for each day of :func:`run_series`.

    * ``lower``: the smallest figure any source reports for that day among the rows the
      run keeps (a round "more than" in the press rather than a data service's exact
      figure), raised to the highest earlier ``lower`` (a total cannot fall);
    * ``value``: the run's own value, the largest report of the day;
    * ``upper``: the most the total can have been, from the exact totals reported on
      that day or later less the daily takings reported in between (the bounds of
      :func:`run_exclusions`). Where no exact total follows, nothing bounds the day from
      above: ``upper`` is then the day's ``value`` and ``upper_known`` is False.

    Also ``date`` and ``n_reports`` (cumulative figures reported for the day).
    """
    run = run_series(milestones, unit)
    cumulative = _day_rows(milestones, "cumulative_gross", unit)
    daily = _day_rows(milestones, "daily_gross", unit)
    kept = cumulative[~cumulative["id"].isin(list(run.attrs["excluded"]["id"]))]
    per_day = kept.groupby("day")["value"]
    bounds = {day: bound for day, (bound, _) in _upper_bounds(cumulative, daily).items()}
    known = pd.Series({day: bounds.get(day, math.inf) for day in run.index}, dtype=float)
    known = known[::-1].cummin()[::-1]  # a bound on a later day bounds every earlier day
    value = run["gross"].astype(float)
    band = pd.DataFrame({
        "date": run["date"],
        "lower": per_day.min().reindex(run.index).cummax(),
        "value": value,
        "upper": known.where(np.isfinite(known), value),
        "upper_known": np.isfinite(known),
        "n_reports": per_day.size().reindex(run.index).astype(int),
    })
    band.index.name = "day"
    if not ((band["lower"] <= band["value"]) & (band["value"] <= band["upper"] + 0.5)).all():
        raise ValueError("the band does not contain the run: conflicting rows")
    return band


def legs(total, opening_weekend) -> float:
    """A run's "legs": its total divided by its opening-weekend gross (same currency).

    >>> legs(30, 10)
    3.0
    """
    weekend = float(opening_weekend)
    if not weekend > 0:
        raise ValueError(f"the opening weekend must be positive, got {opening_weekend!r}")
    return float(total) / weekend


def run_start(milestones: pd.DataFrame, threshold: float = 1_000_000, unit: str = "yuan"):
    """The first day of the run of days with takings at or above ``threshold``.

    Looks at the dated daily takings (``figure == "daily_gross"``) up to the record
    day (the largest): the run starts at the first figure at or above the threshold
    after the last figure below it. An isolated earlier day above the threshold
    (a weekend in the first weeks, say) is followed by days below it and does not start
    the run. Returns the row (a Series, with ``day``); raises ``ValueError`` if no
    daily figure reaches the threshold.
    """
    daily = _day_rows(milestones, "daily_gross", unit).reset_index(drop=True)
    if daily.empty or daily["value"].max() < threshold:
        raise ValueError(f"no dated daily takings reach {threshold!r}")
    daily = daily.loc[: daily["value"].idxmax()]
    below = daily.index[daily["value"] < threshold]
    after = daily.loc[(below.max() + 1) if len(below) else 0:]
    return after[after["value"] >= threshold].iloc[0]


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
