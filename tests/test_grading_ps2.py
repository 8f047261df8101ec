"""Problem set 2 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently drawn but correct plot), the
blank student version scores zero, and typical wrong answers lose exactly the points
of the answer they get wrong: later answers are judged on the student's own earlier
results, so one mistake is not counted twice.
"""

from __future__ import annotations

import io

import pandas as pd
from conftest import exercise_contract
from exercise_fixtures import (
    assert_unanswered_questions_name_their_variable,
    robustness_run,
)

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
    "q11_constant_prices_tests": 2,
    "q12_wage_plot_tests": 2,
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
        ),
        # and the published real growth taken for the rise in prices
        "q11_constant_prices": (
            'inc = income.set_index("year")\n'
            'real = inc.loc[2016:2024, "rural_real_growth_pct"] / 100\n'
            "price_index = 100 * (1 + real).cumprod()\n"
            "price_index.loc[2015] = 100.0\n"
            "price_index = price_index.sort_index()\n"
            'wage = migrants.set_index("year").loc[2015:2024, "avg_monthly_income_yuan"]\n'
            "migrant_real_wage = wage / price_index * 100"
        ),
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
        ),
        # labelled, but no source line
        "q12_wage_plot": (
            "wage_fig, wage_ax = plt.subplots()\n"
            'wage_ax.plot(migrants["year"], migrants["avg_monthly_income_yuan"], label="nominal")\n'
            'wage_ax.plot(migrant_real_wage.index, migrant_real_wage, label="constant 2015 yuan")\n'
            'wage_ax.set_xlabel("Year")\n'
            'wage_ax.set_ylabel("Monthly income (yuan)")\n'
            'wage_ax.set_title("Migrant wages")\n'
            "wage_ax.legend()"
        ),
    },
}
EXPECTED_LOSS = {
    "spliced_series": {"q1_population_tests"},
    "percent_not_points": {"q3_share_rise_tests"},
    "simple_average_growth": {"q4_cagr_tests", "q11_constant_prices_tests"},
    "wrong_base_gap": {"q7_rural_gap_tests"},
    "fixed_base_shares": {"q8_migrant_shares_tests"},
    "monthly_not_annual": {"q9_income_merge_tests"},
    "plot_without_labels": {"q10_population_plot_tests", "q12_wage_plot_tests"},
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
    ),
    # pandas again, the source line as an annotation below the Axes, the real wage first
    "q12_wage_plot": (
        "both = migrants.set_index('year')[['avg_monthly_income_yuan']].join(\n"
        "    migrant_real_wage.rename('real, 2015 prices'), how='inner')\n"
        "both = both.rename(columns={'avg_monthly_income_yuan': 'Nominal'})\n"
        "wage_ax = both[['real, 2015 prices', 'Nominal']].plot(marker='.')\n"
        "wage_fig = wage_ax.figure\n"
        "wage_ax.set(xlabel='Survey year', ylabel='Yuan per month', title='Migrant pay')\n"
        "wage_ax.annotate('Data: National Bureau of Statistics', xy=(0, -0.2),\n"
        "                 xycoords='axes fraction', fontsize=7)"
    ),
}


