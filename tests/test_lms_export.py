"""LMS grade files (Canvas, Moodle gradebook import, Moodle grading worksheet) and
rosters, without nbgrader. The rosters are built in the LMSs' own export formats
(tests/lms_fixtures.py)."""

from __future__ import annotations

import csv

import pytest
from lms_fixtures import MOODLE_WORKSHEET_COLUMNS, canvas_gradebook, moodle_worksheet

from dustcourse.grading.lms_export import (
    RosterError,
    feedback_comment,
    read_roster,
    write_lms_grades,
    write_moodle_worksheet,
)

GRADES = {"101": 7.0, "202": 4.5, "303": 0.0}


def rows(path):
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def test_canvas_without_roster_uses_the_nbgrader_id_as_canvas_id(tmp_path):
    result = write_lms_grades("canvas", "ps0-warmup", GRADES, 9, tmp_path,
                              names={"101": "Smith, John"})
    assert rows(result.path) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ps0-warmup"],
        ["Points Possible", "", "", "", "", "9"],
        ["Smith, John", "101", "", "", "", "7"],
        ["202", "202", "", "", "", "4.5"],
        ["303", "303", "", "", "", "0"],
    ]
    assert result.unmatched == [] and result.unmatched_path is None


def test_moodle_with_a_plain_roster(tmp_path):
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text("student_id,name,email,idnumber\n"
                          "101,John Smith,js@example.edu,S-1\n"
                          "202,Ann Lee,al@example.edu,S-2\n"
                          "404,Never Submitted,ns@example.edu,S-4\n")
    result = write_lms_grades("moodle", "ps0-warmup", GRADES, 9, tmp_path / "out",
                              read_roster(roster_csv), column="PS0")
    assert rows(result.path) == [
        ["Full name", "Email address", "ID number", "Username", "PS0"],
        ["John Smith", "js@example.edu", "S-1", "", "7"],
        ["Ann Lee", "al@example.edu", "S-2", "", "4.5"],
    ]
    assert result.unmatched == ["303"]
    assert rows(result.unmatched_path) == [["student_id", "name", "score", "max_score"],
                                           ["303", "", "0", "9"]]
    assert result.not_submitted == ["404"]


def test_rosters_from_the_lms_exports(tmp_path):
    canvas = tmp_path / "canvas.csv"
    canvas.write_text('\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,PS0 (12)\n'
                      '    Points Possible,,,,,9\n'
                      '"Smith, John",101,S-1,jsmith,Sec 1,\n')
    assert read_roster(canvas) == {"101": {
        "student_id": "101", "name": "Smith, John", "canvas_id": "101",
        "sis_user_id": "S-1", "sis_login_id": "jsmith", "section": "Sec 1"}}
    moodle = tmp_path / "worksheet.csv"
    moodle.write_text("Identifier,Full name,Email address,Status,Grade\n"
                      "Participant 5501,Ann Lee,al@example.edu,Submitted,\n")
    assert read_roster(moodle)["5501"]["email"] == "al@example.edu"


def test_bad_rosters_are_refused(tmp_path):
    no_id = tmp_path / "a.csv"
    no_id.write_text("name,email\nAnn,a@b\n")
    with pytest.raises(RosterError, match="no student_id column"):
        read_roster(no_id)
    twice = tmp_path / "b.csv"
    twice.write_text("student_id\n1\n1\n")
    with pytest.raises(RosterError, match="twice"):
        read_roster(twice)
    with pytest.raises(ValueError, match="unknown LMS"):
        write_lms_grades("blackboard", "a", {}, 1, tmp_path)


def test_no_grade_is_an_empty_cell_never_zero(tmp_path):
    grades = {"101": 7.0, "202": None, "303": 0.0}
    canvas = write_lms_grades("canvas", "ps0-warmup", grades, 9, tmp_path)
    assert [r[-1] for r in rows(canvas.path)[2:]] == ["7", "", "0"]
    assert canvas.blank == ["202"]
    moodle = write_lms_grades("moodle", "ps0-warmup", grades, 9, tmp_path)
    assert [r[-1] for r in rows(moodle.path)[1:]] == ["7", "", "0"]


