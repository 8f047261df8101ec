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
