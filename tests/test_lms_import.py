"""Importing LMS downloads into submitted/: every layout, every case reported, hostile
archives refused. The downloads are built in the vendors' formats (tests/lms_fixtures.py)."""

from __future__ import annotations

import stat
import zipfile
from datetime import datetime

import pytest
from click.testing import CliRunner
from lms_fixtures import (
    blackboard_files,
    canvas_file,
    moodle_file,
    write_zip,
)

from dustcourse.cli import main
from dustcourse.grading.lms_import import (
    UnsafeArchive,
    import_submissions,
    read_record,
    save_record,
    summary_table,
)

A = "ps0-warmup"
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def nb(tag: str) -> bytes:
    return (b'{"cells": [], "metadata": {"tag": "%s"}, "nbformat": 4, "nbformat_minor": 5}'
            % tag.encode())


def placed(root, student) -> bytes:
    return (root / "submitted" / student / A / f"{A}.ipynb").read_bytes()


def reasons(report, student) -> list[str]:
    return [why for s, _, why in report.rejected if s == student]


def test_canvas_late_markers_and_resubmissions(tmp_path):
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Smith, John", 101, 9001, f"{A}.ipynb"), nb("smith")),
        (canvas_file("Lee, Ann", 102, 9002, f"{A}.ipynb", late="LATE"), nb("lee")),
        (canvas_file("Wu, Bo", 103, 9003, f"{A}.ipynb", late="late"), nb("wu")),
        # re-uploads of the same file name: Canvas renames them -1, -2
        (canvas_file("Chen, Yu", 104, 9004, f"{A}.ipynb"), nb("v0"), (2026, 11, 18, 9, 0, 0)),
        (canvas_file("Chen, Yu", 104, 9010, f"{A}-1.ipynb"), nb("v1"), (2026, 11, 19, 9, 0, 0)),
        (canvas_file("Chen, Yu", 104, 9020, f"{A}-2.ipynb", late="late"), nb("v2"),
         (2026, 11, 21, 9, 0, 0)),
        # anonymous grading: no name, anon_<id>
        (f"anon_Xy7Qp_9030_{A}.ipynb", nb("anon")),
    ])
    report = import_submissions(source, A, tmp_path / "c")
    assert report.students == ["101", "102", "103", "104", "anon_Xy7Qp"]
    assert placed(tmp_path / "c", "102") == nb("lee")
    assert placed(tmp_path / "c", "103") == nb("wu")  # lower-case late marker accepted
    assert placed(tmp_path / "c", "104") == nb("v2")  # the latest
    assert sorted(older for s, older, _ in report.replaced if s == "104") == [
        canvas_file("Chen, Yu", 104, 9004, f"{A}.ipynb"),
        canvas_file("Chen, Yu", 104, 9010, f"{A}-1.ipynb"),
    ]
    assert report.rejected == []
    stamp = (tmp_path / "c/submitted/104" / A / "timestamp.txt").read_text()
    assert stamp.startswith(str(datetime(2026, 11, 21, 9, 0)))


def test_two_notebooks_never_overwrite_the_assignment_notebook(tmp_path):
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Smith, John", 101, 1, f"{A}.ipynb"), nb("work"), (2026, 11, 19, 8, 0, 0)),
        # uploaded later, blank: must not replace the work
        (canvas_file("Smith, John", 101, 2, "notes.ipynb"), nb("blank"), (2026, 11, 20, 8, 0, 0)),
        # the only notebook, named otherwise: graded
        (canvas_file("Lee, Ann", 102, 3, "my homework.ipynb"), nb("lee")),
        (canvas_file("Lee, Ann", 102, 4, "answers.pdf"), b"%PDF"),
        # several notebooks, none named like the assignment: cannot choose
        (canvas_file("Wu, Bo", 103, 5, "a.ipynb"), nb("a")),
        (canvas_file("Wu, Bo", 103, 6, "b.ipynb"), nb("b")),
        # the assignment's name written with underscores still counts
        (canvas_file("Ma, Li", 105, 7, "PS0_warmup.ipynb"), nb("ma")),
        (canvas_file("Ma, Li", 105, 8, "scratch.ipynb"), nb("scratch")),
    ])
    root = tmp_path / "c"
    report = import_submissions(source, A, root)
    assert placed(root, "101") == nb("work")
    assert placed(root, "102") == nb("lee")
    assert placed(root, "105") == nb("ma")
    assert sorted(p.name for p in (root / "submitted/101" / A).iterdir()) == [
        f"{A}.ipynb", "timestamp.txt"]
    not_graded = {entry: why for _, entry, why in report.not_graded}
    assert "another notebook" in not_graded[canvas_file("Smith, John", 101, 2, "notes.ipynb")]
    assert "not a notebook (.pdf)" in not_graded[canvas_file("Lee, Ann", 102, 4, "answers.pdf")]
    assert "103" not in report.students
    assert reasons(report, "103") == ["2 notebooks, none named ps0-warmup.ipynb "
                                      "(a.ipynb, b.ipynb): cannot choose"] * 2


