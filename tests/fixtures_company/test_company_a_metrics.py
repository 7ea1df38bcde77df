"""Company A's NPS, CSAT and CES equal the values worked out by hand from its three exports.

The responses, as exported (local time -> UTC with the zone of row 3; "N/A" = answer code 6
on the onboarding CSAT question, `not_applicable: {csat: [6]}`):

Relational NPS survey (SV_3kRelationalNps, Asia/Dubai = UTC+4; NPS QID1, CSAT QID2):
  R_5ePrEv1ewXkLm5e  Status 1 (preview)          NPS 0  CSAT 1   -> never counts
  R_7fTe5tQaZ0wSd6f  Status 2 (test)             NPS 0  CSAT 1   -> never counts
  R_2xQmA8vLk3NcP1a  Anna     05-01 06:00 UTC    NPS 10 CSAT 5
  R_3bTyW9uQe4RsD2b  Layla    05-01 07:30 UTC    NPS 6  CSAT 2
  R_0cVxE1iPf5TgH3c  Dariush  05-01 08:00 UTC    NPS 9  CSAT N/A
  R_6hPa2tIaL9mQw8h  Finished 0, Progress 50     NPS 3           -> no include_partial: out
  R_1gSp4mBoT8nVx7g  Status 8 (spam)             NPS 0  CSAT 1   -> never counts
  R_9dUzR2oAg6YhJ4d  Omar N.  05-02 02:30 Dubai = 05-01 22:30 UTC   NPS 7  CSAT 4
  R_4iPa2tIaL0nRe9i  Finished 0, Progress 7      no answers      -> out
  R_8jAn0nYm7uSk1Tj  anon     05-02 05:00 UTC    NPS 10 CSAT N/A
  R_2kSaRaRa7Him2Uk  Sara     05-02 10:20 UTC    NPS 4  CSAT 3
  R_3cOfFl1neKioSk1  Status 16 (offline app) 05-02 12:45 UTC  NPS 8  CSAT 4  -> counts
  R_5dOfFPrEv1eWk2x  Status 17 (offline preview) NPS 0  CSAT 1   -> never counts
In-app survey (SV_8bInAppFeedback, UTC, include_partial; NPS QID1, CES QID4):
  R_6uPrEv1ewApp8hX  Status 1 (preview)          NPS 0  CES 1    -> never counts
  R_3mJwEb3rInApp1X  Jonas    05-03 08:15        NPS 8  CES 6
  R_5nSrRhm1nApp2bX  Sara     05-03 11:02        NPS 3  CES 2
  R_1pLnVgl0nApp3cX  Lena     05-03 13:30        NPS 10 CES 7
  R_7qOmNs5rPart4dX  Finished 0, recorded 05-10 17:45   NPS 5  CES -  -> counts (scored)
  R_2rLyHd0dPart5eX  Finished 0, Progress 0      no answers      -> out (no score)
  R_9sAn0nInApp6ffX  anon     05-04 09:00        NPS 7  CES 5
  R_4tInf0NoorApp7X  info@    05-04 12:00        NPS 2  CES 4
Ticket CSAT survey (SV_5tTicketCsat, Europe/Berlin = UTC+2 in May; CSAT QID1, CES QID2):
  R_1vOmAr5001Tk1aX  ticket 5001  05-02 10:05 UTC  CSAT 5 CES 7
  R_5xPat5003Tk3ccX  ticket 5003  05-02 16:00 UTC  CSAT 4 CES 5
  R_3wDar5002Tk2bbX  ticket 5002  05-03 12:30 UTC  CSAT 1 CES 2
  R_4bTst5002Tk7ggX  Status 2 (test)               CSAT 5 CES 7  -> never counts
  R_7yAnn5004Tk4ddX  ticket 5004  05-04 01:30 Berlin = 05-03 23:30 UTC  CSAT 2 CES 3
  R_9zUnk9999Tk5eeX  ticket 9999  05-04 13:00 UTC  CSAT 3 CES 4
  R_2aPrt5001Tk6ffX  Finished 0, no answers        -> out
"""

from __future__ import annotations

from datetime import date

import pytest
from company_a_build import BuiltCompany

