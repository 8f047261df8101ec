"""Problem set 4 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently drawn log plot and a
differently set up logistic fit), the blank student version scores zero, and typical
wrong answers lose exactly the points of the answer they get wrong: later answers are
judged on the student's own earlier results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract

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
    # a lower bound above the article's figure taken as "cannot tell"
    "timid_verdict": {
        "q10_verdict": (
            "gross_end_august_million = float(cumulative.loc[cumulative['date'] == "
            "pd.Timestamp('2022-08-31'), 'gross_million'].iloc[0])\n"
            "verdict_start_sep = 'cannot tell'"
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


CORRECT = {"alternative": ALTERNATIVE}


TestContract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)
