"""What every chapter of the book imports in its hidden preamble cell.

    from dustcourse.book import glue_figure, glue_number, glue_text, load, np, pd, plt

Importing this module sets the plotting defaults (a font that has Chinese glyphs,
readable sizes, no chart junk), so a chapter needs that one line and nothing else.
Numbers go into the prose through :func:`glue_number`, which formats them in code so
that a NumPy scalar never reaches the text as ``np.float64(...)``.
"""

from __future__ import annotations

import numbers
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from .data import load

__all__ = [
    "add_source_line",
    "count_noun",
    "format_date",
    "format_number",
    "format_ordinal",
    "glue_date",
    "glue_figure",
    "glue_number",
    "glue_text",
    "load",
    "mark_unverified",
    "np",
    "pd",
    "plt",
    "set_plot_defaults",
]

# The course environment's matplotlibrc: the fonts every kernel of the course uses
# (scripts/setup.sh points the course kernel at it). Latin text in DejaVu Sans; glyphs
# it lacks (汉字) fall back to Noto Sans CJK (Debian's fonts-noto-cjk).
MATPLOTLIBRC = Path(__file__).with_name("matplotlibrc")
FONT_FAMILY = list(mpl.rc_params_from_file(MATPLOTLIBRC, use_default_template=False)["font.family"])


def set_plot_defaults() -> None:
    """Matplotlib settings shared by every chapter."""
    mpl.rcParams.update(
        {
            "font.family": FONT_FAMILY,
            "figure.figsize": (7.0, 4.2),
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.labelsize": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
        }
    )
    pd.set_option("display.max_colwidth", 60)


def _plain(value):
    """A NumPy or pandas scalar as the plain Python number it holds."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_number(value, decimals: int = 0, *, percent: bool = False) -> str:
    """Format a number for prose: thousands separators, fixed decimals.

    ``percent=True`` multiplies a share by 100 and adds a percent sign.
    """
    value = _plain(value)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"expected a number to format, got {type(value).__name__}: {value!r}")
    if pd.isna(value):
        raise ValueError("refusing to put a missing value (NaN) into the text")
    if percent:
        return f"{value * 100:,.{decimals}f}%"
    return f"{value:,.{decimals}f}"


def glue_text(key: str, text: str) -> str:
    """Glue a ready-made piece of text for ``{glue:text}`key```; returns it too."""
    if not isinstance(text, str):
        raise TypeError(f"glue_text({key!r}) expects a str, got {type(text).__name__}")
    glue(key, text, display=False)
    return text


def count_noun(count, singular: str, plural: str | None = None) -> str:
    """'1 figure', '5 figures': a count with its noun in the right number."""
    count = _plain(count)
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{format_number(count)} {noun}"


def glue_number(key: str, value, decimals: int = 0, *, percent: bool = False) -> str:
    """Format a number (see :func:`format_number`) and glue it under ``key``."""
    return glue_text(key, format_number(value, decimals, percent=percent))


def format_ordinal(value) -> str:
    """An ordinal for prose: 1 -> '1st', 72 -> '72nd', 113 -> '113th'."""
    value = _plain(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a whole number for an ordinal, got {value!r}")
    if value % 100 in (11, 12, 13):
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value:,}{suffix}"


def format_date(value, *, year: bool = True) -> str:
    """A date for prose: '7 September 2022' (or '7 September' with ``year=False``)."""
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ValueError("refusing to put a missing date (NaT) into the text")
    text = f"{stamp.day} {stamp:%B}"
    return f"{text} {stamp.year}" if year else text


def glue_date(key: str, value, *, year: bool = True) -> str:
    """Format a date (see :func:`format_date`) and glue it under ``key``."""
    return glue_text(key, format_date(value, year=year))


def mark_unverified(text: str, verified) -> str:
    """Label a statistic taken from a row whose ``verified`` flag is false.

    The data README asks that such rows be labelled wherever they are used:
    ``mark_unverified("42.1 yuan", False)`` -> ``'42.1 yuan (unverified)'``.
    """
    verified = _plain(verified)
    if not isinstance(verified, bool):
        raise TypeError(f"verified must be a bool, got {type(verified).__name__}: {verified!r}")
    return text if verified else f"{text} (unverified)"


def add_source_line(fig: plt.Figure, text: str) -> None:
    """Write a 'Source: ...' line under a figure, left-aligned."""
    fig.text(0.01, -0.02, f"Source: {text}", ha="left", va="top", fontsize=8, color="0.3")


def glue_figure(key: str, fig: plt.Figure) -> None:
    """Glue a finished figure (shown in the text with ``{glue:figure}``) and close it."""
    glue(key, fig, display=False)
    plt.close(fig)


set_plot_defaults()
