"""Grade a test course with the robustness run on (for the problem sets' robustness tests).

    outcomes = grade_with_robustness(course, "ps1-articles-as-data")
    outcomes["typed"].robust_only   # test cells failed only on the perturbed data

Uses a fixed secret (tests must not depend on a random one) and two local workers with
the sandbox on, as `dustcourse grade autograde` runs. The typed-numbers submission comes
from :func:`typed_answers.typed_answers`.
"""

from __future__ import annotations

import os

SECRET = "fixed-test-secret"


def grade_with_robustness(course, assignment: str, jobs: int = 2, **options) -> dict:
    """{student: Outcome} of a dustcourse autograde run with the robustness run."""
    from dustcourse.grading.autograde import autograde

    old = os.environ.get("DUSTCOURSE_GRADING_SECRET")
    os.environ["DUSTCOURSE_GRADING_SECRET"] = SECRET
    try:
        outcomes = autograde(course.root, assignment, jobs=jobs, robustness=True, **options)
    finally:
        if old is None:
            del os.environ["DUSTCOURSE_GRADING_SECRET"]
        else:
            os.environ["DUSTCOURSE_GRADING_SECRET"] = old
    return {o.student: o for o in outcomes}