@pytest.mark.parametrize("filename", ["ps0-warmup.py", "ps0-warmup.pdf", "ps0-warmup.html",
                                      "ps0-warmup.txt"])
def test_wrong_file_types_are_rejected_per_student(tmp_path, filename):
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Smith, John", 101, 1, filename), b"print('hi')"),
        (canvas_file("Lee, Ann", 102, 2, f"{A}.ipynb"), NB),
    ])
    report = import_submissions(source, A, tmp_path / "c")
    assert report.students == ["102"]
    suffix = filename.rsplit(".", 1)[1]
    assert reasons(report, "101") == [f"no notebook (.ipynb) submitted: only .{suffix}"]
    assert report.rejected_students == {"101": f"no notebook (.ipynb) submitted: only .{suffix}"}
    assert not (tmp_path / "c/submitted/101").exists()


def test_a_file_named_ipynb_that_is_not_a_notebook_is_rejected(tmp_path):
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Smith, John", 101, 1, f"{A}.ipynb"), b"%PDF-1.7 renamed"),
    ])
    report = import_submissions(source, A, tmp_path / "c")
    assert report.students == []
    assert "not a Jupyter notebook" in reasons(report, "101")[0]


def test_moodle_folders_nested_subfolders_and_online_text(tmp_path):
    source = write_zip(tmp_path / "moodle.zip", [
        (moodle_file("John Smith", 5501, f"{A}.ipynb"), nb("smith")),
        (moodle_file("John Smith", 5501, "onlinetext.html", plugin="onlinetext"), b"<p>hi</p>"),
        # a notebook in a subfolder of the student's folder
        (moodle_file("李华", 5502, f"work/week1/{A}.ipynb"), nb("lihua")),
        (moodle_file("李华", 5502, "work/week1/data/extra.csv"), b"a,b\n"),
        (moodle_file("Zhāng Wěi", 5503, f"{A}.ipynb"), nb("zhang")),
        # online text only
        (moodle_file("Ann Lee", 5504, "onlinetext.html", plugin="onlinetext"), b"<p>answers</p>"),
        # blind marking: Participant instead of the name
        (moodle_file("Participant", 5505, f"{A}.ipynb"), nb("blind")),
    ])
    root = tmp_path / "c"
    report = import_submissions(source, A, root)
    assert report.students == ["5501", "5502", "5503", "5505"]
    assert placed(root, "5502") == nb("lihua")
    assert report.names["5502"] == "李华" and report.names["5503"] == "Zhāng Wěi"
    not_graded = {entry: why for _, entry, why in report.not_graded}
    assert "onlinetext" in not_graded[
        moodle_file("John Smith", 5501, "onlinetext.html", plugin="onlinetext")]
    assert "not a notebook (.csv)" in not_graded[moodle_file("李华", 5502,
                                                             "work/week1/data/extra.csv")]
    assert reasons(report, "5504") == ["no notebook (.ipynb) submitted and online text"]


def test_moodle_flat_download(tmp_path):
    source = write_zip(tmp_path / "moodle-flat.zip", [
        (moodle_file("John Smith", 5501, f"{A}.ipynb", folders=False), nb("smith")),
        (moodle_file("Zhāng Wěi", 5503, f"{A}.ipynb", folders=False), nb("zhang")),
        (moodle_file("Zhāng Wěi", 5503, "notes.txt", folders=False), b"notes"),
        (moodle_file("Ann Lee", 5504, "onlinetext.html", folders=False, plugin="onlinetext"),
         b"<p>x</p>"),
    ])
    root = tmp_path / "c"
    report = import_submissions(source, A, root)
    assert report.students == ["5501", "5503"]
    assert placed(root, "5503") == nb("zhang")
    assert report.names["5501"] == "John Smith"
    assert "5504" in report.rejected_students


