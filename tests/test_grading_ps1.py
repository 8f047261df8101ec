"""Problem set 1 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently drawn but correct plot), the
blank student version scores zero, and typical wrong answers lose exactly the points
of the answer they get wrong: later answers are judged on the student's own earlier
results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract

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


CORRECT = {"alternative_plot": ALTERNATIVE_PLOT}


TestContract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)
