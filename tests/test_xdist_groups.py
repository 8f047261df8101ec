"""The suite's split over xdist workers keeps every session fixture on one worker."""

from __future__ import annotations

from collections import defaultdict

from xdist_groups import _PER_WORKER


def _group(item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


def test_every_session_fixture_is_used_by_one_group_only(request):
    """A server or a class graded once per session would otherwise start on two workers."""
    groups = defaultdict(set)
    for item in request.session.items:
        for name, defs in item._fixtureinfo.name2fixturedefs.items():
            if defs[-1].scope == "session" and name not in _PER_WORKER:
                groups[name].add(_group(item))
    assert {name: g for name, g in groups.items() if len(g) != 1} == {}


def test_a_test_file_is_never_split(request):
    groups = defaultdict(set)
    for item in request.session.items:
        groups[item.nodeid.split("::")[0]].add(_group(item))
    assert {path: g for path, g in groups.items() if len(g) != 1} == {}


def test_xdist_schedules_by_these_groups(request):
    """Under ``--dist loadgroup`` xdist schedules by the "@group" suffix of each node id,
    added from the marks; a mark added too late leaves the tests spread one by one."""
    if not (hasattr(request.config, "workerinput") and request.config.getvalue("loadgroup")):
        return  # not split over workers: nothing to schedule
    assert [item.nodeid for item in request.session.items
            if not item.nodeid.endswith("@" + _group(item))] == []