def test_canvas_matches_sis_user_id_then_login_id_then_canvas_id(tmp_path):
    roster = tmp_path / "canvas-export.csv"
    roster.write_text(canvas_gradebook([
        ("Smith, John", "11", "S-1", "jsmith", "Sec 1"),
        ("李, 华", "12", "S-2", "lihua", "Sec 1"),
        ("Zhāng, Wěi", "13", "S-3", "zwei", "Sec 2"),
        # its Canvas id is another student's SIS user id: SIS user id wins
        ("Doe, Jane", "S-1", "S-4", "jdoe", "Sec 2"),
    ], "PS0 (4711)"), encoding="utf-8")
    grades = {"S-1": 7.0, "lihua": 5.0, "13": None, "ghost": 3.0}
    result = write_lms_grades("canvas", "ps0-warmup", grades, 9, tmp_path / "out",
                              read_roster(roster), column="PS0 (4711)")
    assert result.matched == {"S-1": "11", "lihua": "12", "13": "13"}
    assert rows(result.path) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "PS0 (4711)"],
        ["Points Possible", "", "", "", "", "9"],
        ["Zhāng, Wěi", "13", "S-3", "zwei", "Sec 2", ""],
        ["Smith, John", "11", "S-1", "jsmith", "Sec 1", "7"],
        ["李, 华", "12", "S-2", "lihua", "Sec 1", "5"],
    ]
    assert result.unmatched == ["ghost"]
    assert result.not_submitted == ["S-1"]  # Jane Doe's Canvas id


def test_moodle_matches_participant_id_before_id_number(tmp_path):
    roster = tmp_path / "worksheet.csv"
    roster.write_text("Identifier,Full name,Email address,ID number,Grade\n"
                      "Participant 5501,Ann Lee,al@example.edu,5502,\n"
                      "Participant 5502,Bo Wu,bw@example.edu,S-9,\n"
                      "Participant 5503,Li Ma,lm@example.edu,S-10,\n", encoding="utf-8")
    result = write_lms_grades("moodle", "ps0-warmup", {"5502": 7.0, "S-10": 3.0}, 9,
                              tmp_path / "out", read_roster(roster))
    assert result.matched == {"5502": "5502", "S-10": "5503"}


def test_moodle_worksheet_round_trip(tmp_path):
    sheet = tmp_path / "Grades-PS0.csv"
    sheet.write_text(moodle_worksheet([
        (5501, "John Smith", "js@example.edu"),
        (5502, "李华", "lihua@example.edu"),
        (5503, "Zhāng Wěi", "zw@example.edu"),
        (5504, "Amy Wong", "aw@example.edu"),  # no submission
    ], max_grade="9.00", locked={5503}), encoding="utf-8")
    roster = read_roster(sheet)
    assert roster.worksheet and sorted(roster) == ["5501", "5502", "5503", "5504"]
    grades = {"5501": 7.0, "5502": None, "5503": 9.0}
    comments = {"5501": "ps0-warmup: 7 / 9 points.", "5503": "Full marks."}
    result = write_moodle_worksheet("ps0-warmup", grades, 9, tmp_path / "out", roster,
                                    comments)
    out = rows(result.path)
    assert out[0] == MOODLE_WORKSHEET_COLUMNS
    original = rows(sheet)
    assert [r[:4] for r in out] == [r[:4] for r in original]  # same rows, same order
    by_id = {r[0]: dict(zip(out[0], r, strict=True)) for r in out[1:]}
    assert by_id["Participant 5501"]["Grade"] == "7.00"
    assert by_id["Participant 5501"]["Feedback comments"] == "ps0-warmup: 7 / 9 points."
    assert by_id["Participant 5502"]["Grade"] == ""  # no grade: blank, never 0
    assert by_id["Participant 5502"]["Feedback comments"] == ""
    assert by_id["Participant 5502"]["Full name"] == "李华"
    assert by_id["Participant 5504"] == dict(zip(original[0], original[4], strict=True))
    for row_out, row_in in zip(out[1:], original[1:], strict=True):  # nothing else changed
        for column in ("Status", "Maximum Grade", "Grade can be changed",
                       "Last modified (submission)", "Last modified (grade)"):
            assert row_out[out[0].index(column)] == row_in[original[0].index(column)]
    assert result.locked == ["5503"] and result.blank == ["5502"]


