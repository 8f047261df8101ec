"""Read figures as journalists print them: ``US$14.3m``, ``100 million yuan``, ``twice``.

A printed figure carries more than a number: a currency (or none), a qualifier
("more than", "almost") and a *precision*, the place of its last printed digit.
"US$14.3m" says the amount lies in [14.25m, 14.35m); "100 million yuan" says far less.

>>> parse_amount("US$14.3m")
(14300000.0, 'USD')
>>> parse_amount("100 million yuan")
(100000000.0, 'yuan')
>>> rounding_interval("US$14.3m")
(14250000.0, 14350000.0)
>>> implied_rate_interval("100 million yuan", "US$14.3m")  # yuan per US dollar
(6.968641114982578, 7.017543859649122)

Conventions (stated once, used everywhere):

* The rounding interval is half-open, ``[value - step/2, value + step/2)``, where
  ``step`` is one unit of the last printed digit, times the scale ("million").
* Trailing zeros of a whole number are *not* taken as significant unless asked
  (``trailing_zeros=True``): "US$290,000" may be a rounding to the nearest 10,000, so
  its step is 10,000. This is the widest honest reading, which gives the writer the
  benefit of the doubt when checking whether rounding explains a gap.
* Vague plurals ("dozens of", "millions") and words such as "the only" are not
  numbers: reading them as one needs a human decision, so they raise ``ValueError``.

Every function raises ``ValueError`` with a message naming the text when it cannot
read it; nothing is guessed silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "PrintedFigure",
    "claimed_range",
    "implied_rate",
    "implied_rate_interval",
    "parse_amount",
    "parse_figure",
    "rounding_interval",
    "verdict",
]

# Qualifier words -> the qualifier codes of the course's article_figures table.
_QUALIFIERS = {
    "more than": "more_than", "over": "more_than", "above": "more_than",
    "less than": "less_than", "under": "less_than", "below": "less_than",
    "about": "about", "approximately": "about", "around": "about", "roughly": "about",
    "almost": "about", "nearly": "about",
}
_SCALE_WORDS = {"thousand": 3, "million": 6, "billion": 9}
_SCALE_SUFFIXES = {"k": 3, "m": 6, "mn": 6, "bn": 9, "万": 4, "亿": 8}
_CURRENCY_PREFIXES = {
    "us$": "USD", "$": "USD", "usd": "USD", "rmb": "yuan", "cny": "yuan", "¥": "yuan",
}
_CURRENCY_SUFFIXES = {"yuan": "yuan", "rmb": "yuan", "cny": "yuan", "usd": "USD",
                      "us dollars": "USD", "dollars": "USD"}
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "a dozen": 12, "dozen": 12, "once": 1, "twice": 2,
}
_VAGUE = ("dozens", "scores", "hundreds", "thousands", "millions", "billions")


def _alternatives(words) -> str:
    """Regex alternation, longest first, spaces matching any whitespace."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in ordered)