def test_blackboard_attempts_and_receipts(tmp_path):
    title = "PS0 Warmup"
    source = write_zip(tmp_path / "gradebook.zip", [
        *blackboard_files(title, "jdoe", "John Doe", "2026-11-20-10-00-00",
                          {f"{A}.ipynb": nb("first")}),
        *blackboard_files(title, "jdoe", "John Doe", "2026-11-21-09-30-00",
                          {f"{A}.ipynb": nb("second"), "notes.ipynb": nb("notes")}),
        # a username with an underscore: the receipt tells where it starts
        *blackboard_files(title, "li_hua", "李华", "2026-11-20-11-00-00",
                          {f"{A}.ipynb": nb("lihua")}),
        # text only: a receipt and no file
        *blackboard_files(title, "awong", "Amy Wong", "2026-11-20-12-00-00", {}),
    ])
    root = tmp_path / "c"
    report = import_submissions(source, A, root)
    assert report.students == ["jdoe", "li_hua"]
    assert placed(root, "jdoe") == nb("second")
    assert report.replaced == [("jdoe", f"{title}_jdoe_attempt_2026-11-20-10-00-00_{A}.ipynb",
                                f"{title}_jdoe_attempt_2026-11-21-09-30-00_{A}.ipynb")]
    assert report.names == {"jdoe": "John Doe", "li_hua": "李华", "awong": "Amy Wong"}
    assert "text submission only" in report.rejected_students["awong"]
    stamp = (root / "submitted/jdoe" / A / "timestamp.txt").read_text()
    assert stamp.startswith(str(datetime(2026, 11, 21, 9, 30)))


def test_non_ascii_names_in_a_zip_without_the_utf8_flag(tmp_path):
    source = write_zip(tmp_path / "legacy.zip", [
        (moodle_file("李华", 5502, f"{A}.ipynb"), nb("lihua")),
        (canvas_file("Zhāng, Wěi", 103, 1, f"{A}.ipynb"), nb("zhang")),
    ], utf8_flag=False)
    with zipfile.ZipFile(source) as archive:
        assert not any(i.flag_bits & 0x800 for i in archive.infolist())
    report = import_submissions(source, A, tmp_path / "c")
    assert report.students == ["103", "5502"]
    assert report.names == {"5502": "李华", "103": "zhāngwěi"}
    table = summary_table(report)
    assert "李华" in table and "zhāngwěi" in table


def test_summary_table_and_record(tmp_path):
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Chen, Yu", 104, 1, f"{A}.ipynb"), nb("v0"), (2026, 11, 18, 9, 0, 0)),
        (canvas_file("Chen, Yu", 104, 2, f"{A}-1.ipynb"), nb("v1"), (2026, 11, 19, 9, 0, 0)),
        (canvas_file("Smith, John", 101, 3, "hw.py"), b"x = 1"),
        (".DS_Store", b"\0"),
    ])
    root = tmp_path / "c"
    report = import_submissions(source, A, root)
    table = summary_table(report)
    lines = table.splitlines()
    assert lines[0].split() == ["student", "name", "outcome", "file", "reason"]
    assert any("placed" in line and "chenyu" in line for line in lines)
    assert any("replaced by later" in line and "104_1_" in line for line in lines)
    assert any("REJECTED" in line and "no notebook (.ipynb) submitted: only .py" in line
               for line in lines)
    assert lines[-1] == ("placed 1 file(s) for 1 student(s); 1 replaced by a later "
                         "submission; 0 not graded; 1 rejected")
    save_record(root, report)
    assert read_record(root, A) == {
        "104": {"outcome": "placed", "reason": "", "name": "chenyu"},
        "101": {"outcome": "rejected", "reason": "no notebook (.ipynb) submitted: only .py",
                "name": "smithjohn"},
    }


