"""Keep the tests that share a session-scoped fixture on one pytest-xdist worker.

The suite runs on two workers (``-n auto --dist loadgroup`` in pyproject.toml). A
session fixture, such as a real PostgreSQL server, the hub or a class graded once, runs
once per worker that needs it, so every test using it must land on the same worker;
otherwise the server would start twice and the class would be graded twice. This
plugin puts each test file in an ``xdist_group`` and merges the groups of files that
use the same session fixture (found from the fixtures each test requests, so a new
session fixture needs no entry here). Groups are then ordered heaviest first, so the
longest run starts at once instead of finishing last.

Run serially (``-n 0``), the marks are ignored and only the order changes, which no
test may depend on. (``-p no:xdist`` does not work: the ``-n`` in addopts needs xdist.)
"""

from __future__ import annotations

from collections import defaultdict

import pytest

# Session fixtures that are cheap and per-worker anyway: sharing them joins nothing.
_PER_WORKER = frozenset({"tmp_path_factory", "worker_id", "testrun_uid", "pytestconfig",
                         "doctest_namespace", "record_testsuite_property", "cache"})


def _group_names(items) -> dict[str, str]:
    """{test file: group name}: files joined when they use the same session fixture."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for item in items:
        path = item.nodeid.split("::")[0]
        find(path)
        info = getattr(item, "_fixtureinfo", None)
        for name, defs in (info.name2fixturedefs.items() if info else ()):
            if defs and defs[-1].scope == "session" and name not in _PER_WORKER:
                parent[find(path)] = find(f"fixture {name}")
    members: dict[str, list[str]] = defaultdict(list)
    for key in parent:
        if not key.startswith("fixture "):
            members[find(key)].append(key)
    return {path: "+".join(sorted(files)) for files in members.values() for path in files}


def _weight(group: list) -> tuple:
    """Heaviest first: tests run by real nbgrader, a book build or a browser count most."""
    slow = sum(1 for item in group if item.get_closest_marker("slow")
               or item.get_closest_marker("browser"))
    return (-slow, -len(group))


# tryfirst: xdist's own hook reads the xdist_group marks to put "@group" on each node id
# (what --dist loadgroup schedules by); run after it, the marks would be ignored and a
# file's tests split between workers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    groups = _group_names(items)
    by_group: dict[str, list] = defaultdict(list)
    for item in items:
        name = groups[item.nodeid.split("::")[0]]
        item.add_marker(pytest.mark.xdist_group(name))
        by_group[name].append(item)
    items[:] = [item for name in sorted(by_group, key=lambda n: _weight(by_group[n]))
                for item in by_group[name]]