_PATTERN = re.compile(
    rf"""^\s*
    (?:(?P<qualifier>{_alternatives(_QUALIFIERS)})\s+)?
    (?P<prefix>{_alternatives(_CURRENCY_PREFIXES)})?\s*
    (?:
        (?P<digits>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)
        (?P<suffix>{_alternatives(_SCALE_SUFFIXES)})?(?![A-Za-z0-9])
      | (?P<word>{_alternatives(_NUMBER_WORDS)})(?![A-Za-z])
    )
    (?:\s+(?P<scale>{_alternatives(_SCALE_WORDS)})(?![A-Za-z]))?
    (?:\s+(?P<currency>{_alternatives(_CURRENCY_SUFFIXES)})(?![A-Za-z]))?
    (?P<rest>(?:\s+[^\W\d_][^\s\d]*)*)
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class PrintedFigure:
    """One printed figure, read: the number, its currency, qualifier and precision.

    ``value`` is in whole units (yuan, dollars, people); ``step`` is the size of one
    unit of the last printed digit in the same units; ``noun`` is what follows the
    number ("households", "views"), lower-cased.
    """

    text: str
    value: float
    currency: str | None
    qualifier: str
    step: float
    noun: str


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def parse_figure(text: str, *, trailing_zeros: bool = False) -> PrintedFigure:
    """Read one printed figure.

    >>> parse_figure("more than 2.58 billion views")
    PrintedFigure(text='more than 2.58 billion views', value=2580000000.0, currency=None, \
qualifier='more_than', step=10000000.0, noun='views')

    ``trailing_zeros=True`` counts the trailing zeros of a whole number as printed
    digits ("US$290,000" then has a step of 1 dollar instead of 10,000).
    Raises ``ValueError`` for text with no number, two numbers, a vague plural
    ("dozens of"), conflicting currencies or a scale given twice.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected the printed text as a str, got {type(text).__name__}")
    match = _PATTERN.match(text)
    if match is None:
        lowered = _normalise(text)
        vague = next((w for w in _VAGUE if re.search(rf"\b{w}\b", lowered)), None)
        if vague:
            raise ValueError(
                f"cannot read {text!r}: {vague!r} is a vague quantity, not a number; "
                "record a reading of it (and say so in a note) instead of parsing it"
            )
        if not re.search(r"\d", text) and not any(
            re.search(rf"\b{w}\b", lowered) for w in _NUMBER_WORDS
        ):
            raise ValueError(f"cannot read {text!r}: no number in it")
        raise ValueError(
            f"cannot read {text!r} as one printed figure: expected an optional qualifier "
            "('more than'), an optional currency, one number with an optional scale "
            "('14.3m', '100 million') and then words only"
        )
    groups = match.groupdict()
    if groups["suffix"] and groups["scale"]:
        raise ValueError(f"cannot read {text!r}: the scale is given twice")
    prefix = _CURRENCY_PREFIXES.get(_normalise(groups["prefix"] or ""))
    suffix = _CURRENCY_SUFFIXES.get(_normalise(groups["currency"] or ""))
    if prefix and suffix and prefix != suffix:
        raise ValueError(f"cannot read {text!r}: two different currencies ({prefix}, {suffix})")
    if groups["word"] and groups["prefix"]:
        raise ValueError(f"cannot read {text!r}: a currency sign before a number word")

    if groups["word"]:
        number = Decimal(_NUMBER_WORDS[_normalise(groups["word"])])
        exponent = 0
    else:
        digits = groups["digits"].replace(",", "")
        number = Decimal(digits)
        if "." in digits:
            exponent = -len(digits.split(".")[1])
        elif trailing_zeros or number == 0:
            exponent = 0
        else:
            exponent = len(digits) - len(digits.rstrip("0"))
    power = 0
    if groups["suffix"]:
        power = _SCALE_SUFFIXES[groups["suffix"].lower()]
    elif groups["scale"]:
        power = _SCALE_WORDS[groups["scale"].lower()]
    scale = Decimal(10) ** power
    qualifier = _QUALIFIERS[_normalise(groups["qualifier"])] if groups["qualifier"] else "exact"
    return PrintedFigure(
        text=text,
        value=float(number * scale),
        currency=prefix or suffix,
        qualifier=qualifier,
        step=float(Decimal(10) ** exponent * scale),
        noun=_normalise(groups["rest"] or ""),
    )


def parse_amount(text: str) -> tuple[float, str | None]:
    """The value and currency of a printed figure: ``"US$14.3m"`` -> ``(14300000.0, "USD")``.

    The currency is ``"yuan"``, ``"USD"`` or ``None`` when none is printed (a count,
    or an amount whose currency the reader must infer). Raises ``ValueError`` when the
    text cannot be read (see :func:`parse_figure`).
    """
    figure = parse_figure(text)
    return figure.value, figure.currency


def _as_figure(printed: str | PrintedFigure, trailing_zeros: bool) -> PrintedFigure:
    if isinstance(printed, PrintedFigure):
        return printed
    return parse_figure(printed, trailing_zeros=trailing_zeros)


def rounding_interval(
    printed: str | PrintedFigure, *, trailing_zeros: bool = False
) -> tuple[float, float]:
    """The half-open interval ``[low, high)`` of true values that print as ``printed``.

    >>> rounding_interval("US$290,000")
    (285000.0, 295000.0)
    >>> rounding_interval("US$290,000", trailing_zeros=True)
    (289999.5, 290000.5)

    The qualifier is ignored here: see :func:`claimed_range` for what a "more than" claims.
    """
    figure = _as_figure(printed, trailing_zeros)
    value, half = Decimal(repr(figure.value)), Decimal(repr(figure.step)) / 2
    return float(value - half), float(value + half)


def claimed_range(
    printed: str | PrintedFigure, *, trailing_zeros: bool = False
) -> tuple[float, float]:
    """The range of true values a printed claim allows, qualifier included.

    "exact" and "about" figures claim their rounding interval; "more than X" claims
    ``[X, inf)`` and "less than X" claims ``(-inf, X]``.
    """
    figure = _as_figure(printed, trailing_zeros)
    if figure.qualifier == "more_than":
        return figure.value, float("inf")
    if figure.qualifier == "less_than":
        return float("-inf"), figure.value
    return rounding_interval(figure)


def verdict(printed: str | PrintedFigure, checked: float, *, trailing_zeros: bool = False) -> str:
    """Compare a printed figure with a value checked against the record.

    Returns ``"consistent"`` when the checked value equals the printed value,
    ``"rounding"`` when it differs but lies within the printed figure's rounding
    interval, and ``"wrong"`` otherwise. A bound ("more than X", "less than X") is a
    claim of direction: ``"consistent"`` when the checked value satisfies it (the
    boundary included), ``"wrong"`` when it does not.
    """
    figure = _as_figure(printed, trailing_zeros)
    checked = float(checked)
    if checked != checked:  # NaN
        raise ValueError(f"no checked value to compare {figure.text!r} with (NaN)")
    if figure.qualifier in ("more_than", "less_than"):
        low, high = claimed_range(figure)
        return "consistent" if low <= checked <= high else "wrong"
    if abs(checked - figure.value) <= 1e-9 * max(1.0, abs(figure.value)):
        return "consistent"
    low, high = rounding_interval(figure)
    if low <= checked < high:
        return "rounding"
    return "wrong"


def implied_rate(yuan_printed: str, usd_printed: str) -> float:
    """Yuan per US dollar implied by a printed pair: ``yuan / dollars``."""
    yuan, usd = _pair(yuan_printed, usd_printed)
    return yuan.value / usd.value


def implied_rate_interval(
    yuan_printed: str, usd_printed: str, *, yuan_exact: bool = True, trailing_zeros: bool = False
) -> tuple[float, float]:
    """The range of exchange rates (yuan per US dollar) that reproduce a printed pair.

    A writer who converts 100 million yuan and prints "US$14.3m" divided by a rate
    between ``100m / 14.35m`` and ``100m / 14.25m``. With ``yuan_exact=True`` (the
    default) the yuan amount is taken as the exact amount converted, as it is when the
    dollar figure is the writer's conversion of the yuan figure; with ``False`` the
    yuan amount's own rounding widens the range too. Returns ``(low, high)``; the
    upper end is included, the lower end is not.
    """
    yuan, usd = _pair(yuan_printed, usd_printed)
    # parse again with the caller's reading of trailing zeros (_pair reads the wide one)
    usd_low, usd_high = rounding_interval(usd.text, trailing_zeros=trailing_zeros)
    yuan_low, yuan_high = (
        (yuan.value, yuan.value) if yuan_exact
        else rounding_interval(yuan.text, trailing_zeros=trailing_zeros)
    )
    if usd_low <= 0:
        raise ValueError(f"cannot bound the rate: {usd.text!r} could round from zero dollars")
    return yuan_low / usd_high, yuan_high / usd_low


def _pair(yuan_printed: str, usd_printed: str) -> tuple[PrintedFigure, PrintedFigure]:
    yuan, usd = parse_figure(yuan_printed), parse_figure(usd_printed)
    if yuan.currency not in ("yuan", None):
        raise ValueError(f"{yuan_printed!r} is in {yuan.currency}, not yuan")
    if usd.currency != "USD":
        raise ValueError(f"{usd_printed!r} is not printed as US dollars")
    if usd.value <= 0:
        raise ValueError(f"{usd_printed!r}: a dollar amount must be positive to give a rate")
    return yuan, usd
