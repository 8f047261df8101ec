"""Import jsonschema without building its IRI grammar until an IRI is checked.

jsonschema checks the ``iri`` and ``iri-reference`` formats with ``rfc3987_syntax``
(installed through ``jsonschema[format-nongpl]``, which nbformat and jupyter-events
ask for). That package compiles some 35 Earley parsers when it is imported: about
0.8 s of CPU in every process that imports nbformat, nbgrader or frictionless. In
grading, that is the coordinator, each worker, and a student's ``dustcourse check``.
No schema this course validates uses those formats (upstream: python-jsonschema/
jsonschema#1428, no fix released).

:func:`import_jsonschema` imports jsonschema with a stand-in for ``rfc3987_syntax``
in place. The stand-in's ``is_valid_syntax`` imports the real package on first call.
Every check stays the same; only the grammar's cost moves to the first IRI checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

REAL = "rfc3987_syntax"


def is_valid_syntax(term: str, value: str) -> bool:
    """``rfc3987_syntax.is_valid_syntax``, imported on first use."""
    return importlib.import_module(REAL).is_valid_syntax(term, value)


def import_jsonschema() -> None:
    """Import jsonschema (and its format checkers) with the IRI grammar deferred.

    Does nothing if jsonschema or ``rfc3987_syntax`` is imported already, or if
    ``rfc3987_syntax`` is not installed (jsonschema then skips those formats itself).
    """
    if "jsonschema" in sys.modules or REAL in sys.modules:
        return
    if importlib.util.find_spec(REAL) is None:
        return
    stand_in = types.ModuleType(REAL, __doc__)
    stand_in.is_valid_syntax = is_valid_syntax
    sys.modules[REAL] = stand_in
    try:
        importlib.import_module("jsonschema")
    finally:
        if sys.modules.get(REAL) is stand_in:  # the real one is imported when first used
            del sys.modules[REAL]
