"""LMS grade files (Canvas, Moodle) and rosters, without nbgrader."""

from __future__ import annotations

import csv

import pytest

from dustcourse.grading.lms_export import RosterError, read_roster, write_lms_grades

GRADES = {"101": 7.0, "202": 4.5, "303": 0.0}


def rows(path):
    with path.open(newline="") as handle:
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
