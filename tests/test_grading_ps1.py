"""Problem set 1 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently drawn but correct plot), the
blank student version scores zero, and typical wrong answers lose exactly the points
of the answer they get wrong: later answers are judged on the student's own earlier
results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract
from exercise_fixtures import (
    assert_holds_verdicts,
    assert_unanswered_questions_name_their_variable,
    error_message,
    robustness_run,
)

ASSIGNMENT = "ps1-articles-as-data"
AUTOGRADED = {
    "q1_parse_amount_tests": 2,
    "q2_pairs_tests": 2,
    "q3_implied_rate_tests": 1,
    "q4_official_rate_tests": 1,
    "q5_outside_tolerance_tests": 2,
    "q6_rate_interval_tests": 2,
    "q7_land_area_tests": 2,
    "q8_ticket_price_tests": 1,
    "q9_days_between_tests": 1,
    "q10_age_verdict_tests": 1,
    "q11_rate_plot_tests": 2,
}

WRONG = {
    # dollars per yuan instead of yuan per dollar
    "inverted_rate": {"q3_implied_rate": 'pairs["implied_rate"] = pairs["usd"] / pairs["yuan"]'},
    # thousands separators not handled: "US$290,000" becomes 290
    "no_commas": {
        "q1_parse_amount": (
            "import re\n"
            "def parse_amount(text):\n"
            '    number = float(re.search(r"\\d+(\\.\\d+)?", text).group())\n'
            '    if "billion" in text or "bn" in text:\n'
            "        return number * 1e9\n"
            '    if "million" in text or re.search(r"\\dm\\b", text):\n'
            "        return number * 1e6\n"
            "    return number"
        )
    },
    # an absolute difference of 0.03 yuan instead of 3 percent
    "absolute_tolerance": {
        "q5_outside_tolerance": (
            "TOLERANCE = 0.03\n"
            'gap = (pairs["implied_rate"] - official_rate_2022).abs()\n'
            'pairs["outside_tolerance"] = gap > TOLERANCE'
        )
    },
    # half a million instead of half of the last printed digit (0.05 million)
    "wrong_rounding_step": {
        "q6_rate_interval": (
            'row = pairs.loc["nc_gross_by_sep7"]\n'
            'rate_low = float(row["yuan"] / (row["usd"] + 0.5e6))\n'
            'rate_high = float(row["yuan"] / (row["usd"] - 0.5e6))\n'
            "rounding_explains = bool(rate_low <= official_rate_2022 <= rate_high)"
        )
    },
    # admissions divided by gross
    "inverted_price": {
        "q8_ticket_price": (
            'implied_ticket_price = float(by_id.loc["vice_admissions_early_sep", "value"]) / '
            'float(by_id.loc["vice_gross_early_sep_yuan", "value"])'
        )
    },
    # counting both the first and the last day
    "inclusive_days": {
        "q9_days_between": (
            'premiere = pd.Timestamp(by_id.loc["nc_berlin_premiere_date", "value"])\n'
            'release = pd.Timestamp(by_id.loc["nc_china_release_date", "value"])\n'
            "days_berlin_to_release = int((release - premiere).days) + 1"
        )
    },
    # the plot without its reference line
    "no_reference_line": {
        "q11_rate_plot": (
            "fig, ax = plt.subplots()\n"
            'ax.scatter(pairs["implied_rate"], pairs.index)\n'
            'ax.set_xlabel("Implied rate (yuan per US dollar)")\n'
            'ax.set_title("Implied exchange rates")'
        )
    },
}
EXPECTED_LOSS = {
    "inverted_rate": {"q3_implied_rate_tests"},
    "no_commas": {"q1_parse_amount_tests"},
    "absolute_tolerance": {"q5_outside_tolerance_tests"},
    "wrong_rounding_step": {"q6_rate_interval_tests"},
    "inverted_price": {"q8_ticket_price_tests"},
    "inclusive_days": {"q9_days_between_tests"},
    "no_reference_line": {"q11_rate_plot_tests"},
}

# A correct plot drawn differently: vertical, with plot() markers and a horizontal line.
ALTERNATIVE_PLOT = {
    "q11_rate_plot": (
        "fig, ax = plt.subplots()\n"
        'ax.plot(list(pairs.index), pairs["implied_rate"], "o")\n'
        'ax.axhline(official_rate_2022, color="grey")\n'
        'ax.set_ylabel("CNY per USD: yuan per dollar")\n'
        'ax.set_title("Implied rates")\n'
        "ax.tick_params(axis='x', rotation=90)"
    )
}

# Correct answers in other idioms: loops over rows, a dict turned into a DataFrame with
# the columns in another order, list comprehensions, NumPy scalars (np.float64,
# np.int64, np.bool_) where a float, an int or a bool is asked for, and the other
# defensible verdict (the birthday is not given).
LOOPS_AND_NUMPY = {
    "q2_pairs": (
        "rows = {}\n"
        'for _, r in figures.dropna(subset=["pair"]).iterrows():\n'
        '    currency = "yuan" if r["unit"].startswith("yuan") else "usd"\n'
        '    rows.setdefault(r["pair"], {})[currency] = float(r["value"])\n'
        'pairs = pd.DataFrame.from_dict(rows, orient="index")[["usd", "yuan"]]\n'
        'pairs.index.name = "pair"'
    ),
    "q3_implied_rate": (
        'pairs["implied_rate"] = [y / u for y, u in zip(pairs["yuan"], pairs["usd"])]'
    ),
    "q4_official_rate": (
        "fed = fx_annual[(fx_annual.year == 2022) & fx_annual.series.str.contains('AEXCHUS')]\n"
        'official_rate_2022 = fed["mean_cny_per_usd"].item()'
    ),
    "q5_outside_tolerance": (
        "import numpy as np\n"
        'rel = np.abs(pairs["implied_rate"].to_numpy() / official_rate_2022 - 1)\n'
        'pairs["outside_tolerance"] = [bool(g > 0.03) for g in rel]'
    ),
    "q6_rate_interval": (
        "import numpy as np\n"
        'yuan = float(by_id.loc["nc_gross_by_sep7_yuan", "value"])\n'
        'usd = np.float64(by_id.loc["nc_gross_by_sep7_usd", "value"])\n'
        "rate_low, rate_high = yuan / (usd + 5e4), yuan / (usd - 5e4)\n"
        "rounding_explains = (np.bool_(rate_low <= official_rate_2022)\n"
        "                     & (official_rate_2022 <= rate_high))"
    ),
    "q7_land_area": (
        "import numpy as np\n"
        "M2_PER_MU = 10_000 / 15\n"
        'mu, km2 = np.float64(by_id.loc[["nc_land_rented_mu", "nc_land_rented_km2"], "value"])\n'
        "area_m2 = mu * M2_PER_MU\n"
        "area_km2 = area_m2 / 1e6\n"
        "error_factor = km2 / area_km2"
    ),
    "q9_days_between": (
        "import numpy as np\n"
        'premiere = np.datetime64(by_id.loc["nc_berlin_premiere_date", "value"])\n'
        'release = np.datetime64(by_id.loc["nc_china_release_date", "value"])\n'
        "days_berlin_to_release = (release - premiere).astype(int)"
    ),
    "q10_age_verdict": 'age_verdict = "unverifiable"  # the birthday is not given',
}
VECTORISED = {
    "q2_pairs": (
        "import numpy as np\n"
        "pairs = (figures[figures['pair'].notna()]\n"
        "         .assign(cur=lambda d: np.where(d['unit'].str.startswith('USD'), 'usd', 'yuan'),\n"
        "                 amount=lambda d: d['value'].astype(float))\n"
        "         .pivot_table(index='pair', columns='cur', values='amount'))"
    ),
    "q8_ticket_price": (
        'both = by_id.loc[["vice_gross_early_sep_yuan", "vice_admissions_early_sep"], "value"]\n'
        "gross, people = both.astype(float)\n"
        "implied_ticket_price = gross / people"
    ),
    "q9_days_between": (
        "d = pd.to_datetime(by_id.loc[['nc_berlin_premiere_date', 'nc_china_release_date'],\n"
        "                             'value'])\n"
        "days_berlin_to_release = d.diff().dropna().dt.days.astype(int).iloc[-1]"
    ),
    **ALTERNATIVE_PLOT,
}

CORRECT = {"loops_and_numpy": LOOPS_AND_NUMPY, "vectorised": VECTORISED}

# The typed-numbers student (tests/exercise_fixtures.py): every result typed in as the
# literal the solution printed. Full marks on the real data; the robustness run takes
# the points of every data-following question away.
TYPED = {
    "q2_pairs": 'pairs = {{pairs[["yuan", "usd"]]}}',
    "q3_implied_rate": 'pairs["implied_rate"] = {{pairs["implied_rate"].tolist()}}',
    "q4_official_rate": "official_rate_2022 = {{official_rate_2022}}",
    "q5_outside_tolerance": 'pairs["outside_tolerance"] = {{pairs["outside_tolerance"].tolist()}}',
    "q6_rate_interval": (
        "rate_low = {{rate_low}}\nrate_high = {{rate_high}}\n"
        "rounding_explains = {{rounding_explains}}"
    ),
    "q7_land_area": (
        "area_m2 = {{area_m2}}\narea_km2 = {{area_km2}}\nerror_factor = {{error_factor}}"
    ),
    "q8_ticket_price": "implied_ticket_price = {{implied_ticket_price}}",
    "q9_days_between": "days_berlin_to_release = {{days_berlin_to_release}}",
    "q10_age_verdict": "age_verdict = {{age_verdict}}",
}


Contract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)


class TestContract(Contract):
    def test_messages_say_what_is_expected(self, course):
        """A wrong rounding step is not reported as a wrong direction; counting both
        days names the rule; an unanswered question names the variable to define."""
        msg = error_message(course, "wrong_rounding_step", ASSIGNMENT, "q6_rate_interval_tests")
        assert "wrong width" in msg and "direction is right" in msg, msg
        msg = error_message(course, "inclusive_days", ASSIGNMENT, "q9_days_between_tests")
        assert "premiere day is not counted" in msg, msg
        assert_unanswered_questions_name_their_variable(course, ASSIGNMENT, AUTOGRADED)

    def test_verdict_text_is_the_shared_vocabulary(self):
        assert_holds_verdicts(ASSIGNMENT)


TestRobustness = robustness_run(ASSIGNMENT, AUTOGRADED, CORRECT, TYPED)
