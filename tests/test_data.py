"""The data package: valid, typed, traced, and loud when something is wrong."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from frictionless import Package, system

from dustcourse import data
from dustcourse.data import DataFileMissingError, SchemaViolationError, UnknownTableError

DATA = data.data_dir()


def test_datapackage_is_valid_with_frictionless():
    """Every resource, including foreign keys, passes Frictionless validation."""
    with system.use_context(trusted=True):
        report = Package(str(DATA / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "message"])[:10]


def test_every_csv_is_described_and_has_sources():
    described = {r["path"] for r in data._descriptor(DATA)["resources"]}
    assert described == {p.name for p in DATA.glob("*.csv")}
    for name in data.table_names():
        resource = data.describe(name)
        assert resource.get("sources"), f"{name} names no source"
        assert resource["schema"].get("primaryKey"), f"{name} has no primary key"
        for field in resource["schema"]["fields"]:
            assert field.get("description"), f"{name}.{field['name']} is not described"


@pytest.mark.parametrize("name", data.table_names())
def test_every_table_loads(name):
    df = data.load(name)
    assert len(df) > 0
    assert df.attrs["table"] == name


def test_types_follow_the_schema():
    monthly = data.load("fx_cny_per_usd_monthly")
    assert isinstance(monthly["month"].dtype, pd.PeriodDtype)
    daily = data.load("fx_cny_per_usd_daily")
    assert pd.api.types.is_datetime64_any_dtype(daily["date"])
    assert daily["cny_per_usd"].dtype == "float64"
    population = data.load("cn_population_urbanization")
    assert population["verified"].dtype == bool
    assert isinstance(population["series"].dtype, pd.CategoricalDtype)
    assert population.attrs["units"]["urban_10k"] == "10,000 persons"
    events = data.load("rtd_events")
    assert set(events["date_precision"].dropna()) <= {"year", "month", "day"}
    release = events.loc[events["date"] == "2022-07-08", "date_start"].iloc[0]
    assert release == pd.Timestamp("2022-07-08")


def test_article_figures_cover_both_articles_with_numbers_and_dates():
    figures = data.load("article_figures")
    assert len(figures) > 40
    assert set(figures["article"]) == {"newschina", "vice"}
    numeric = figures["value_number"].notna()
    dated = figures["value_start"].notna()
    assert (numeric ^ dated).all(), "each value is either a number or a date"
    assert (figures.loc[figures["unit"] == "date", "value_precision"].notna()).all()


def test_money_pairs_have_one_yuan_and_one_usd_figure():
    figures = data.load("article_figures")
    pairs = figures.dropna(subset=["pair"])
    assert pairs["pair"].nunique() >= 8
    for key, rows in pairs.groupby("pair"):
        currencies = sorted(str(u).split("_")[0] for u in rows["unit"])
        assert currencies == ["USD", "yuan"], f"pair {key}: {list(rows['unit'])}"
        assert rows["article"].nunique() == 1


def test_known_article_slip_is_recorded_with_its_correction():
    """The land-area conversion (5 mu printed as about 3.3 km²) is kept and corrected."""
    figures = data.load("article_figures").set_index("id")
    corrections = data.load("corrections").set_index("figure_id")
    assert figures.loc["nc_land_rented_mu", "value_number"] == 5
    assert figures.loc["nc_land_rented_km2", "value_number"] == 3.3
    fix = corrections.loc["nc_land_rented_km2"]
    assert fix["issue"] == "error"
    assert fix["corrected_value_number"] == pytest.approx(5 * 10_000 / 15 / 1e6, rel=1e-3)


def test_missing_file_raises_a_specific_error(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    (copy / "corrections.csv").unlink()
    with pytest.raises(DataFileMissingError, match=r"corrections\.csv is missing"):
        data.load("corrections", directory=copy)


def test_missing_descriptor_raises_a_specific_error(tmp_path):
    with pytest.raises(DataFileMissingError, match=r"datapackage\.json"):
        data.load("corrections", directory=tmp_path)


def test_schema_violation_names_row_and_field(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    path = copy / "cn_box_office_annual.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines[1].split(",")
    first[1] = "-44.069"  # negative money breaks "minimum": 0
    lines[1] = ",".join(first)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(SchemaViolationError, match=r"row 2, field 'gross_billion_yuan'"):
        data.load("cn_box_office_annual", directory=copy)


def test_unknown_table_lists_the_known_ones():
    with pytest.raises(UnknownTableError, match="known tables: article_figures"):
        data.load("box_office")


def test_malformed_article_value_is_rejected(tmp_path):
    """A value that is neither a plain number nor an ISO date breaks the schema."""
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    figures = pd.read_csv(copy / "article_figures.csv", dtype=str, keep_default_na=False)
    figures.loc[0, "value"] = "100 million"
    figures.to_csv(copy / "article_figures.csv", index=False)
    with pytest.raises(SchemaViolationError, match=r"row 2, field 'value'"):
        data.load("article_figures", directory=copy)
