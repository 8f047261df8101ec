"""A class of ps0 submissions with every kind of bad input, built for the grading tests.

Used by test_grading_pipeline (local executor) and test_grading_dask (Dask executor):
both must grade it the same way.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import os
import time

import nbformat

from dustcourse.grading.sandbox import Limits
from dustcourse.submissions import make_submission

ASSIGNMENT = "ps0-warmup"
# generous: under load, 100 MB of output or a fork bomb take seconds to go through
LIMITS = Limits(cell_timeout=15, notebook_timeout=90, memory_bytes=2 * 1024**3)

# Student code that tries to do harm or to break grading, in the first answer cell.
# {root} is the course folder: assume the student knows where grading happens.
HOSTILE = {
    "writes_gradebook": (
        "import pathlib\n"
        "try:\n"
        "    pathlib.Path('{root}/gradebook.db').write_text('gone')\n"
        "except OSError as e:\n"
        "    print('blocked', e)\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    "edits_solutions": (
        "import glob\n"
        "for p in glob.glob('{root}/solutions/*/*') + glob.glob('{root}/submitted/perfect/*/*'):\n"
        "    try:\n"
        "        open(p, 'w').write('{{}}')\n"
        "    except OSError as e:\n"
        "        print('blocked', e)\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    "reads_hidden_tests": (
        "import glob\n"
        "readable = []\n"
        "for p in glob.glob('{root}/solutions/ps0-warmup/*.ipynb'):\n"
        "    try:\n"
        "        readable.append(open(p).read()[:10])\n"
        "    except OSError:\n"
        "        pass\n"
        "assert not readable, 'hidden tests readable'\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    "network": (
        "import socket\n"
        "socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    # redefining or monkeypatching what the tests call, with a wrong answer after it
    "shadows_abs": (
        "def abs(x):\n"
        "    return 0\n"
        "def isinstance(*args):\n"
        "    return True\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    "patches_builtins": (
        "import builtins, numpy\n"
        "builtins.abs = lambda x: 0\n"
        "numpy.isclose = lambda *a, **k: True\n"
        "np = None\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    "kills_kernel": "import os\nos._exit(0)",
    "sys_exit": "import sys\nsys.exit(3)",
    "ignores_interrupt": (
        "import signal\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n"
        "    pass"
    ),
    "memory_bomb": "hog = bytearray(8 * 1024**3)",
    "fork_bomb": (
        "import os, time\n"
        "for _ in range(10_000):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "    except OSError:\n"
        "        break\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
    "huge_output": (
        # twice the output kept (Limits.output_bytes, 10 MiB): cut, and fast enough to
        # send within the cell limit on a loaded 2-core machine (100 MiB was not)
        f"print('x' * {2 * LIMITS.output_bytes})\n"
        'figures_per_article = figures["article"].value_counts()'
    ),
}


def tree_hash(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def build_and_grade(course, **grading) -> tuple:
    """Submit the class into ``course`` and autograde it with ``grading`` options.

    Returns (course, outcomes by student, hash of solutions/ before, wall seconds).
    """
    from dustcourse.grading.autograde import autograde

    root = course.root
    release, source = course.generate(ASSIGNMENT)
    submit = functools.partial(course.submit_answers, assignment=ASSIGNMENT)
    submit("perfect")
    submit("blank", solve=False)
    submit("inverted_rate", answers={"q2_implied_rate": (
        'pair = figures[figures["pair"] == "nc_gross_by_sep7"].set_index("unit")\n'
        'implied_rate = float(pair.loc["USD", "value"]) / float(pair.loc["yuan", "value"])')})
    for student, code in HOSTILE.items():
        answers = {"q1_figures_per_article": code.format(root=root)}
        if student in ("shadows_abs", "patches_builtins"):
            answers["q2_implied_rate"] = "implied_rate = 0.5"
        submit(student, answers=answers)
    course.submit("corrupt", ASSIGNMENT, b'{"cells": [ not json')
    course.submit("empty_file", ASSIGNMENT, b"")
    course.submit("not_utf8", ASSIGNMENT, "{\"cells\": \"\u00e9\"}".encode("latin-1") + b"\xff\xfe")
    # the notebook of another assignment, handed in under this one's name
    other_release, other_source = course.generate("ps1-articles-as-data")
    course.submit("other_assignment", ASSIGNMENT, make_submission(other_release, other_source))
    # cells duplicated, markdown moved to the end, points and a locked test edited
    nb = make_submission(release, source)
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("points")]
    tests[0].metadata["nbgrader"]["points"] = 100
    tests[1].source = "assert True"
    nb.cells = [c for c in nb.cells if c.cell_type == "code"] + copy.deepcopy(tests[:2]) + [
        c for c in nb.cells if c.cell_type == "markdown"]
    course.submit("tampered_cells", ASSIGNMENT, nb)
    # grade ids edited: a test cell renamed (worth 100 points, asserting nothing) after a
    # wrong first answer, and an answer cell renamed (its code must still count)
    for student, which in (("renamed_test_id", "q1_figures_per_article_tests"),
                           ("renamed_answer_id", "q1_figures_per_article")):
        nb = make_submission(release, source, {"q1_figures_per_article": "figures_per_article = 0"}
                             if student == "renamed_test_id" else None)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == which)
        cell.metadata["nbgrader"]["grade_id"] = "q1_renamed"
        if student == "renamed_test_id":
            cell.metadata["nbgrader"]["points"] = 100
            cell.source = "assert True"
        course.submit(student, ASSIGNMENT, nb)
    # a 50 MB notebook: the right answers plus outputs full of images
    nb = make_submission(release, source)
    image = base64.b64encode(os.urandom(5 * 1024 * 1024)).decode()
    nb.cells[2].outputs = [nbformat.v4.new_output("display_data", data={"image/png": image})
                           for _ in range(7)]
    course.submit("huge_notebook", ASSIGNMENT, nb)
    # a notebook under the wrong file name
    wrong = course.root / "submitted" / "wrong_name" / ASSIGNMENT
    wrong.mkdir(parents=True)
    nbformat.write(make_submission(release, source), wrong / "my-homework.ipynb")

    solutions_before = tree_hash(root / "solutions")
    started = time.monotonic()
    outcomes = autograde(root, ASSIGNMENT, limits=LIMITS, **grading)
    wall = time.monotonic() - started
    return course, {o.student: o for o in outcomes}, solutions_before, wall
