"""The built chapter "The course data" (_build/html/book/data.html): sourcing by carrier.

Each count is recomputed from the CSV files in data/ (plain pandas.read_csv) with the
stated host rule of dustcourse.carriers, and checked against the rendered text.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_book import ROOT, chapter_text, pages  # noqa: F401  (pages is a fixture)

from dustcourse.carriers import carrier_kind

DATA = ROOT / "data"
PAGE = "book/data.html"


@pytest.fixture(scope="module")
def text(pages) -> str:  # noqa: F811
    return chapter_text(pages, PAGE)


def kinds(name: str) -> pd.Series:
    return pd.read_csv(DATA / f"{name}.csv", dtype=str)["source_url"].map(carrier_kind)


def test_rows_by_kind_of_carrier(text, pages):  # noqa: F811
    with_url = [p.stem for p in sorted(DATA.glob("*.csv"))
                if "source_url" in pd.read_csv(p, nrows=0).columns]
    total = sum(len(kinds(n)) for n in with_url)
    assert f"counts the {total:,} rows of the {len(with_url)} tables that carry an address" in text
    fx = pd.concat([kinds(n) for n in with_url if n.startswith("fx_")])
    assert (fx == "mirror").all()
    assert f"Every one of the {len(fx):,} exchange rates was read in a mirror" in text
    official = pd.concat([kinds(n) for n in with_url if n.startswith("cn_")])
    assert (f"Of the {len(official)} rows of official statistics, only "
            f"{(official == 'original publisher').sum()} were read at an official site") in text
    film = kinds("rtd_box_office_milestones")
    assert (f"{(film == 'original publisher').sum()} of its {len(film)} box-office milestones "
            "were read where they were first published") in text
    assert "rows of each table by the kind of site its source was read on" in text
