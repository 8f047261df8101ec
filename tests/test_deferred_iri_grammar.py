"""dustcourse imports jsonschema with its IRI grammar deferred (dustcourse/deferred_iri_grammar.py):
nbformat and nbgrader load without building it, and the IRI checks give the same
answers as jsonschema's own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IRIS = [("iri", "http://例え.jp/パス?q=1"), ("iri", "http://exa mple.com/"),
        ("iri", "::not an iri"), ("iri-reference", "../a/b#frag"),
        ("iri-reference", "a b"), ("iri", 42)]

CHECKS = f"""
import json, sys
FIRST
import jsonschema
checker = jsonschema.FormatChecker()
loaded = "rfc3987_syntax.syntax_helpers" in sys.modules
answers = [checker.conforms(value, fmt) for fmt, value in {IRIS!r}]
print(json.dumps({{"loaded_before": loaded, "answers": answers}}))
"""


def _run(first: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHECKS.replace("FIRST", first)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_grading_imports_do_not_build_the_iri_grammar():
    probe = ("import sys, dustcourse.grading.executors, dustcourse.grading.worker, "
             "nbgrader.preprocessors, frictionless\n"
             "print('rfc3987_syntax.syntax_helpers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("first", ["import dustcourse", ""], ids=["deferred", "jsonschema"])
def test_iri_checks_answer_as_jsonschema_does(first):
    result = _run(first)
    assert result["loaded_before"] is (first == "")  # deferred: built only when checking
    assert result["answers"] == [True, False, False, True, False, True]
