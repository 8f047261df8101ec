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
    check_rules,
    course_secret,
    load_rules,
    perturb_files,
    printed_agrees,
    relation_problems,
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
        # each yuan/dollar pair: the implied rates change (by the same ratio up to the
        # rounding of the printed figures) and stay between 6 and 8 yuan per dollar
        ratios = []
        for pair in {r["pair"] for r in real.values() if r["pair"]}:
            def rate(table, pair=pair):
                amounts = {r["unit"].split("_")[0]: float(r["value"])
                           for r in table.values() if r["pair"] == pair}
                return amounts["yuan"] / amounts["USD"]
            ratios.append(rate(new) / rate(real))
            assert 6 < rate(new) < 8 or not 6 < rate(real) < 8
        assert max(ratios) - min(ratios) < 0.03 and max(abs(r - 1) for r in ratios) > 0.015
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


def test_printed_forms_follow_their_values():
    """as_printed is rewritten with its value: every row whose printed text printed its
    value in the real table still does (a question that parses as_printed agrees with
    value), and the printed figures change with the values."""
    from dustcourse.printed import parse_amount

    files = every_table()
    real = {r["id"]: r for r in rows(files["data/article_figures.csv"])}
    agreeing = {i for i, r in real.items() if printed_agrees(r["as_printed"], r["value"])}
    assert {"nc_gross_by_sep7_usd", "nc_director_age", "nc_land_rented_mu",
            "nc_berlin_premiere_date", "nc_douyin_hashtag_views"} <= agreeing
    for assignment in ASSIGNMENTS:
        for secret in SECRETS:
            out = perturb_files(files, assignment, secret, DATA)
            new = {r["id"]: r for r in rows(out["data/article_figures.csv"])}
            assert validate_perturbed(out, DATA, originals=files) == []
            changed = 0
            for i in agreeing:
                row = new[i]
                assert printed_agrees(row["as_printed"], row["value"]), (assignment, row)
                if row["value"] != real[i]["value"]:
                    changed += 1
                    assert row["as_printed"] != real[i]["as_printed"], row
                try:  # the course's own reading of a printed amount agrees too
                    amount, _ = parse_amount(real[i]["as_printed"])
                except ValueError:
                    continue
                if amount == float(real[i]["value"]):
                    assert parse_amount(row["as_printed"])[0] == float(row["value"]), row
            assert changed > len(agreeing) / 2
            # copies added by the rules print their own (jittered) value
            for i, row in new.items():
                if i not in real and printed_agrees(real[i.split("_extra")[0]]["as_printed"],
                                                    real[i.split("_extra")[0]]["value"]):
                    assert printed_agrees(row["as_printed"], row["value"]), row


def test_a_printed_text_out_of_step_is_reported():
    text = "id,value,as_printed\na,14300000,US$14.3m\nb,1000000,millions\n"
    broken = "id,value,as_printed\na,15300000,US$14.3m\nb,900000,millions\n"
    rule = [{"op": "printed", "value": "value", "printed": "as_printed"}]
    problems = relation_problems("t", text, broken, rule)
    assert len(problems) == 1 and "row a" in problems[0]  # b never printed its value
    assert relation_problems("t", text, text, rule) == []


def test_rules_name_only_tables_and_columns_of_the_package(tmp_path):
    assert check_rules(DATA) == []
    for path in DATA.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    rules = json.loads((DATA / "perturbations.json").read_text())
    rules["tables"]["article_figures"].append(
        {"op": "printed", "value": "value", "printed": "as_prnted"})
    rules["tables"]["corrections"].append({"op": "rescale", "columns": ["value"]})
    (tmp_path / "perturbations.json").write_text(json.dumps(rules))
    problems = check_rules(tmp_path)
    assert any("no column 'as_prnted'" in p for p in problems)
    assert any("corrections" in p and "unknown operation" in p for p in problems)


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
