"""Similarity flags: pairs of submissions whose own code overlaps unusually much.

The comparison is copydetect's (winnowed fingerprints of the tokenised code, with
variable, function and object names and string contents normalised, so renaming
does not hide a copy). Only what the student wrote is compared: the code cells they
could edit (answer cells and cells they added), never the locked setup and test
cells; the code the released notebook already holds in those cells (the starter
code: ``raise NotImplementedError``, given constants, display lines) is passed to
copydetect as boilerplate and ignored.

A flag is a pair for a person to read side by side, never a verdict: short answers
to the same question can be alike by chance, and students may have worked together
as allowed.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nbformat

# copydetect's defaults: a match is at least NOISE characters of filtered code (names
# -> V/F/O, strings -> S, no spaces or comments), and a window of 1 keeps every k-gram
# (copydetect's guarantee threshold = noise threshold = 25).
NOISE = 25
WINDOW = 1
# A pair is flagged when at least this share of the pair's own code (both sides
# together) matches. Chosen on the synthetic class of tests/test_grading_report.py
# (ps0, 28 independent students each writing their answers their own way): the most
# similar independent pair shares 0.57 of its code, the near-copy 0.89. ps0's answers
# are short and have few natural formulations, so independent work is alike more
# often than copydetect's display default of 0.33 assumes.
DEFAULT_THRESHOLD = 0.7


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    similarity_first: float  # share of first's code found in second's
    similarity_second: float
    overlap_tokens: int  # filtered characters of the first's code that match
    excerpt_first: str  # the first's matching code (a few lines)
    excerpt_second: str

    similarity: float  # share of the pair's code (both sides together) that matches


def student_code(nb) -> str:
    """The code a student could write: unlocked code cells, in notebook order."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            continue
        parts.append(cell.source)
    return "\n".join(parts) + "\n"


def notebook_code(path: Path) -> str:
    """student_code of a notebook file; empty if it cannot be read."""
    try:
        return student_code(nbformat.read(path, as_version=4))
    except Exception:  # corrupt or missing notebooks have no code to compare
        return ""


def _fingerprint(code: str, boilerplate: frozenset = frozenset()):
    """copydetect's fingerprint of ``code`` without the boilerplate's k-grams.

    The boilerplate is removed here rather than by copydetect, whose removal assumes
    each k-gram occurs once in a file (it keeps repeats of a boilerplate k-gram).
    """
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    fp = CodeFingerprint("submission.py", NOISE, WINDOW, filter=True, language="python",
                         fp=io.StringIO(code))
    if boilerplate:
        fp.hash_idx = {h: i for h, i in fp.hash_idx.items() if h not in boilerplate}
        fp.hashes = set(fp.hash_idx)
        fp.token_coverage = get_token_coverage(fp.hash_idx, NOISE, len(fp.filtered_code))
    return fp


def _excerpt(code: str, slices, lines: int = 6) -> str:
    """The lines of ``code`` that the matching slices mostly cover (at most ``lines``).

    A match may begin or end in the middle of a line (at a closing bracket, say); a
    line counts when at least half of it is inside the match.
    """
    if slices is None or len(slices) == 0 or slices.shape[1] == 0:
        return ""
    chosen: list[str] = []
    position = 0
    spans = []
    for line in code.splitlines(keepends=True):
        spans.append((position, position + len(line), line.rstrip("\n")))
        position += len(line)
    for start, end in zip(slices[0], slices[1], strict=True):
        for line_start, line_end, line in spans:
            inside = min(line_end, int(end)) - max(line_start, int(start))
            if line.strip() and inside >= len(line) / 2 and line not in chosen:
                chosen.append(line)
        if len(chosen) >= lines:
            break
    return "\n".join(chosen[:lines])


def similar_pairs(
    codes: Mapping[str, str],
    boilerplate_code: str = "",
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[SimilarPair], list[SimilarPair]]:
    """Compare every pair of submissions.

    Returns (flagged pairs, every pair with any overlap), each sorted by decreasing
    similarity. ``progress`` is called with the number of pairs done.
    """
    from copydetect import compare_files

    boilerplate = frozenset(_fingerprint(boilerplate_code).hashes)
    prints = {s: _fingerprint(code, boilerplate) for s, code in codes.items()}
    everything: list[SimilarPair] = []
    for first, second in itertools.combinations(sorted(prints), 2):
        a, b = prints[first], prints[second]
        if a.hashes and b.hashes:
            overlap, (sim_a, sim_b), (slices_a, slices_b) = compare_files(a, b)
            if overlap:
                combined = (sim_a * a.token_coverage + sim_b * b.token_coverage) / (
                    a.token_coverage + b.token_coverage)
                everything.append(SimilarPair(
                    first, second, float(sim_a), float(sim_b), int(overlap),
                    _excerpt(codes[first], slices_a), _excerpt(codes[second], slices_b),
                    float(combined),
                ))
        if progress:
            progress(1)
    everything.sort(key=lambda p: (-p.similarity, p.first, p.second))
    return [p for p in everything if p.similarity >= threshold], everything