COUNTED = {
    "SV_3kRelationalNps": {
        "R_2xQmA8vLk3NcP1a",
        "R_3bTyW9uQe4RsD2b",
        "R_0cVxE1iPf5TgH3c",
        "R_9dUzR2oAg6YhJ4d",
        "R_8jAn0nYm7uSk1Tj",
        "R_2kSaRaRa7Him2Uk",
        "R_3cOfFl1neKioSk1",
    },
    "SV_8bInAppFeedback": {
        "R_3mJwEb3rInApp1X",
        "R_5nSrRhm1nApp2bX",
        "R_1pLnVgl0nApp3cX",
        "R_7qOmNs5rPart4dX",
        "R_9sAn0nInApp6ffX",
        "R_4tInf0NoorApp7X",
    },
    "SV_5tTicketCsat": {
        "R_1vOmAr5001Tk1aX",
        "R_5xPat5003Tk3ccX",
        "R_3wDar5002Tk2bbX",
        "R_7yAnn5004Tk4ddX",
        "R_9zUnk9999Tk5eeX",
    },
}
NOT_COUNTED = {
    "R_5ePrEv1ewXkLm5e": "preview",
    "R_7fTe5tQaZ0wSd6f": "test",
    "R_1gSp4mBoT8nVx7g": "spam",
    "R_5dOfFPrEv1eWk2x": "offline preview",
    "R_6hPa2tIaL9mQw8h": "unfinished with a score, survey without include_partial",
    "R_4iPa2tIaL0nRe9i": "unfinished without a score",
    "R_6uPrEv1ewApp8hX": "preview",
    "R_2rLyHd0dPart5eX": "unfinished without a score (include_partial survey)",
    "R_4bTst5002Tk7ggX": "test",
    "R_2aPrt5001Tk6ffX": "unfinished without a score",
}

# Per survey, all days (counts from above):
#   relational NPS: 10 P, 6 D, 9 P, 7 Pa, 10 P, 4 D, 8 Pa -> n 7, P 3, Pa 2, D 2
#       NPS = 100 * (3 - 2) / 7 = 14.2857 -> 14.29
#   relational CSAT: 5, 2, 4, 3, 4 (two N/A left out) -> n 5, satisfied (4-5) 3 -> 60.0
#   in-app NPS: 8 Pa, 3 D, 10 P, 5 D (partial), 7 Pa, 2 D -> n 6, P 1, Pa 2, D 3
#       NPS = 100 * (1 - 3) / 6 = -33.33
#   in-app CES: 6, 2, 7, 5, 4 (the partial has none) -> n 5, sum 24, mean 4.8, easy (5-7) 3 -> 60.0
#   ticket CSAT: 5, 4, 1, 2, 3 -> n 5, satisfied 2 -> 40.0
#   ticket CES: 7, 5, 2, 3, 4 -> n 5, sum 21, mean 4.2, easy 2 -> 40.0
PER_SURVEY = {
    # survey_kind: nps (n, P, Pa, D, nps), csat (n, satisfied, csat), ces (n, sum, easy, % easy)
    "relational": {"nps": (7, 3, 2, 2, 14.29), "csat": (5, 3, 60.0), "ces": None},
    "in_the_moment": {"nps": (6, 1, 2, 3, -33.33), "csat": None, "ces": (5, 24, 3, 60.0)},
    "transactional": {"nps": None, "csat": (5, 2, 40.0), "ces": (5, 21, 2, 40.0)},
}
# Overall (every survey, every day):
#   NPS: n 7 + 6 = 13, P 3 + 1 = 4, Pa 2 + 2 = 4, D 2 + 3 = 5 -> 100 * (4 - 5) / 13 = -7.69
#   CSAT: n 5 + 5 = 10, satisfied 3 + 2 = 5 -> 50.0
#   CES: n 5 + 5 = 10, sum 24 + 21 = 45 -> mean 4.5; easy 3 + 2 = 5 -> 50.0


def test_only_the_responses_that_count_reach_the_facts(company_a: BuiltCompany) -> None:
    got: dict[str, set[str]] = {}
    for survey_id, response_id in company_a.rows(
        "select survey_id, response_id from marts.fct_survey_responses"
    ):
        got.setdefault(survey_id, set()).add(response_id)
    assert got == COUNTED
    staged = dict(
        company_a.rows("select response_id, is_counted from staging.stg_qualtrics__responses")
    )
    assert {r for r, counted in staged.items() if not counted} == set(NOT_COUNTED)


def test_not_applicable_answers_leave_the_metric_not_the_warehouse(
    company_a: BuiltCompany,
) -> None:
    # Dariush and the anonymous promoter answered 6 = "Not applicable" on the 1-5 CSAT question:
    # no CSAT, not quarantined, their NPS still counts, the answer stays in raw.answers.
    rows = company_a.rows(
        "select response_id, csat_score, nps_score from marts.fct_survey_responses "
        "where response_id in ('R_0cVxE1iPf5TgH3c', 'R_8jAn0nYm7uSk1Tj') order by response_id"
    )
    assert rows == [("R_0cVxE1iPf5TgH3c", None, 9), ("R_8jAn0nYm7uSk1Tj", None, 10)]
    raw = company_a.rows(
        "select json_extract_string(answers, '$.QID2'), not_applicable "
        "from raw.qualtrics__responses where \"ResponseId\" = 'R_0cVxE1iPf5TgH3c'"
    )
    assert raw == [("6", "csat")]
    assert company_a.rows("select count(*) from ops.quarantine") == [(0,)]


