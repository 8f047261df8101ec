"""The course's fact-check verdicts: four words, each defined once.

The fact-check chapter (*The articles as data*) gives every checked claim one of these
verdicts, and the problem sets that ask for a verdict (problem set 1, question 10;
problem set 4, question 10) use the same words with the same definitions: their text
holds :func:`markdown` verbatim (a test keeps it so). A verdict compares a figure *as
printed* with what the record (or another printed figure) supports.

>>> list(VERDICTS)
['consistent', 'rounding', 'wrong', 'unverifiable']
"""

from __future__ import annotations

CONSISTENT, ROUNDING, WRONG, UNVERIFIABLE = "consistent", "rounding", "wrong", "unverifiable"

VERDICTS: dict[str, str] = {
    CONSISTENT: (
        "the printed value agrees with the record (or with the other figure it is "
        "checked against): the record gives that value, or allows it exactly for some "
        "value of what the record leaves open, such as a birthday not given or the true "
        "amount above a lower bound"
    ),
    ROUNDING: (
        "the printed value cannot agree exactly, but the record allows a value within "
        "the printed figure's rounding interval (half a unit of its last printed digit "
        "either side of it)"
    ),
    WRONG: (
        "the record rules the printed value out: nothing it allows comes within the "
        "printed figure's rounding interval"
    ),
    UNVERIFIABLE: (
        "nothing checked can confirm or refute the printed value: there is no record, "
        "the record contradicts itself, or what it leaves open decides the verdict"
    ),
}


def markdown() -> str:
    """The verdicts as a Markdown list, as the problem sets print them."""
    return "\n".join(f"* `{word}`: {definition}." for word, definition in VERDICTS.items())


def is_verdict(answer: object) -> bool:
    """True when ``answer`` is one of the four verdict words (a string, exactly)."""
    return isinstance(answer, str) and answer in VERDICTS
