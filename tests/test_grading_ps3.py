"""Problem set 3 grades as it should, through a real nbgrader autograde run.

The solution scores full marks (also with a differently computed but correct count),
the blank student version scores zero, and typical wrong answers lose exactly the
points of the answer they get wrong: later answers are judged on the student's own
earlier results, so one mistake is not counted twice.
"""

from __future__ import annotations

from conftest import exercise_contract
from exercise_fixtures import (
    assert_unanswered_questions_name_their_variable,
    error_message,
    robustness_run,
)

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
    # the festival column filled with another column's data (the section)
    "festival_wrong_data": {
        "q1_filmography": (
            'films = (filmography[["year", "title_en", "title_zh", "section"]]\n'
            '         .rename(columns={"section": "festival"})\n'
            '         .astype({"year": int}).sort_values("year").reset_index(drop=True))'
        )
    },
    # the quantity column filled with another column's data (the section)
    "quantity_wrong_data": {
        "q8_reception": (
            'reception = by_id.loc[RECEPTION_IDS, ["section", "value"]].reset_index()\n'
            'reception = reception.rename(columns={"section": "quantity"})\n'
            'reception["date"] = pd.to_datetime(reception["value"])\n'
            'release_day = pd.Timestamp(by_id.loc["nc_china_release_date", "value"])\n'
            'reception["days_from_release"] = (reception["date"] - release_day).dt.days\n'
            'reception = reception.drop(columns="value").sort_values("date").reset_index(drop=True)'
        )
    },
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
    "festival_wrong_data": {"q1_filmography_tests"},
    "quantity_wrong_data": {"q8_reception_tests"},
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


# More correct answers in other idioms: another column order, explode() instead of a
# loop, a loop of dicts instead of vectorised columns, map() instead of a merge, NumPy
# integers where an int is asked for, value_counts(normalize=True).
OTHER_IDIOMS = {
    "q1_filmography": (
        'films = filmography.sort_values("year", ignore_index=True)'
        '[["title_en", "festival", "year", "title_zh"]]'
    ),
    "q3_ages": (
        "import numpy as np\n"
        'birth_year = np.int64(by_id.loc["nc_director_birth_year", "value"])\n'
        'ages = pd.Series([y - birth_year for y in films["year"]], index=films["title_en"])'
    ),
    "q4_day_counts": (
        "import numpy as np\n"
        "d = lambda k: np.datetime64(by_id.loc[k, 'value'])\n"
        "days_premiere_to_release = (d('nc_china_release_date')"
        " - d('nc_berlin_premiere_date')).astype(int)\n"
        "days_vlog_to_100m = (d('nc_gross_by_sep7_date') - d('nc_vlog_post_date')).astype(int)"
    ),
    "q5_shoot_months": (
        "c = calendar.assign(month=[list(pd.period_range(s, e, freq='M'))\n"
        "                           for s, e in zip(calendar['start'], calendar['end'])])\n"
        "shoot_months = c.explode('month')[['season', 'month']].reset_index(drop=True)\n"
        "months_by_season = shoot_months.groupby('season').size()"
    ),
    "q7_criticism_share": (
        "share_criticism = voices['stance'].value_counts(normalize=True).get('criticism', 0.0)\n"
        "criticism_by_article = voices.groupby('article')['stance'].apply(\n"
        "    lambda s: (s == 'criticism').mean())"
    ),
    "q8_reception": (
        "rows = []\n"
        "release = pd.Timestamp(by_id.loc['nc_china_release_date', 'value'])\n"
        "for i in RECEPTION_IDS:\n"
        "    d = pd.Timestamp(by_id.loc[i, 'value'])\n"
        "    rows.append({'days_from_release': (d - release).days, 'date': d,\n"
        "                 'quantity': by_id.loc[i, 'quantity'], 'id': i})\n"
        "reception = pd.DataFrame(rows).sort_values('date').reset_index(drop=True)"
    ),
    "q10_printed_ages": (
        "p = people.dropna(subset=['age_figure_id'])\n"
        "ages = p['age_figure_id'].map(by_id['value']).astype(float).to_numpy()\n"
        "printed_ages = pd.Series(ages, index=p['name'])"
    ),
}

CORRECT = {"alternative": ALTERNATIVE, "other_idioms": OTHER_IDIOMS}

# The typed-numbers student (tests/exercise_fixtures.py): every result a literal, the
# timeline drawn from typed dates and totals.
TYPED = {
    "q1_filmography": "films = {{films}}",
    "q2_gaps": "gaps = {{gaps}}\nlongest_gap_film = {{longest_gap_film}}",
    "q3_ages": "birth_year = {{birth_year}}\nages = {{ages}}",
    "q4_day_counts": (
        "days_premiere_to_release = {{days_premiere_to_release}}\n"
        "days_vlog_to_100m = {{days_vlog_to_100m}}"
    ),
    "q5_shoot_months": "shoot_months = {{shoot_months}}\nmonths_by_season = {{months_by_season}}",
    "q6_stance_counts": "stance_counts = {{stance_counts}}",
    "q7_criticism_share": (
        "share_criticism = {{share_criticism}}\ncriticism_by_article = {{criticism_by_article}}"
    ),
    "q8_reception": "reception = {{reception}}",
    "q9_timeline_plot": (
        "fig, ax = plt.subplots()\n"
        'ax.plot({{list(cumulative["date"])}}, {{cumulative["million_yuan"].tolist()}})\n'
        'for d in {{list(reception["date"])}}:\n'
        "    ax.axvline(d)\n"
        'ax.set_xlabel("Date")\n'
        'ax.set_ylabel("Cumulative box office (million yuan)")\n'
        'ax.set_title("Box office and events")'
    ),
    "q10_printed_ages": "printed_ages = {{printed_ages}}",
}

Contract = exercise_contract(ASSIGNMENT, AUTOGRADED, WRONG, EXPECTED_LOSS, CORRECT)


class TestContract(Contract):
    def test_messages_say_what_is_expected(self, course):
        """Wrong data in a column is named; an unanswered question names the variable."""
        msg = error_message(course, "festival_wrong_data", ASSIGNMENT, "q1_filmography_tests")
        assert "festival" in msg, msg
        msg = error_message(course, "quantity_wrong_data", ASSIGNMENT, "q8_reception_tests")
        assert "quantity" in msg, msg
        assert_unanswered_questions_name_their_variable(course, ASSIGNMENT, AUTOGRADED)


TestRobustness = robustness_run(ASSIGNMENT, AUTOGRADED, CORRECT, TYPED)
