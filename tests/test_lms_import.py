"""Importing LMS downloads into submitted/: layouts, duplicates, and hostile archives."""

from __future__ import annotations

import stat
import zipfile
from datetime import datetime

import pytest

from dustcourse.grading.lms_import import UnsafeArchive, import_submissions

A = "ps0-warmup"
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def make_zip(path, entries):
    """entries: (name, bytes[, date_time tuple[, symlink]])"""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, *rest in entries:
            info = zipfile.ZipInfo(name, date_time=rest[0] if rest else (2026, 11, 20, 12, 0, 0))
            if len(rest) > 1 and rest[1]:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return path


def test_canvas_moodle_blackboard_and_nbgrader_layouts(tmp_path):
    source = make_zip(tmp_path / "download.zip", [
        ("smithjohn_12345_99001_ps0-warmup.ipynb", NB),
        ("leeann_LATE_23456_99002_homework.ipynb", NB),
        ("Wang Fang_345_assignsubmission_file_/ps0-warmup.ipynb", NB),
        ("PS0 Warmup_jdoe_attempt_2026-11-20-10-00-00_ps0-warmup.ipynb", NB),
        ("PS0 Warmup_jdoe_attempt_2026-11-20-10-00-00.txt", b"LMS metadata"),
        ("zhao/ps0-warmup/ps0-warmup.ipynb", NB),
        ("zhao/ps0-warmup/notes.txt", b"extra file"),
    ])
    report = import_submissions(source, A, tmp_path / "course")
    assert report.students == ["12345", "23456", "345", "jdoe", "zhao"]
    for student in report.students:
        folder = tmp_path / "course" / "submitted" / student / A
        assert (folder / f"{A}.ipynb").read_bytes() == NB
        assert (folder / "timestamp.txt").is_file()
    assert (tmp_path / "course/submitted/zhao" / A / "notes.txt").is_file()
    assert [e for e, _ in report.unplaced] == [
        "PS0 Warmup_jdoe_attempt_2026-11-20-10-00-00.txt"
    ]


def test_latest_submission_wins_and_is_reported(tmp_path):
    source = make_zip(tmp_path / "download.zip", [
        ("PS0_jdoe_attempt_2026-11-20-10-00-00_ps0-warmup.ipynb", b"first"),
        ("PS0_jdoe_attempt_2026-11-21-09-30-00_ps0-warmup.ipynb", b"second"),
        ("smithjohn_12345_1_ps0-warmup.ipynb", b"old", (2026, 11, 19, 8, 0, 0)),
        ("smithjohn_12345_2_ps0-warmup-1.ipynb", b"new", (2026, 11, 20, 8, 0, 0)),
    ])
    report = import_submissions(source, A, tmp_path)
    assert (tmp_path / "submitted/jdoe" / A / f"{A}.ipynb").read_bytes() == b"second"
    assert (tmp_path / "submitted/12345" / A / f"{A}.ipynb").read_bytes() == b"new"
    assert {(s, dropped) for s, _, dropped in report.duplicates} == {
        ("jdoe", "PS0_jdoe_attempt_2026-11-20-10-00-00_ps0-warmup.ipynb"),
        ("12345", "smithjohn_12345_1_ps0-warmup.ipynb"),
    }
    stamp = (tmp_path / "submitted/jdoe" / A / "timestamp.txt").read_text().strip()
    assert stamp.startswith(str(datetime(2026, 11, 21, 9, 30)))


def test_hostile_entries_are_refused_and_listed(tmp_path):
    source = make_zip(tmp_path / "evil.zip", [
        ("../../etc/cron.d/evil", b"x"),
        ("/etc/passwd", b"x"),
        ("a/../../../escape_12345_1_ps0-warmup.ipynb", b"x"),
        ("linky_12345_3_ps0-warmup.ipynb", b"/etc/shadow", (2026, 1, 1, 0, 0, 0), True),
        ("random-file.pdf", b"x"),
        ("good_777_1_ps0-warmup.ipynb", NB),
    ])
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


def test_folder_download_with_symlink(tmp_path):
    folder = tmp_path / "download"
    (folder / "Wang Fang_345_assignsubmission_file_").mkdir(parents=True)
    (folder / "Wang Fang_345_assignsubmission_file_" / "ps0-warmup.ipynb").write_bytes(NB)
    (folder / "sneaky_9_1_ps0-warmup.ipynb").symlink_to("/etc/passwd")
    report = import_submissions(folder, A, tmp_path / "course")
    assert report.students == ["345"]
    assert dict(report.unplaced)["sneaky_9_1_ps0-warmup.ipynb"] == "symbolic link refused"
