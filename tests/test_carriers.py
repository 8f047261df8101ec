"""The kind of carrier of each row's source (dustcourse.carriers), against the data."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from dustcourse import carriers
from dustcourse.carriers import COMPUTATION, HOST_KINDS, KINDS, carrier_kind, kinds_by_table

DATA = Path(__file__).resolve().parent.parent / "data"
TABLES = {p.stem: pd.read_csv(p, dtype=str) for p in sorted(DATA.glob("*.csv"))}
WITH_URL = {name: t for name, t in TABLES.items() if "source_url" in t.columns}


def test_no_host_is_listed_under_two_kinds():
    sets = [carriers._ORIGINAL, carriers._REPRINT, carriers._AGGREGATOR, carriers._MIRROR]
    assert sum(len(s) for s in sets) == len(HOST_KINDS)
    assert set(HOST_KINDS.values()) == set(KINDS) - {COMPUTATION}


@pytest.mark.parametrize("name", sorted(WITH_URL))
def test_every_row_has_a_kind(name):
    kinds = WITH_URL[name]["source_url"].map(carrier_kind)
    assert set(kinds) <= set(KINDS)
    assert (kinds == COMPUTATION).sum() == WITH_URL[name]["source_url"].isna().sum()


def test_the_list_has_no_host_the_data_do_not_use():
    used = {urlparse(u.split(" ; ")[0]).hostname
            for t in WITH_URL.values() for u in t["source_url"].dropna()}
    assert set(HOST_KINDS) == used


@pytest.mark.parametrize("name", sorted(n for n, t in WITH_URL.items() if "source" in t.columns))
def test_a_row_its_source_calls_a_copy_is_never_counted_as_the_publisher(name):
    table = WITH_URL[name]
    for source, url in zip(table["source"].fillna(""), table["source_url"], strict=True):
        head = source.split(";")[0]  # the first source named goes with the first URL
        kind = carrier_kind(url)
        if re.search(r"repost|reprint|mirror|copy at", head, re.IGNORECASE):
            assert kind != "original publisher", (name, source, url)
        if re.search(r"\((mirror|copy at)", head):
            assert kind == "mirror", (name, source, url)
        if re.search(r"\(repost on", head):
            assert kind == "reprint", (name, source, url)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://newschinamag.com/newschina/articleDetail.do?id=1", "original publisher"),
        ("https://bjstwz.com/2225.html", "reprint"),
        ("https://en.wikipedia.org/wiki/Return_to_Dust", "aggregator"),
        ("https://github.com/datasets/exchange-rates/blob/x/data/annual.csv", "mirror"),
        ("https://key-pax.com/a ; https://www.scmp.com/b", "mirror"),  # the first URL decides
        ("", COMPUTATION),
        (None, COMPUTATION),
    ],
)
def test_known_hosts(url, kind):
    assert carrier_kind(url) == kind


def test_an_unknown_host_needs_a_decision():
    with pytest.raises(ValueError, match=r"'example\.org' .* is not classified"):
        carrier_kind("https://example.org/page")


def test_rows_by_table_add_up_and_skip_tables_without_urls():
    table = kinds_by_table(TABLES)
    assert "article_figures" not in table.index and list(table.columns) == KINDS
    for name, rows in WITH_URL.items():
        assert table.loc[name].sum() == len(rows)
