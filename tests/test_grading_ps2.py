"""Problem set 2 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently drawn but correct plot), the
blank student version scores zero, and typical wrong answers lose exactly the points
of the answer they get wrong: later answers are judged on the student's own earlier
results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract

ASSIGNMENT = "ps2-rural-migration"
AUTOGRADED = {
    "q1_population_tests": 2,
    "q2_urban_majority_tests": 1,
    "q3_share_rise_tests": 1,
    "q4_cagr_tests": 2,
    "q5_income_ratio_tests": 2,
    "q6_gaotai_tests": 2,
    "q7_rural_gap_tests": 2,
    "q8_migrant_shares_tests": 2,
    "q9_income_merge_tests": 2,
    "q10_population_plot_tests": 2,
}

WRONG = {
    # the two population series spliced: revised values where they exist (2013-2020),
    # as published elsewhere
    "spliced_series": {
        "q1_population": (
            'known = population.dropna(subset=["urban_10k", "rural_10k"])\n'
            'latest = known.sort_values("series").drop_duplicates("year", keep="last")\n'
            'pop = latest.set_index("year").sort_index()[["total_10k", "urban_10k", "rural_10k"]]\n'
            "pop = pop.astype(float) / 100\n"
            'pop.columns = ["total_million", "urban_million", "rural_million"]'
        )
    },
    # a percent change of the share instead of a difference in percentage points
    "percent_not_points": {
        "q3_share_rise": (
            'share = population[population["series"] == "as_published"]'
            '.set_index("year")["urban_share_pct"]\n'
            "share_rise_pp = float((share.loc[2022] / share.loc[first_urban_majority_year] - 1)"
            " * 100)"
        )
    },
    # simple (arithmetic) average growth instead of the compound rate
    "simple_average_growth": {
        "q4_cagr": (
            "def cagr(start, end, years):\n"
            "    return float((end / start - 1) / years)\n"
            'rural = income.set_index("year")["rural_yuan"]\n'
            "rural_income_cagr = cagr(rural.loc[2014], rural.loc[2024], 10)"
        )
    },
    # the gap in percent of the article's round number instead of the official figure
    "wrong_base_gap": {
        "q7_rural_gap": (
            'article_rural_million = float(by_id.loc["nc_rural_residents", "value"]) / 1e6\n'
            'gap_million = float(article_rural_million - pop.loc[2022, "rural_million"])\n'
            "gap_pct = gap_million / article_rural_million * 100"
        )
    },
    # every year divided by the first year's total: shares that do not sum to one
    "fixed_base_shares": {
        "q8_migrant_shares": (
            'workers = migrants.set_index("year")\n'
            'base = workers["total_million"].iloc[0]\n'
            "shares = pd.DataFrame({\n"
            '    "outside_share": workers["outside_home_area_million"] / base,\n'
            '    "local_share": workers["local_million"] / base,\n'
            "})"
        )
    },
    # the monthly wage compared with a yearly income (not multiplied by 12)
    "monthly_not_annual": {
        "q9_income_merge": (
            'incomes = migrants[["year", "avg_monthly_income_yuan"]].merge(\n'
            '    income[["year", "rural_yuan"]], on="year")\n'
            'incomes["migrant_annual_yuan"] = incomes["avg_monthly_income_yuan"]\n'
            'incomes["migrant_to_rural"] = incomes["migrant_annual_yuan"] / incomes["rural_yuan"]'
        )
    },
    # the right lines, but no axis labels, legend or title
    "plot_without_labels": {
        "q10_population_plot": (
            "fig, ax = plt.subplots()\n"
            'ax.plot(pop.index, pop["urban_million"])\n'
            'ax.plot(pop.index, pop["rural_million"])'
        )
    },
}
EXPECTED_LOSS = {
    "spliced_series": {"q1_population_tests"},
    "percent_not_points": {"q3_share_rise_tests"},
    "simple_average_growth": {"q4_cagr_tests"},
    "wrong_base_gap": {"q7_rural_gap_tests"},
    "fixed_base_shares": {"q8_migrant_shares_tests"},
    "monthly_not_annual": {"q9_income_merge_tests"},
    "plot_without_labels": {"q10_population_plot_tests"},
}

# A correct plot drawn differently: pandas' DataFrame.plot, its automatic legend
# (the column names), markers only on the rural line, and the total drawn as well.
ALTERNATIVE_PLOT = {
    "q10_population_plot": (
        "fig, ax = plt.subplots()\n"
        'pop[["total_million", "urban_million"]].plot(ax=ax)\n'
        'pop["rural_million"].plot(ax=ax, style="s--", legend=True)\n'
        'ax.set_xlabel("Year")\n'
        'ax.set_ylabel("Population, millions")\n'
        'ax.set_title("Town and country")'
    )
}


CORRECT = {"alternative_plot": ALTERNATIVE_PLOT}


TestContract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)