def test_recorded_dates_are_converted_from_the_export_time_zone(company_a: BuiltCompany) -> None:
    # 2024-05-02 02:30:15 in Asia/Dubai (+04:00) and 2024-05-04 01:30:00 in Europe/Berlin
    # (+02:00, summer time) are both the evening before in UTC.
    got = dict(
        company_a.rows(
            "select response_id, responded_date from marts.fct_survey_responses "
            "where response_id in ('R_9dUzR2oAg6YhJ4d', 'R_7yAnn5004Tk4ddX')"
        )
    )
    assert got == {"R_9dUzR2oAg6YhJ4d": date(2024, 5, 1), "R_7yAnn5004Tk4ddX": date(2024, 5, 3)}


# mart_nps, segment all, per UTC day (responses, promoters, passives, detractors, nps):
#   05-01: R 10 P, 6 D, 9 P, 7 Pa (22:30 UTC)          -> 4, 2, 1, 1, 100 * 1 / 4 = 25.0
#          margin: 1.96 * 100 * sqrt((2/4 + 1/4 - (1/4)^2) / 4) = 196 * sqrt(0.171875) = 81.26
#   05-02: R 10 P, 4 D, 8 Pa                           -> 3, 1, 1, 1, 0.0
#   05-03: I 8 Pa, 3 D, 10 P                           -> 3, 1, 1, 1, 0.0
#   05-04: I 7 Pa, 2 D                                 -> 2, 0, 1, 1, -50.0
#   05-10: I 5 D (the partial, recorded a week later)  -> 1, 0, 0, 1, -100.0
NPS_BY_DAY = {
    date(2024, 5, 1): (4, 2, 1, 1, 25.0),
    date(2024, 5, 2): (3, 1, 1, 1, 0.0),
    date(2024, 5, 3): (3, 1, 1, 1, 0.0),
    date(2024, 5, 4): (2, 0, 1, 1, -50.0),
    date(2024, 5, 10): (1, 0, 0, 1, -100.0),
}
# mart_csat, segment all (responses, satisfied, csat):
#   05-01: R 5, 2, 4 (Dariush N/A)                     -> 3, 2, 66.67
#   05-02: R 3, 4 (anon N/A); T 5 (10:05), 4 (16:00)   -> 4, 3, 75.0
#   05-03: T 1, 2 (23:30 UTC)                          -> 2, 0, 0.0
#   05-04: T 3                                         -> 1, 0, 0.0
#   05-10: (only the in-app partial: no CSAT)          -> 0, 0, NULL
CSAT_BY_DAY = {
    date(2024, 5, 1): (3, 2, 66.67),
    date(2024, 5, 2): (4, 3, 75.0),
    date(2024, 5, 3): (2, 0, 0.0),
    date(2024, 5, 4): (1, 0, 0.0),
    date(2024, 5, 10): (0, 0, None),
}
# mart_ces, segment all (responses, ces_mean, easy, ces_easy_pct):
#   05-01: (relational only: no CES)                   -> 0, NULL, 0, NULL
#   05-02: T 7, 5                                      -> 2, 6.0, 2, 100.0
#   05-03: I 6, 2, 7; T 2, 3                           -> 5, 20 / 5 = 4.0, 2, 40.0
#   05-04: I 5, 4; T 4                                 -> 3, 13 / 3 = 4.33, 1, 33.33
#   05-10: (the partial answered no CES)               -> 0, NULL, 0, NULL
CES_BY_DAY = {
    date(2024, 5, 1): (0, None, 0, None),
    date(2024, 5, 2): (2, 6.0, 2, 100.0),
    date(2024, 5, 3): (5, 4.0, 2, 40.0),
    date(2024, 5, 4): (3, 4.33, 1, 33.33),
    date(2024, 5, 10): (0, None, 0, None),
}


def by_day(company_a: BuiltCompany, sql: str) -> dict[date, tuple]:
    return {row[0]: tuple(row[1:]) for row in company_a.rows(sql)}


def test_daily_nps_csat_ces_rows(company_a: BuiltCompany) -> None:
    where = "where segment_type = 'all'"
    assert (
        by_day(
            company_a,
            f"select date_day, responses, promoters, passives, detractors, nps "
            f"from marts.mart_nps {where}",
        )
        == NPS_BY_DAY
    )
    assert company_a.rows(
        f"select nps_margin_of_error, is_small_sample from marts.mart_nps {where} "
        "and date_day = '2024-05-01'"
    ) == [(81.26, True)]
    assert (
        by_day(
            company_a, f"select date_day, responses, satisfied, csat from marts.mart_csat {where}"
        )
        == CSAT_BY_DAY
    )
    assert (
        by_day(
            company_a,
            f"select date_day, responses, ces_mean, easy, ces_easy_pct from marts.mart_ces {where}",
        )
        == CES_BY_DAY
    )


