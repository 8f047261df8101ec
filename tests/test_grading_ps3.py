"""Problem set 3 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently computed but correct count),
the blank student version scores zero, and typical wrong answers lose exactly the
points of the answer they get wrong: later answers are judged on the student's own
earlier results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract

ASSIGNMENT = "ps3-film-realism"
AUTOGRADED = {
    "q1_filmography_tests": 1,
    "q2_gaps_tests": 1,
    "q3_ages_tests": 1,
    "q4_day_counts_tests": 1,
    "q5_shoot_months_tests": 2,
    "q6_stance_counts_tests": 2,
    "q7_criticism_share_tests": 1,
    "q8_reception_tests": 2,
    "q9_timeline_plot_tests": 2,
    "q10_printed_ages_tests": 1,
}

WRONG = {
    # both end days counted, as if counting days of a run (8 to 10 July = 3 days)
    "inclusive_day_count": {
        "q4_day_counts": (
            "def day(figure_id):\n"
            '    return pd.Timestamp(by_id.loc[figure_id, "value"])\n'
            'days_premiere_to_release = (day("nc_china_release_date")'
            ' - day("nc_berlin_premiere_date")).days + 1\n'
            'days_vlog_to_100m = (day("nc_gross_by_sep7_date") - day("nc_vlog_post_date")).days + 1'
        )
    },
    # phases counted instead of months: a three-month season counts once
    "phases_not_months": {
        "q5_shoot_months": (
            "rows = []\n"
            "for phase in calendar.itertuples():\n"
            '    for month in pd.period_range(phase.start, phase.end, freq="M"):\n'
            '        rows.append({"month": month, "season": phase.season})\n'
            "shoot_months = pd.DataFrame(rows)\n"
            'months_by_season = calendar["season"].value_counts()'
        )
    },
    # a plain groupby count: the empty combination (VICE, praise) disappears
    "zeros_dropped": {
        "q6_stance_counts": (
            'stance_counts = voices.groupby(["article", "stance"]).size().rename("n").reset_index()'
        )
    },
    # context voices left out of the base: a share of the voices that take a side
    "share_without_context": {
        "q7_criticism_share": (
            'sided = voices[voices["stance"] != "context"]\n'
            'is_crit = sided["stance"] == "criticism"\n'
            "share_criticism = float(is_crit.mean())\n"
            'criticism_by_article = is_crit.groupby(sided["article"]).mean()'
        )
    },
    # the box-office line without the event markers
    "no_markers": {
        "q9_timeline_plot": (
            "fig, ax = plt.subplots()\n"
            'ax.plot(cumulative["date"], cumulative["million_yuan"])\n'
            'ax.set_xlabel("date")\n'
            'ax.set_ylabel("million yuan")\n'
            'ax.set_title("Box office")'
        )
    },
}
EXPECTED_LOSS = {
    "inclusive_day_count": {"q4_day_counts_tests"},
    "phases_not_months": {"q5_shoot_months_tests"},
    "zeros_dropped": {"q6_stance_counts_tests"},
    "share_without_context": {"q7_criticism_share_tests"},
    "no_markers": {"q9_timeline_plot_tests"},
}

# Correct answers written differently: categorical columns that keep the empty
# combinations in a groupby, and gaps read from the sorted years with NumPy.
ALTERNATIVE = {
    "q6_stance_counts": (
        "v = voices.astype({\n"
        '    "article": pd.CategoricalDtype(["newschina", "vice"]),\n'
        '    "stance": pd.CategoricalDtype(["praise", "criticism", "context"]),\n'
        "})\n"
        'stance_counts = (v.groupby(["article", "stance"], observed=False).size()\n'
        '                 .reset_index(name="n"))'
    ),
    "q2_gaps": (
        "import numpy as np\n"
        'gaps = pd.Series(np.diff(films["year"].to_numpy()), index=films["title_en"].iloc[1:])\n'
        "longest_gap_film = str(gaps.idxmax())"
    ),
}


CORRECT = {"alternative": ALTERNATIVE}


TestContract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)