def test_moodle_worksheet_keeps_existing_comments_and_rescales(tmp_path):
    sheet = tmp_path / "worksheet.csv"
    text = moodle_worksheet([(5501, "John Smith", "js@example.edu")], max_grade="100.00")
    text = text.replace(",-,\r\n", ",-,Well argued.\r\n")
    sheet.write_text("\ufeff" + text, encoding="utf-8")
    result = write_moodle_worksheet("ps0-warmup", {"5501": 4.5}, 9, tmp_path / "out",
                                    read_roster(sheet), {"5501": "generated"})
    assert result.path.read_bytes().startswith(b"\xef\xbb\xbf")  # as Moodle gave it
    row = dict(zip(MOODLE_WORKSHEET_COLUMNS, rows(result.path)[1], strict=True))
    assert row["Grade"] == "50.00" and row["Feedback comments"] == "Well argued."


def test_feedback_comment_is_short():
    assert feedback_comment("ps0-warmup", 7, 9, [("q1", 1, 1), ("q2", 0, 2)]) == (
        "ps0-warmup: 7 / 9 points. Points lost in: q2 0/2.")
    assert feedback_comment("ps0-warmup", 9, 9, [("q1", 1, 1)]).endswith("Full marks.")


# --- import -> autograde -> export, end to end, through the CLI ----------------------

A = "ps0-warmup"


def _notebook(course, answers=None, *, solve=True) -> bytes:
    import nbformat

    from dustcourse.submissions import make_submission

    release, source = course.release(A), course.source(A)
    return nbformat.writes(make_submission(release, source, answers, solve=solve)).encode()


# a notebook the import accepts (JSON with cells) but nbgrader cannot read: status error
BROKEN = b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
WRONG_Q2 = {"q2_implied_rate": "implied_rate = 0.14"}  # loses the 2 points of Q2


def _cli(*args):
    from click.testing import CliRunner

    from dustcourse.cli import main

    return CliRunner().invoke(main, ["grade", *map(str, args)])


