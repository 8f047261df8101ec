"""The feedback page built from a notebook in memory (no nbgrader run): hidden tests
cut out even without the released exercise, every kind of output shown safely."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dustcourse.grading.feedback import (
    HIDDEN_NOTE,
    JAVASCRIPT_NOTE,
    page_prefix,
    render_feedback,
    strip_hidden,
    without_hidden_tests,
)

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
       "AAAABJRU5ErkJggg==")
TEST_SOURCE = ('assert x > 0, "public"\n### BEGIN HIDDEN TESTS\n_expected = 42\n'
               'assert x == _expected, "hidden message"\n### END HIDDEN TESTS\n')


def graded(cell, grade_id, *, solution=False, grade=True, points=1):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": solution, "grade": grade,
                                 "locked": not solution, "points": points,
                                 "schema_version": 3}
    return cell


def test_strip_hidden():
    assert strip_hidden(TEST_SOURCE) == 'assert x > 0, "public"\n'
    assert strip_hidden("a\n### BEGIN HIDDEN TESTS\nsecret\n") == "a\n"  # unclosed
    assert strip_hidden("### END HIDDEN TESTS\nkept\n") == "kept\n"


def test_test_cells_without_the_released_exercise():
    test = graded(new_code_cell(TEST_SOURCE, outputs=[
        new_output("stream", name="stdout", text="printed by a hidden test: 42\n"),
        new_output("error", ename="AssertionError", evalue="hidden message",
                   traceback=["\x1b[31mAssertionError\x1b[0m", "----> 4 assert x == _expected"]),
    ]), "t1")
    only_hidden = graded(new_code_cell("### BEGIN HIDDEN TESTS\nassert x == 42\n"
                                       "### END HIDDEN TESTS"), "t2")
    answer = graded(new_code_cell("x = 1  # mine"), "a1", solution=True, grade=True)
    nb = without_hidden_tests(new_notebook(cells=[answer, test, only_hidden]), {})
    assert nb.cells[0].source == "x = 1  # mine"  # a hand-graded code answer stays
    assert nb.cells[1].source == 'assert x > 0, "public"\n'
    assert [o.output_type for o in nb.cells[1].outputs] == ["error"]
    assert nb.cells[1].outputs[0].traceback == ["AssertionError: hidden message"]
    assert nb.cells[2].source == HIDDEN_NOTE
    page = render_feedback(nb, {"nbgrader": {"notebook": "nb", "score": 1, "max_score": 3}})
    assert "_expected" not in page and "42" not in page and "HIDDEN" not in page
    assert "AssertionError: hidden message" in page


def test_every_kind_of_output():
    cell = new_code_cell("show()", outputs=[
        new_output("display_data", data={"text/html": '<b>bold</b><script>alert(1)</script>'}),
        new_output("display_data", data={"application/javascript": "alert(2)",
                                         "text/plain": "<IPython.core.display.Javascript object>"}),
        new_output("display_data", data={"image/svg+xml": '<svg onload="alert(3)"/>',
                                         "text/plain": "<svg>"}),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        new_output("display_data", data={"text/markdown": "*md* <img src=x onerror=alert(4)>"}),
        new_output("execute_result", data={"text/plain": "<script>alert(5)</script>"},
                   execution_count=1),
        new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {}}),
        new_output("stream", name="stderr", text="\x1b[31mwarning <b>\x1b[0m"),
        new_output("error", ename="ValueError", evalue="<i>bad</i>",
                   traceback=["\x1b[0;31mValueError\x1b[0m: <i>bad</i>"]),
    ])
    md = new_markdown_cell("Reflection <iframe src='https://example.com'></iframe> $x$")
    page = render_feedback(new_notebook(cells=[md, cell]), {})
    assert page.startswith(page_prefix())
    body = page.split("</style>", 1)[1]
    assert "<script" not in body and "onerror" not in body and "onload" not in body
    assert "<iframe" not in body and "example.com" not in body
    assert "<b>bold</b>" in body
    assert body.count(JAVASCRIPT_NOTE) == 1 and "Javascript object" not in body
    assert 'src="data:image/svg+xml;base64,' in body
    assert f'src="data:image/png;base64,{PNG}" alt="&lt;Figure&gt;"' in body
    assert "<em>md</em>" in body
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in body
    assert "interactive widget was left out" in body
    assert "warning &lt;b&gt;" in body and "\x1b" not in body
    assert "ValueError: &lt;i&gt;bad&lt;/i&gt;" in body
    assert "$x$" in body


def test_notebook_metadata_cannot_break_out():
    cell = graded(new_markdown_cell("answer"), '"><script>alert(1)</script>', solution=True)
    page = render_feedback(new_notebook(cells=[cell]),
                           {"nbgrader": {"notebook": "<script>x</script>", "score": 0,
                                         "max_score": 1}})
    assert "<script>" not in page
    nbformat.validate(new_notebook(cells=[cell]))