def nps(promoters: int, detractors: int, responses: int) -> float:
    return round(100 * (promoters - detractors) / responses, 2)


@pytest.mark.parametrize("kind", sorted(PER_SURVEY))
def test_per_survey_totals(company_a: BuiltCompany, kind: str) -> None:
    """Each survey is the only one of its kind here, so the survey_kind segment is the survey;
    its counts summed over days give the survey's metrics (docs/metrics.md: re-aggregating)."""
    expected = PER_SURVEY[kind]
    segment = f"where segment_type = 'survey_kind' and segment_value = '{kind}'"
    [(n, p, pa, d)] = company_a.rows(
        f"select sum(responses), sum(promoters), sum(passives), sum(detractors) "
        f"from marts.mart_nps {segment}"
    )
    if expected["nps"] is None:
        assert n == 0
    else:
        assert (n, p, pa, d, nps(p, d, n)) == expected["nps"]
    [(n, satisfied)] = company_a.rows(
        f"select sum(responses), sum(satisfied) from marts.mart_csat {segment}"
    )
    if expected["csat"] is None:
        assert n == 0
    else:
        assert (n, satisfied, round(100 * satisfied / n, 2)) == expected["csat"]
    [(n, easy)] = company_a.rows(f"select sum(responses), sum(easy) from marts.mart_ces {segment}")
    [(scored, total)] = company_a.rows(
        "select count(ces_score), sum(ces_score) from marts.fct_survey_responses "
        "where survey_kind = ?",
        kind,
    )
    if expected["ces"] is None:
        assert n == scored == 0
    else:
        assert (n, total, easy, round(100 * easy / n, 2)) == expected["ces"]
        assert scored == n


def test_overall_totals(company_a: BuiltCompany) -> None:
    [(n, p, pa, d)] = company_a.rows(
        "select sum(responses), sum(promoters), sum(passives), sum(detractors) "
        "from marts.mart_nps where segment_type = 'all'"
    )
    assert (n, p, pa, d, nps(p, d, n)) == (13, 4, 4, 5, -7.69)
    [(n, satisfied)] = company_a.rows(
        "select sum(responses), sum(satisfied) from marts.mart_csat where segment_type = 'all'"
    )
    assert (n, satisfied, 100 * satisfied / n) == (10, 5, 50.0)
    [(n, easy)] = company_a.rows(
        "select sum(responses), sum(easy) from marts.mart_ces where segment_type = 'all'"
    )
    [(mean,)] = company_a.rows("select avg(ces_score) from marts.fct_survey_responses")
    assert (n, easy, 100 * easy / n, mean) == (10, 5, 50.0, 4.5)


def test_customer_360_carries_each_respondents_answers(company_a: BuiltCompany) -> None:
    # Sara: relational NPS 4 (05-02), then in-app NPS 3 (05-03) -> last 3, previous 4, change -1;
    #   CSAT only from the relational survey: 3.
    # Anna: relational CSAT 5 and ticket CSAT 2 (through ticket 5004's requester) -> 3.5.
    got = {
        row[0]: row[1:]
        for row in company_a.rows(
            "select salesforce_contact_id, survey_responses, last_nps_score, "
            "previous_nps_score, nps_change, csat_average, csat_responses "
            "from marts.dim_customers "
            "where salesforce_contact_id in ('0038d00000SaraRAAR', '0038d00000AnnaSAAR')"
        )
    }
    assert got == {
        "0038d00000SaraRAAR": (2, 3, 4, -1, 3.0, 1),
        "0038d00000AnnaSAAR": (2, 10, None, None, 3.5, 2),
    }


def test_zendesk_ratings_stay_apart_from_survey_csat(company_a: BuiltCompany) -> None:
    # Zendesk's good/bad ratings: 5001 good, 5002 bad (both opened 05-01); 5003 offered and
    # 5004 unoffered are not ratings -> 05-01: rated 2, good 1, ticket_csat 50.0. Survey CSAT
    # above does not include them (docs/metrics.md, CSAT caveats).
    scores = dict(company_a.rows("select ticket_id, satisfaction_score from marts.fct_tickets"))
    assert scores == {5001: "good", 5002: "bad", 5003: None, 5004: None}
    assert company_a.rows(
        "select date_day, rated_tickets, good_rated_tickets, ticket_csat "
        "from marts.mart_ticket_kpis where segment_type = 'all' and rated_tickets > 0"
    ) == [(date(2024, 5, 1), 2, 1, 50.0)]