def _grade_by_hand(root, points: float) -> None:
    """What formgrader does: a manual score for every answer waiting for one."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for submission in gb.assignment_submissions(A):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.needs_manual_grade:
                        grade.manual_score = points
                        grade.needs_manual_grade = False
        gb.db.commit()


def _graded_course(name: str, downloads: list, tmp_path):
    """A throw-away course: each download (a function of the course returning the zip
    path) imported with the CLI, then the class autograded. Returns (root, import
    results)."""
    from conftest import ROOT, Course

    root = ROOT / "_build" / f"test-lms-{name}"
    course = Course.fresh(root)
    course.generate(A)
    imports = []
    for build in downloads:
        source = build(course, tmp_path)
        first = _cli("import", A, source, "--root", root)
        second = _cli("import", A, source, "--root", root, "--allow-rejects") \
            if first.exit_code else None
        imports.append((first, second))
    _cli("autograde", A, "--root", root, "-j", "2")  # statuses: read_status, below
    return root, imports


def _csv(path):
    return rows(path)


def _attention(path):
    return {(r[0], r[2]): r for r in _csv(path)[1:]}


@pytest.fixture(scope="module")
def canvas_class(tmp_path_factory):
    from lms_fixtures import canvas_file, write_zip

    def download(course, tmp):
        return write_zip(tmp / "canvas.zip", [
            (canvas_file("Smith, John", 101, 9001, f"{A}.ipynb", late="LATE"),
             _notebook(course), (2026, 11, 20, 8, 0, 0)),
            # a blank notes.ipynb uploaded later never replaces the work
            (canvas_file("Smith, John", 101, 9002, "notes.ipynb", late="LATE"),
             _notebook(course, solve=False), (2026, 11, 20, 9, 0, 0)),
            (canvas_file("李, 华", 102, 9003, f"{A}.ipynb"), _notebook(course, solve=False),
             (2026, 11, 18, 8, 0, 0)),
            (canvas_file("李, 华", 102, 9010, f"{A}-1.ipynb", late="late"),
             _notebook(course, WRONG_Q2), (2026, 11, 21, 8, 0, 0)),
            (canvas_file("Zhāng, Wěi", 103, 9011, f"{A}.ipynb"), BROKEN),
            (canvas_file("Wong, Amy", 104, 9012, f"{A}.pdf"), b"%PDF-1.7"),
        ])

    return _graded_course("canvas", [download], tmp_path_factory.mktemp("canvas"))


def test_canvas_import_autograde_export(canvas_class, tmp_path):
    from lms_fixtures import canvas_gradebook

    from dustcourse.grading.autograde import read_status

    root, [(first, second)] = canvas_class
    assert first.exit_code == 1 and "--allow-rejects" in first.output
    assert "no notebook (.ipynb) submitted: only .pdf" in first.output
    assert "replaced by later" in first.output and "李华" in first.output
    assert "another notebook: not graded" in first.output
    assert second.exit_code == 0, second.output
    statuses = {s: read_status(root, A, s)["outcome"]["status"] for s in ("101", "102", "103")}
    assert statuses == {"101": "ok", "102": "ok", "103": "error"}

    roster = tmp_path / "canvas-export.csv"
    roster.write_text(canvas_gradebook([
        ("Smith, John", "101", "S-101", "jsmith", "Sec 1"),
        ("李, 华", "102", "S-102", "lihua", "Sec 1"),
        ("Zhāng, Wěi", "103", "S-103", "zwei", "Sec 1"),
        ("Wong, Amy", "104", "S-104", "awong", "Sec 1"),
    ], "PS0 (4711)"), encoding="utf-8")
    out = tmp_path / "exports"
    args = ["export", A, "--root", root, "--to", out, "--lms", "canvas", "--roster", roster,
            "--lms-column", "PS0 (4711)"]

    # hand grading pending (the two reflections written): refused, naming them
    result = _cli(*args)
    assert result.exit_code == 1
    assert "101 (q5_reflection); 102 (q5_reflection)" in result.output
    assert not (out / f"{A}-canvas.csv").exists()

    result = _cli(*args, "--allow-provisional")
    assert result.exit_code == 0, result.output
    attention = _attention(out / f"{A}-needs-attention.csv")
    assert attention[("101", "pending_hand_grading")][4] == "7 (provisional)"

    _grade_by_hand(root, 1.5)
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    assert _csv(out / f"{A}-canvas.csv") == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "PS0 (4711)"],
        ["Points Possible", "", "", "", "", "9"],
        ["Smith, John", "101", "S-101", "jsmith", "Sec 1", "8.5"],
        ["李, 华", "102", "S-102", "lihua", "Sec 1", "6.5"],
        ["Zhāng, Wěi", "103", "S-103", "zwei", "Sec 1", ""],  # failed: blank, never 0
        ["Wong, Amy", "104", "S-104", "awong", "Sec 1", ""],  # rejected at import
    ]
    attention = _attention(out / f"{A}-needs-attention.csv")
    assert sorted(attention) == [("103", "failed"), ("104", "rejected_at_import")]
    assert attention[("103", "failed")][1] == "zhāngwěi"
    assert attention[("103", "failed")][4] == "blank"
    assert "only .pdf" in attention[("104", "rejected_at_import")][3]
    totals = {r[0]: r[2] for r in _csv(out / f"{A}-totals.csv")[1:]}
    assert totals == {"101": "8.5", "102": "6.5", "103": ""}


@pytest.fixture(scope="module")
def moodle_class(tmp_path_factory):
    from lms_fixtures import moodle_file, write_zip

    def in_folders(course, tmp):
        return write_zip(tmp / "moodle.zip", [
            (moodle_file("李华", 5501, f"work/{A}.ipynb"), _notebook(course)),
            (moodle_file("李华", 5501, "onlinetext.html", plugin="onlinetext"), b"<p>hi</p>"),
            (moodle_file("John Smith", 5502, f"{A}.ipynb"), _notebook(course, solve=False)),
        ])

    def flat(course, tmp):  # a later download, "Download submissions in folders" off
        return write_zip(tmp / "moodle-flat.zip", [
            (moodle_file("Zhāng Wěi", 5503, f"{A}.ipynb", folders=False), _notebook(course)),
        ])

    return _graded_course("moodle", [in_folders, flat], tmp_path_factory.mktemp("moodle"))


def test_moodle_both_layouts_both_export_routes(moodle_class, tmp_path):
    from lms_fixtures import MOODLE_WORKSHEET_COLUMNS, moodle_worksheet

    root, [(folders, _), (flat, _)] = moodle_class
    assert folders.exit_code == 0 and flat.exit_code == 0, folders.output + flat.output
    assert "onlinetext" in folders.output and "not graded" in folders.output
    _grade_by_hand(root, 2)
    sheet = tmp_path / "Grades-PS0.csv"
    sheet.write_text(moodle_worksheet([
        (5501, "李华", "lihua@example.edu"), (5502, "John Smith", "js@example.edu"),
        (5503, "Zhāng Wěi", "zw@example.edu"), (5504, "Amy Wong", "aw@example.edu"),
    ], locked={5503}), encoding="utf-8")
    out = tmp_path / "exports"
    result = _cli("export", A, "--root", root, "--to", out, "--lms", "moodle",
                  "--roster", sheet, "--lms-column", "PS0")
    assert result.exit_code == 0, result.output

    # route 1: Grades > Import > CSV file
    assert _csv(out / f"{A}-moodle.csv") == [
        ["Full name", "Email address", "ID number", "Username", "PS0"],
        ["李华", "lihua@example.edu", "", "", "9"],
        ["John Smith", "js@example.edu", "", "", "0"],  # blank work, blank reflection
        ["Zhāng Wěi", "zw@example.edu", "", "", "9"],
    ]
    # route 2: Upload grading worksheet
    out_sheet = _csv(out / f"{A}-moodle-worksheet.csv")
    assert out_sheet[0] == MOODLE_WORKSHEET_COLUMNS
    grade, comment = (MOODLE_WORKSHEET_COLUMNS.index(c) for c in ("Grade", "Feedback comments"))
    assert [(r[0], r[1], r[grade]) for r in out_sheet[1:]] == [
        ("Participant 5501", "李华", "9.00"), ("Participant 5502", "John Smith", "0.00"),
        ("Participant 5503", "Zhāng Wěi", "9.00"), ("Participant 5504", "Amy Wong", "")]
    assert out_sheet[1][comment] == "ps0-warmup: 9 / 9 points. Full marks."
    attention = _attention(out / f"{A}-needs-attention.csv")
    assert sorted(attention) == [("5503", "locked_in_moodle"), ("5504", "missing")]
    # the blank reflection needs no hand grade: the gradebook says so, and so does export
    questions = [r for r in _csv(out / f"{A}-questions.csv")
                 if r[0] == "5502" and r[2] == "q5_reflection"]
    assert questions[0][5] == "unanswered"


@pytest.fixture(scope="module")
def blackboard_class(tmp_path_factory):
    from lms_fixtures import blackboard_files, write_zip

    def download(course, tmp):
        return write_zip(tmp / "gradebook_PS0.zip", [
            *blackboard_files("PS0 Warmup", "jdoe", "Jane Doe", "2026-11-20-10-00-00",
                              {f"{A}.ipynb": _notebook(course, solve=False)}),
            *blackboard_files("PS0 Warmup", "jdoe", "Jane Doe", "2026-11-21-10-00-00",
                              {f"{A}.ipynb": _notebook(course, WRONG_Q2)}),
            *blackboard_files("PS0 Warmup", "li_hua", "李华", "2026-11-20-11-00-00", {}),
        ])

    return _graded_course("blackboard", [download], tmp_path_factory.mktemp("blackboard"))


def test_blackboard_import_autograde_export(blackboard_class, tmp_path):
    root, [(first, second)] = blackboard_class
    assert first.exit_code == 1 and second.exit_code == 0
    assert "text submission only" in first.output and "李华" in first.output
    _grade_by_hand(root, 1)
    out = tmp_path / "exports"
    result = _cli("export", A, "--root", root, "--to", out)
    assert result.exit_code == 0, result.output
    totals = {r[0]: r[2] for r in _csv(out / f"{A}-totals.csv")[1:]}
    assert totals == {"jdoe": "6"}  # the later attempt: 5 autograded + 1 by hand
    attention = _attention(out / f"{A}-needs-attention.csv")
    assert list(attention) == [("li_hua", "rejected_at_import")]
    assert attention[("li_hua", "rejected_at_import")][1] == "李华"
