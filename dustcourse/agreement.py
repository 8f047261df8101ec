"""Agreement between two codings of the same units (inter-coder reliability).

Two coders give every unit one code from the same list. The chapter *Film realism*
compares the course's first coding of ``rtd_voices`` with a second, independent one
(``rtd_voices_second_coding``) with these functions:

* :func:`paired_codes` lines the two codings up by unit and refuses units coded once;
* :func:`agreement_table` counts units by (first code, second code), every category
  kept, zeros included, so the diagonal is the agreement;
* :func:`observed_agreement` is the share of units coded alike;
* :func:`kappa` is Cohen's kappa from scikit-learn (``cohen_kappa_score``): the
  agreement beyond what two coders with these category shares would reach by chance,
  ``(observed - expected) / (1 - expected)``;
* :func:`chance_agreement` is that expected share, for the text.

>>> first = pd.Series({"a": "yes", "b": "no", "c": "no", "d": "no"})
>>> second = pd.Series({"a": "yes", "b": "no", "c": "yes", "d": "no"})
>>> observed_agreement(first, second)
0.75
>>> round(kappa(first, second, ["yes", "no"]), 3)
0.5
"""

from __future__ import annotations

import pandas as pd
from sklearn.metrics import cohen_kappa_score

__all__ = [
    "agreement_table",
    "chance_agreement",
    "disagreements",
    "kappa",
    "observed_agreement",
    "paired_codes",
]


def paired_codes(first: pd.Series, second: pd.Series) -> pd.DataFrame:
    """The two codings side by side, one row per unit (index: the unit id).

    Both series are indexed by unit id. Raises ``ValueError`` when a unit is coded by
    one coder only, coded twice by one coder, or left without a code: agreement is
    only defined on units both coders coded.
    """
    for name, codes in (("first", first), ("second", second)):
        if not codes.index.is_unique:
            dup = sorted(codes.index[codes.index.duplicated()].astype(str))
            raise ValueError(f"the {name} coding codes some units twice: {', '.join(dup)}")
        if codes.isna().any():
            missing = sorted(codes.index[codes.isna()].astype(str))
            raise ValueError(f"the {name} coding leaves units without a code: {', '.join(missing)}")
    only_first = sorted(set(first.index) - set(second.index))
    only_second = sorted(set(second.index) - set(first.index))
    if only_first or only_second:
        raise ValueError(
            "the codings cover different units: "
            f"only in the first: {', '.join(map(str, only_first)) or 'none'}; "
            f"only in the second: {', '.join(map(str, only_second)) or 'none'}"
        )
    second = second.reindex(first.index)
    return pd.DataFrame({"first": first.astype(str), "second": second.astype(str)})


def agreement_table(first: pd.Series, second: pd.Series, categories: list[str]) -> pd.DataFrame:
    """Units counted by first code (rows) and second code (columns), all categories kept.

    Raises ``ValueError`` for a code that is not one of ``categories``.
    """
    pairs = paired_codes(first, second)
    unknown = sorted((set(pairs["first"]) | set(pairs["second"])) - set(categories))
    if unknown:
        raise ValueError(f"codes outside the categories {categories}: {', '.join(unknown)}")
    table = pd.crosstab(
        pd.Categorical(pairs["first"], categories=categories),
        pd.Categorical(pairs["second"], categories=categories),
        dropna=False,
    )
    table.index.name, table.columns.name = "first coding", "second coding"
    return table.reindex(index=categories, columns=categories, fill_value=0).astype(int)


def observed_agreement(first: pd.Series, second: pd.Series) -> float:
    """The share of units both coders gave the same code."""
    pairs = paired_codes(first, second)
    return float((pairs["first"] == pairs["second"]).mean())


def chance_agreement(first: pd.Series, second: pd.Series, categories: list[str]) -> float:
    """The agreement expected by chance: the sum over categories of the product of the
    two coders' shares of units in that category (the ``p_e`` of Cohen's kappa)."""
    table = agreement_table(first, second, categories)
    n = table.to_numpy().sum()
    return float((table.sum(axis=1) / n * table.sum(axis=0) / n).sum())


def kappa(first: pd.Series, second: pd.Series, categories: list[str]) -> float:
    """Cohen's kappa of the two codings, computed by scikit-learn's ``cohen_kappa_score``.

    1 is perfect agreement, 0 the agreement chance alone would give. Undefined (raises
    ``ValueError``) when both coders put every unit in one and the same category.
    """
    pairs = paired_codes(first, second)
    if chance_agreement(first, second, categories) == 1:
        raise ValueError(
            "kappa is undefined: both coders used one and the same category for every unit"
        )
    return float(cohen_kappa_score(pairs["first"], pairs["second"], labels=categories))


def disagreements(first: pd.Series, second: pd.Series) -> pd.DataFrame:
    """The units coded differently, with both codes (index: the unit id)."""
    pairs = paired_codes(first, second)
    return pairs[pairs["first"] != pairs["second"]]