# Correct answers in other idioms: loops over rows into a dict (columns in another
# order), query(), math instead of powers, NumPy arrays and np.bool_ where a bool is
# asked for, a join on the index instead of a merge (extra columns kept).
LOOPS_AND_NUMPY = {
    "q1_population": (
        "rows = {}\n"
        "for r in population.itertuples():\n"
        '    if r.series == "as_published" and pd.notna(r.urban_10k) and pd.notna(r.rural_10k):\n'
        "        rows[int(r.year)] = {'rural_million': r.rural_10k / 100,\n"
        "                             'urban_million': r.urban_10k / 100,\n"
        "                             'total_million': r.total_10k / 100}\n"
        "pop = pd.DataFrame.from_dict(rows, orient='index')\n"
        "pop.index.name = 'year'"
    ),
    "q2_urban_majority": (
        "for r in population.sort_values('year').itertuples():\n"
        "    if r.series == 'as_published' and r.urban_share_pct > 50:\n"
        "        first_urban_majority_year = r.year\n"
        "        break"
    ),
    "q3_share_rise": (
        "pub = population.query(\"series == 'as_published'\")\n"
        "share_rise_pp = (pub.query('year == 2022').urban_share_pct.item()\n"
        "                 - pub.query('year == @first_urban_majority_year').urban_share_pct.item())"
    ),
    "q4_cagr": (
        "import math\n"
        "def cagr(start, end, years):\n"
        "    return math.exp(math.log(end / start) / years) - 1\n"
        "r = income.query('year in (2014, 2024)').sort_values('year')['rural_yuan'].to_numpy()\n"
        "rural_income_cagr = cagr(r[0], r[1], 10)"
    ),
    "q5_income_ratio": (
        "import numpy as np\n"
        "k = income.dropna(subset=['urban_yuan', 'rural_yuan'])\n"
        "income_ratio = pd.Series(k['urban_yuan'].to_numpy() / k['rural_yuan'].to_numpy(),\n"
        "                         index=pd.Index(k['year'], name='year'))\n"
        "ratio_always_falls = np.all(np.diff(income_ratio.to_numpy()) < 0)"
    ),
    "q9_income_merge": (
        "incomes = (migrants.set_index('year')\n"
        "           .join(income.set_index('year')['rural_yuan'], how='inner')\n"
        "           .assign(migrant_annual_yuan=lambda d: d['avg_monthly_income_yuan'] * 12)\n"
        "           .assign(migrant_to_rural=lambda d:\n"
        "                   d['migrant_annual_yuan'] / d['rural_yuan'])\n"
        "           .reset_index())"
    ),
    "q11_constant_prices": (
        "levels, real, wage = {}, {}, {}\n"
        "for r in income.itertuples():\n"
        "    levels[r.year], real[r.year] = r.rural_yuan, r.rural_real_growth_pct\n"
        "for r in migrants.itertuples():\n"
        "    wage[r.year] = r.avg_monthly_income_yuan\n"
        "index = {2015: 100}\n"
        "for y in range(2016, 2025):\n"
        "    prices = (levels[y] / levels[y - 1]) / (1 + real[y] / 100)\n"
        "    index[y] = index[y - 1] * prices\n"
        "price_index = pd.Series(index, dtype=float).rename_axis('year')\n"
        "migrant_real_wage = pd.Series({y: wage[y] * 100 / p for y, p in index.items()})\n"
        "migrant_real_wage.index.name = 'year'"
    ),
}
VECTORISED = {
    "q1_population": (
        "pop = (population.query(\"series == 'as_published'\")\n"
        "       .dropna(subset=['urban_10k', 'rural_10k'])\n"
        "       .set_index('year')[['urban_10k', 'total_10k', 'rural_10k']] / 100)\n"
        "pop.columns = [c.replace('10k', 'million') for c in pop.columns]"
    ),
    "q6_gaotai": (
        "import numpy as np\n"
        "year, annual = by_id.loc[['nc_gaotai_income_year', 'nc_gaotai_income_annual_yuan'],\n"
        "                         'value']\n"
        "rural = income.set_index('year')['rural_yuan']\n"
        "gaotai_share = np.float64(annual) / rural[int(year)]\n"
        "gaotai_monthly_yuan = np.float64(annual) / 12"
    ),
    "q8_migrant_shares": (
        "parts = migrants.set_index('year')[['local_million', 'outside_home_area_million']]\n"
        "shares = parts.div(parts.sum(axis=1), axis=0)\n"
        "shares.columns = ['local_share', 'outside_share']"
    ),
    "q11_constant_prices": (
        "import numpy as np\n"
        "inc = income.set_index('year').loc[2015:2024]\n"
        "nominal = inc['rural_yuan'].to_numpy()\n"
        "real = inc['rural_real_growth_pct'].to_numpy()\n"
        "factor = nominal[1:] / nominal[:-1] / (1 + real[1:] / 100)\n"
        "price_index = pd.Series(100 * np.concatenate([[1.0], np.cumprod(factor)]),\n"
        "                        index=pd.Index(inc.index, name='year'))\n"
        "migrant_real_wage = (migrants.set_index('year')['avg_monthly_income_yuan']\n"
        "                     .div(price_index).mul(100).dropna())"
    ),
    **ALTERNATIVE_PLOT,
}

CORRECT = {"loops_and_numpy": LOOPS_AND_NUMPY, "vectorised": VECTORISED}

# The typed-numbers student (tests/exercise_fixtures.py): every result a literal.
TYPED = {
    "q1_population": "pop = {{pop}}",
    "q2_urban_majority": "first_urban_majority_year = {{first_urban_majority_year}}",
    "q3_share_rise": "share_rise_pp = {{share_rise_pp}}",
    "q4_cagr": (
        "def cagr(start, end, years):\n"
        "    return float((end / start) ** (1 / years) - 1)\n"
        "rural_income_cagr = {{rural_income_cagr}}"
    ),
    "q5_income_ratio": (
        "income_ratio = {{income_ratio}}\nratio_always_falls = {{ratio_always_falls}}"
    ),
    "q6_gaotai": "gaotai_share = {{gaotai_share}}\ngaotai_monthly_yuan = {{gaotai_monthly_yuan}}",
    "q7_rural_gap": (
        "article_rural_million = {{article_rural_million}}\n"
        "gap_million = {{gap_million}}\ngap_pct = {{gap_pct}}"
    ),
    "q8_migrant_shares": "shares = {{shares}}",
    "q9_income_merge": "incomes = {{incomes}}",
    "q11_constant_prices": (
        "price_index = {{price_index}}\nmigrant_real_wage = {{migrant_real_wage}}"
    ),
}

Contract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)


class TestContract(Contract):
    def test_messages_say_what_is_expected(self, course):
        """An unanswered question names the variable to define."""
        assert_unanswered_questions_name_their_variable(course, ASSIGNMENT, AUTOGRADED)


def test_perturbed_population_moves_the_first_urban_majority_year():
    """Question 2's answer is a year: the robustness run's copy must change it for every
    secret, or a typed-in year would keep its point."""
    from conftest import ROOT

    from dustcourse.perturb import perturb_files

    name = "data/cn_population_urbanization.csv"
    real = (ROOT / name).read_bytes()

    def first_majority(data: bytes) -> int:
        p = pd.read_csv(io.BytesIO(data))
        p = p[p["series"] == "as_published"]
        return int(p.loc[p["urban_share_pct"] > 50, "year"].min())

    for secret in ("fixed-test-secret", "s2", "s3", "another", "course-2027"):
        copy = perturb_files({name: real}, ASSIGNMENT, secret, ROOT / "data")[name]
        assert first_majority(copy) != first_majority(real), secret


TestRobustness = robustness_run(ASSIGNMENT, AUTOGRADED, CORRECT, TYPED)
