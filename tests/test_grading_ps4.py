"""Problem set 4 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently drawn log plot and a
differently set up logistic fit), the blank student version scores zero, and typical
wrong answers lose exactly the points of the answer they get wrong: later answers are
judged on the student's own earlier results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract
from exercise_fixtures import (
    assert_holds_verdicts,
    assert_unanswered_questions_name_their_variable,
    error_message,
    robustness_run,
)

ASSIGNMENT = "ps4-box-office"
AUTOGRADED = {
    "q1_milestones_tests": 2,
    "q2_forecast_multiple_tests": 1,
    "q3_days_to_reach_tests": 2,
    "q4_daily_rates_tests": 2,
    "q5_admissions_tests": 2,
    "q6_market_share_tests": 1,
    "q7_usd_tests": 2,
    "q8_log_plot_tests": 2,
    "q9_logistic_tests": 2,
    "q10_verdict_tests": 1,
}

WRONG = {
    # day numbers counted from 0 (8 July = day 0) instead of the trade's day 1; every
    # later answer uses the student's own series, so only question 1 is lost
    "days_from_zero": {
        "q1_milestones": (
            "rows = milestones[(milestones['figure'] == 'cumulative_gross')\n"
            "                  & (milestones['unit'] == 'yuan')\n"
            "                  & (milestones['date'].str.len() == 10)\n"
            "                  & ~milestones['id'].isin(EXCLUDE)].copy()\n"
            "rows['date'] = pd.to_datetime(rows['date'])\n"
            "rows = rows.sort_values('value').drop_duplicates('date', keep='last')\n"
            "rows = rows.sort_values('date')\n"
            "day = (rows['date'] - RELEASE).dt.days.to_numpy()\n"
            "cumulative = pd.DataFrame({'date': rows['date'].to_numpy(),\n"
            "                           'gross_million': rows['value'].to_numpy() / 1e6},\n"
            "                          index=pd.Index(day, name='day'))"
        )
    },
    # how much the result beat the forecast by (multiple minus one), not the multiple
    "increase_not_multiple": {
        "q2_forecast_multiple": (
            "forecast_yuan = float(by_id.loc['nc_forecast_total_yuan', 'value'])\n"
            "top_yuan = cumulative['gross_million'].max() * 1e6\n"
            "forecast_multiple = float((top_yuan - forecast_yuan) / forecast_yuan)"
        )
    },
    # VICE's dollar figure divided by a price in yuan
    "dollars_for_yuan": {
        "q5_admissions": (
            "price_2022 = float(national.set_index('year').loc[2022, 'avg_ticket_price_yuan'])\n"
            "vice_usd = float(by_id.loc['vice_gross_early_sep_usd', 'value'])\n"
            "vice_gross = float(by_id.loc['vice_gross_early_sep_yuan', 'value'])\n"
            "implied_admissions_million = vice_usd / price_2022 / 1e6\n"
            "vice_people = float(by_id.loc['vice_admissions_early_sep', 'value'])\n"
            "vice_implied_price = vice_gross / vice_people"
        )
    },
    # converted at the rate of the release month (July) instead of September's
    "release_month_rate": {
        "q7_usd": (
            "rate_sep_2022 = float(fx_monthly.set_index('month')\n"
            "                      .loc['2022-07', 'mean_cny_per_usd'])\n"
            "nc_yuan = float(by_id.loc['nc_gross_by_sep7_yuan', 'value'])\n"
            "usd_million_sep = nc_yuan / rate_sep_2022 / 1e6\n"
            "newschina_rate = nc_yuan / float(by_id.loc['nc_gross_by_sep7_usd', 'value'])"
        )
    },
    # the right line and labels, but a linear vertical axis
    "linear_scale": {
        "q8_log_plot": (
            "fig, ax = plt.subplots()\n"
            "ax.plot(cumulative.index, cumulative['gross_million'], 'o-')\n"
            "ax.set_xlabel('Day of the run')\n"
            "ax.set_ylabel('Cumulative gross (million yuan)')\n"
            "ax.set_title('Cumulative box office')"
        )
    },
    # a lower bound beyond the printed figure's rounding interval taken as leaving the
    # verdict open
    "timid_verdict": {
        "q10_verdict": (
            "gross_end_august_million = float(cumulative.loc[cumulative['date'] == "
            "pd.Timestamp('2022-08-31'), 'gross_million'].iloc[0])\n"
            "verdict_start_sep = 'unverifiable'"
        )
    },
    # the surge window taken from 1 September (the first day of the month) instead of 31 August
    "surge_window": {
        "q4_daily_rates": (
            "by_date = cumulative.reset_index().set_index('date')\n"
            "def rate(start, end):\n"
            "    a, b = by_date.loc[pd.Timestamp(start)], by_date.loc[pd.Timestamp(end)]\n"
            "    return float((b['gross_million'] - a['gross_million']) / (b['day'] - a['day']))\n"
            "slow_rate = rate('2022-07-21', '2022-08-19')\n"
            "surge_rate = rate('2022-09-01', '2022-09-07')\n"
            "surge_ratio = surge_rate / slow_rate"
        )
    },
}
EXPECTED_LOSS = {
    "days_from_zero": {"q1_milestones_tests"},
    "increase_not_multiple": {"q2_forecast_multiple_tests"},
    "dollars_for_yuan": {"q5_admissions_tests"},
    "release_month_rate": {"q7_usd_tests"},
    "linear_scale": {"q8_log_plot_tests"},
    "timid_verdict": {"q10_verdict_tests"},
    "surge_window": {"q4_daily_rates_tests"},
}

# Correct answers written differently: a pandas plot on a log axis (semilogy), and a
# logistic fit in yuan with another starting guess, no bounds and a day-0 anchor point.
ALTERNATIVE = {
    "q8_log_plot": (
        "ax = cumulative['gross_million'].plot(logy=True, style='s--', legend=False)\n"
        "fig = ax.figure\n"
        "ax.set_xlabel('days since release (day 1 = 8 July)')\n"
        "ax.set_ylabel('Total takings, million yuan')\n"
        "ax.set_title('The run')"
    ),
    "q9_logistic": (
        "def logistic(t, K, r, t0):\n"
        "    return K / (1 + np.exp(-r * (np.asarray(t, dtype=float) - t0)))\n"
        "t = np.r_[0.0, cumulative.index.to_numpy(dtype=float)]\n"
        "c = np.r_[0.0, cumulative['gross_million'].to_numpy() * 1e6]\n"
        "(K, r, t0), _ = curve_fit(logistic, t, c, p0=[1.5e8, 0.2, 55], maxfev=20000)\n"
        "K_fit, r_fit, t0_fit = float(K / 1e6), float(r), float(t0)"
    ),
}


# More correct answers in other idioms: groupby().max() with the columns in another
# order, np.interp, a Series indexed by date, NumPy scalars and .item().
OTHER_IDIOMS = {
    "q1_milestones": (
        "ok = milestones.query(\"figure == 'cumulative_gross' and unit == 'yuan'\")\n"
        "ok = ok[(ok['date'].str.len() == 10) & ~ok['id'].isin(EXCLUDE)]\n"
        "best = ok.assign(date=pd.to_datetime(ok['date'])).groupby('date')['value'].max()\n"
        "cumulative = pd.DataFrame({'gross_million': best.to_numpy() / 1e6, 'date': best.index},\n"
        "                          index=pd.Index((best.index - RELEASE).days + 1, name='day'))"
    ),
    "q3_days_to_reach": (
        "def days_to_reach(days, gross, threshold):\n"
        "    x = np.r_[0.0, np.asarray(days, dtype=float)]\n"
        "    y = np.r_[0.0, np.asarray(gross, dtype=float)]\n"
        "    i = int(np.argmax(y >= threshold))\n"
        "    return float(np.interp(threshold, y[i - 1:i + 1], x[i - 1:i + 1]))\n"
        "days_to_10m, days_to_50m, days_to_100m = (\n"
        "    days_to_reach(cumulative.index, cumulative['gross_million'], t)\n"
        "    for t in (10, 50, 100))"
    ),
    "q4_daily_rates": (
        "g = cumulative.set_index('date')['gross_million']\n"
        "def rate(a, b):\n"
        "    a, b = pd.Timestamp(a), pd.Timestamp(b)\n"
        "    return (g[b] - g[a]) / (b - a).days\n"
        "slow_rate = rate('2022-07-21', '2022-08-19')\n"
        "surge_rate = rate('2022-08-31', '2022-09-07')\n"
        "surge_ratio = surge_rate / slow_rate"
    ),
    "q5_admissions": (
        "price_2022 = national.loc[national['year'] == 2022, 'avg_ticket_price_yuan'].item()\n"
        "gross, people = np.float64(by_id.loc[['vice_gross_early_sep_yuan',\n"
        "                                      'vice_admissions_early_sep'], 'value'])\n"
        "implied_admissions_million = gross / price_2022 / 1e6\n"
        "vice_implied_price = gross / people"
    ),
    "q6_market_share": (
        "nat = national.set_index('year')['gross_billion_yuan']\n"
        "share_2022 = np.max(cumulative['gross_million'].to_numpy()) / (nat[2022] * 1000)"
    ),
    "q7_usd": (
        "rate_sep_2022 = fx_monthly.query(\"month == '2022-09'\")['mean_cny_per_usd'].item()\n"
        "yuan, usd = (float(by_id.loc[k, 'value'])\n"
        "             for k in ('nc_gross_by_sep7_yuan', 'nc_gross_by_sep7_usd'))\n"
        "usd_million_sep = yuan / 1e6 / rate_sep_2022\n"
        "newschina_rate = yuan / usd"
    ),
}

CORRECT = {"alternative": ALTERNATIVE, "other_idioms": OTHER_IDIOMS}

# The typed-numbers student (tests/exercise_fixtures.py): every result a literal; the
# functions are kept (they cannot be typed).
TYPED = {
    "q1_milestones": "cumulative = {{cumulative}}",
    "q2_forecast_multiple": "forecast_multiple = {{forecast_multiple}}",
    "q3_days_to_reach": (
        "def days_to_reach(days, gross, threshold):\n"
        "    x = [0.0] + [float(d) for d in days]\n"
        "    y = [0.0] + [float(g) for g in gross]\n"
        "    for i in range(1, len(x)):\n"
        "        if y[i] >= threshold:\n"
        "            return float(x[i - 1] + (threshold - y[i - 1]) / (y[i] - y[i - 1])\n"
        "                         * (x[i] - x[i - 1]))\n"
        "days_to_10m = {{days_to_10m}}\ndays_to_50m = {{days_to_50m}}\n"
        "days_to_100m = {{days_to_100m}}"
    ),
    "q4_daily_rates": (
        "slow_rate = {{slow_rate}}\nsurge_rate = {{surge_rate}}\nsurge_ratio = {{surge_ratio}}"
    ),
    "q5_admissions": (
        "price_2022 = {{price_2022}}\n"
        "implied_admissions_million = {{implied_admissions_million}}\n"
        "vice_implied_price = {{vice_implied_price}}"
    ),
    "q6_market_share": "share_2022 = {{share_2022}}",
    "q7_usd": (
        "rate_sep_2022 = {{rate_sep_2022}}\nusd_million_sep = {{usd_million_sep}}\n"
        "newschina_rate = {{newschina_rate}}"
    ),
    "q9_logistic": (
        "def logistic(t, K, r, t0):\n"
        "    return K / (1 + np.exp(-r * (np.asarray(t, dtype=float) - t0)))\n"
        "K_fit, r_fit, t0_fit = {{K_fit}}, {{r_fit}}, {{t0_fit}}"
    ),
    "q10_verdict": (
        "gross_end_august_million = {{gross_end_august_million}}\n"
        "verdict_start_sep = {{verdict_start_sep}}"
    ),
}

Contract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)


class TestContract(Contract):
    def test_messages_say_what_is_expected(self, course):
        """A wrong surge window is named as such; the verdict's message does not give the
        verdict away; an unanswered question names the variable to define."""
        msg = error_message(course, "surge_window", ASSIGNMENT, "q4_daily_rates_tests")
        assert "31 August to 7 September 2022" in msg, msg
        msg = error_message(course, "timid_verdict", ASSIGNMENT, "q10_verdict_tests")
        assert msg and not any(f"'{w}'" in msg or f'"{w}"' in msg for w in
                               ("consistent", "rounding", "wrong", "unverifiable")), msg
        assert_unanswered_questions_name_their_variable(course, ASSIGNMENT, AUTOGRADED)

    def test_verdict_text_is_the_shared_vocabulary(self):
        assert_holds_verdicts(ASSIGNMENT)


TestRobustness = robustness_run(ASSIGNMENT, AUTOGRADED, CORRECT, TYPED)
