"""The perturbation rules (data/perturbations.json): every shipped table is covered, the
copies keep the schema and the relations the problem sets rely on, and they change."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from dustcourse.perturb import (
    PerturbationError,
    course_secret,
    load_rules,
    perturb_files,
    table_paths,
    validate_perturbed,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
SECRETS = ("test-secret-1", "test-secret-2")


def shipped(assignment: str) -> dict[str, bytes]:
    folder = ROOT / "solutions" / assignment / "data"
    return {f"data/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def every_table() -> dict[str, bytes]:
    return {f"data/{p}": (DATA / p).read_bytes() for p in table_paths(DATA)}


def test_every_table_and_every_shipped_file_has_rules():
    rules = load_rules(DATA)
    tables = table_paths(DATA)
    assert set(tables.values()) <= set(rules), "a table of the data package has no rules"
    for assignment in ASSIGNMENTS:
        files = shipped(assignment)
        assert files, f"{assignment} ships no data file"
        for name in files:
            assert Path(name).name in tables, f"{assignment}: {name} is not in the package"


def test_a_table_without_rules_is_refused(tmp_path):
    for path in DATA.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    rules = json.loads((DATA / "perturbations.json").read_text())
    del rules["tables"]["article_figures"]
    (tmp_path / "perturbations.json").write_text(json.dumps(rules))
    with pytest.raises(PerturbationError, match="article_figures"):
        perturb_files(shipped("ps0-warmup"), "ps0-warmup", "s", tmp_path)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_perturbed_copies_keep_the_schema_and_change(assignment):
    files = shipped(assignment)
    for secret in SECRETS:
        perturbed = perturb_files(files, assignment, secret, DATA)
        assert validate_perturbed(perturbed, DATA) == []
        for name, content in files.items():
            assert perturbed[name] != content, f"{name} did not change"
            assert next(csv.reader(io.StringIO(perturbed[name].decode()))) == next(
                csv.reader(io.StringIO(content.decode()))), "the columns changed"


def test_every_table_validates_under_several_secrets():
    files = every_table()
    for secret in ("a", "b", "c"):
        assert validate_perturbed(perturb_files(files, "any", secret, DATA), DATA) == []


def test_copies_are_deterministic_and_depend_on_assignment_and_secret():
    files = shipped("ps1-articles-as-data")
    one = perturb_files(files, "ps1-articles-as-data", "s", DATA)
    assert one == perturb_files(files, "ps1-articles-as-data", "s", DATA)
    assert one != perturb_files(files, "ps1-articles-as-data", "t", DATA)
    assert one != perturb_files(files, "ps0-warmup", "s", DATA)
    assert set(one) == set(files)  # same file names: the notebook reads the same paths


def test_article_figures_keep_their_relations():
    files = every_table()
    for secret in SECRETS:
        real = {r["id"]: r for r in rows(files["data/article_figures.csv"])}
        out = rows(perturb_files(files, "ps0-warmup", secret, DATA)["data/article_figures.csv"])
        new = {r["id"]: r for r in out}
        assert len(new) == len(out), "keys must stay unique"
        assert set(real) < set(new), "rows are only added, never removed"
        assert [r["id"] for r in out] != list(real)[: len(out)], "rows are reordered"
        # each yuan/dollar pair: every implied rate changes by the same ratio, and stays
        # between 6 and 8 yuan per dollar
        ratios = []
        for pair in {r["pair"] for r in real.values() if r["pair"]}:
            def rate(table, pair=pair):
                amounts = {r["unit"].split("_")[0]: float(r["value"])
                           for r in table.values() if r["pair"] == pair}
                return amounts["yuan"] / amounts["USD"]
            ratios.append(rate(new) / rate(real))
            assert 6 < rate(new) < 8 or not 6 < rate(real) < 8
        assert max(ratios) - min(ratios) < 0.01 and abs(ratios[0] - 1) > 0.015
        # age and birth year still agree; the shoot's land changes
        age = int(new["nc_director_age"]["value"]) - int(real["nc_director_age"]["value"])
        born = int(new["nc_director_birth_year"]["value"])
        assert age != 0 and born == int(real["nc_director_birth_year"]["value"]) - age
        assert new["nc_land_rented_mu"]["value"] != real["nc_land_rented_mu"]["value"]
        # full dates keep their order and the release day, and the gaps change
        dates = sorted((r["value"], i) for i, r in real.items()
                       if r["unit"] == "date" and len(r["value"]) == 10)
        moved = [new[i]["value"] for _, i in dates]
        assert moved == sorted(moved)
        assert new["nc_china_release_date"]["value"] == "2022-07-08"
        premiere = date.fromisoformat(new["nc_berlin_premiere_date"]["value"])
        assert (date(2022, 7, 8) - premiere).days != (date(2022, 7, 8) - date(2022, 2, 13)).days
        # the foreign keys into the table still resolve (checked by Frictionless too)
        people = rows(files["data/rtd_people.csv"])
        assert {p["age_figure_id"] for p in people if p["age_figure_id"]} <= set(new)


def test_official_tables_keep_their_sums_and_ratios():
    out = perturb_files(every_table(), "ps2-rural-migration", "s", DATA)
    for r in rows(out["data/cn_population_urbanization.csv"]):
        if r["urban_10k"] and r["rural_10k"]:
            assert int(r["total_10k"]) == int(r["urban_10k"]) + int(r["rural_10k"])
            share = 100 * int(r["urban_10k"]) / int(r["total_10k"])
            assert abs(float(r["urban_share_pct"]) - share) < 0.01
    for r in rows(out["data/cn_disposable_income.csv"]):
        if r["urban_yuan"] and r["rural_yuan"]:
            ratio = float(r["urban_yuan"]) / float(r["rural_yuan"])
            assert abs(float(r["urban_rural_ratio"]) - ratio) < 0.01
    for r in rows(out["data/cn_migrant_workers.csv"]):
        total = float(r["outside_home_area_million"]) + float(r["local_million"])
        assert abs(float(r["total_million"]) - total) < 0.011
    # one exchange-rate factor for the daily, monthly and annual tables
    real = {r["month"]: float(r["mean_cny_per_usd"])
            for r in rows((DATA / "fx_cny_per_usd_monthly.csv").read_bytes())}
    moved = {r["month"]: float(r["mean_cny_per_usd"])
             for r in rows(out["data/fx_cny_per_usd_monthly.csv"])}
    annual = {(r["year"], r["series"]): float(r["mean_cny_per_usd"])
              for r in rows(out["data/fx_cny_per_usd_annual.csv"])}
    real_annual = {(r["year"], r["series"]): float(r["mean_cny_per_usd"])
                   for r in rows((DATA / "fx_cny_per_usd_annual.csv").read_bytes())}
    factors = [moved[m] / real[m] for m in real] + [annual[k] / real_annual[k] for k in annual]
    assert max(factors) - min(factors) < 0.001 and abs(factors[0] - 1) >= 0.019


def test_box_office_run_keeps_its_order_and_passes_100_million():
    out = perturb_files(every_table(), "ps4-box-office", "s", DATA)
    real = rows((DATA / "rtd_box_office_milestones.csv").read_bytes())
    new = {r["id"]: r for r in rows(out["data/rtd_box_office_milestones.csv"])}
    for r in real:
        assert new[r["id"]]["date"] == r["date"]
    yuan = [float(new[r["id"]]["value"]) / float(r["value"]) for r in real if r["unit"] == "yuan"]
    assert max(yuan) - min(yuan) < 0.01 and min(yuan) > 1.05


def test_course_secret_is_created_once_and_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("DUSTCOURSE_GRADING_SECRET", raising=False)
    first = course_secret(tmp_path)
    path = tmp_path / "grading" / "secret"
    assert len(first) >= 32 and path.stat().st_mode & 0o777 == 0o600
    assert course_secret(tmp_path) == first
    monkeypatch.setenv("DUSTCOURSE_GRADING_SECRET", "from-env")
    assert course_secret(tmp_path) == "from-env"


def test_secret_is_not_in_the_repository():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/grading/" in ignored  # grading/secret and grading/robustness/ stay local


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_follows_data_metadata_is_well_formed(assignment):
    """Only autograded test cells say whether they follow the data, and an exemption
    always says why (nothing is guessed: no key means the test follows the data)."""
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("dustcourse")
        if meta is None:
            continue
        nbgrader = cell.metadata.get("nbgrader", {})
        where = f"{assignment}: {nbgrader.get('grade_id', 'a cell')}"
        assert cell.cell_type == "code" and nbgrader.get("grade") and not nbgrader.get(
            "solution"), f"{where}: follows_data belongs on autograded test cells only"
        assert set(meta) <= {"follows_data", "why"}, where
        assert isinstance(meta.get("follows_data"), bool), where
        if meta["follows_data"] is False:
            assert str(meta.get("why", "")).strip(), f"{where}: say why it cannot follow data"