def test_import_command_exits_non_zero_on_rejects_unless_allowed(tmp_path):
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Smith, John", 101, 1, f"{A}.ipynb"), NB),
        (canvas_file("Lee, Ann", 102, 2, "ps0.pdf"), b"%PDF"),
    ])
    root = tmp_path / "course"
    root.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["grade", "import", A, str(source), "--root", str(root)])
    assert result.exit_code == 1, result.output
    assert "placed 1 file(s) for 1 student(s)" in result.output
    assert "NOT PLACED" in result.output and "--allow-rejects" in result.output
    result = runner.invoke(main, ["grade", "import", A, str(source), "--root", str(root),
                                  "--allow-rejects"])
    assert result.exit_code == 0, result.output
    assert read_record(root, A)["102"]["outcome"] == "rejected"


def test_hostile_entries_are_refused_and_listed(tmp_path):
    source = tmp_path / "evil.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for name, data in [("../../etc/cron.d/evil", b"x"), ("/etc/passwd", b"x"),
                           ("a/../../../escape_12345_1_ps0-warmup.ipynb", b"x"),
                           ("random-file.pdf", b"x"), ("good_777_1_ps0-warmup.ipynb", NB)]:
            archive.writestr(name, data)
        link = zipfile.ZipInfo("linky_12345_3_ps0-warmup.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, b"/etc/shadow")
    course = tmp_path / "course"
    report = import_submissions(source, A, course)
    assert report.students == ["777"]
    refused = dict(report.unplaced)
    assert "symbolic link" in refused["linky_12345_3_ps0-warmup.ipynb"]
    assert "unsafe path" in refused["../../etc/cron.d/evil"]
    assert "unsafe path" in refused["/etc/passwd"]
    assert "unsafe path" in refused["a/../../../escape_12345_1_ps0-warmup.ipynb"]
    assert "no known LMS layout" in refused["random-file.pdf"]
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(str(p).startswith(("course/submitted/777", "evil.zip")) for p in written)


def test_zip_bomb_is_refused_before_writing(tmp_path, monkeypatch):
    import dustcourse.grading.lms_import as lms

    monkeypatch.setattr(lms, "MAX_TOTAL_BYTES", 1024 * 1024)
    source = tmp_path / "bomb.zip"
    with zipfile.ZipFile(source, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"kid{i}_{i}_1_ps0-warmup.ipynb", b"0" * (1024 * 1024))
    assert source.stat().st_size < 50_000  # highly compressed
    with pytest.raises(UnsafeArchive, match="more than"):
        import_submissions(source, A, tmp_path / "course")
    assert not (tmp_path / "course").exists()


def test_folder_download_with_symlink_and_nbgrader_layout(tmp_path):
    folder = tmp_path / "download"
    (folder / "Wang Fang_345_assignsubmission_file_").mkdir(parents=True)
    (folder / "Wang Fang_345_assignsubmission_file_" / "ps0-warmup.ipynb").write_bytes(NB)
    (folder / "zhao" / A).mkdir(parents=True)
    (folder / "zhao" / A / f"{A}.ipynb").write_bytes(NB)
    (folder / "sneaky_9_1_ps0-warmup.ipynb").symlink_to("/etc/passwd")
    report = import_submissions(folder, A, tmp_path / "course")
    assert report.students == ["345", "zhao"]
    assert dict(report.unplaced)["sneaky_9_1_ps0-warmup.ipynb"] == "symbolic link refused"


def test_resubmission_suffix_decides_when_the_times_are_equal(tmp_path):
    when = (2026, 11, 20, 12, 0, 0)
    source = write_zip(tmp_path / "canvas.zip", [
        (canvas_file("Chen, Yu", 104, 30, f"{A}-2.ipynb"), nb("v2"), when),
        (canvas_file("Chen, Yu", 104, 20, f"{A}.ipynb"), nb("v0"), when),
        (canvas_file("Chen, Yu", 104, 10, f"{A}-1.ipynb"), nb("v1"), when),
    ])
    report = import_submissions(source, A, tmp_path / "c")
    assert placed(tmp_path / "c", "104") == nb("v2")
    assert len(report.replaced) == 2 and report.rejected == []


def test_blackboard_receipts_are_listed_not_rejected(tmp_path):
    source = write_zip(tmp_path / "bb.zip", blackboard_files(
        "PS0", "jdoe", "John Doe", "2026-11-20-10-00-00", {f"{A}.ipynb": NB}))
    report = import_submissions(source, A, tmp_path / "c")
    assert report.students == ["jdoe"] and report.rejected == []
    assert [e for e, _ in report.ignored] == ["PS0_jdoe_attempt_2026-11-20-10-00-00.txt"]
