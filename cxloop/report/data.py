"""What the CX report shows, read from the warehouse: one function per section, each returning
plain data frames (empty when its tables are missing or hold nothing: "no data yet").

Monthly survey numbers are re-aggregated from the daily marts' counts (docs/metrics.md:
sum the counts, apply the formula again); month-over-month significance uses the marts' tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from cxloop.privacy import redact
from cxloop.warehouse import fetch_frame, table_exists

Z_95 = 1.96
JOURNEY_DAYS = 30
EXAMPLE_COMMENTS = 8
AT_RISK_ACCOUNTS = 15


@dataclass
class ReportData:
    """Every section's frames; an empty frame means the section has no data yet."""

    as_of: str | None = None
    trends: pd.DataFrame = field(default_factory=pd.DataFrame)
    significant: pd.DataFrame = field(default_factory=pd.DataFrame)
    journey: pd.DataFrame = field(default_factory=pd.DataFrame)
    topics: pd.DataFrame = field(default_factory=pd.DataFrame)
    topic_source: str = ""
    sentiment: pd.DataFrame = field(default_factory=pd.DataFrame)
    comments: pd.DataFrame = field(default_factory=pd.DataFrame)
    loop: pd.DataFrame = field(default_factory=pd.DataFrame)
    at_risk: pd.DataFrame = field(default_factory=pd.DataFrame)
    clv_by_csm: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: list[str] = field(default_factory=list)


class UnreadableTableError(Exception):
    """A section's table exists but lacks what the report reads (built by an older version)."""


def query(con: duckdb.DuckDBPyConnection, tables: list[str], sql: str, params=None) -> pd.DataFrame:
    """The query's frame, or an empty one when any of `tables` (schema.table) is missing."""
    if not all(table_exists(con, *name.split(".")) for name in tables):
        return pd.DataFrame()
    try:
        return fetch_frame(con, sql, params or None)
    except duckdb.Error as exc:  # a table from before a column existed: rebuild the marts
        raise UnreadableTableError(f"{', '.join(tables)}: {str(exc).splitlines()[0]}") from exc


MONTHLY_SQL = {
    "nps": """
        select segment_type, segment_value, cast(date_trunc('month', date_day) as date) as month,
               sum(responses) as n, sum(promoters) as promoters, sum(detractors) as detractors
        from marts.mart_nps where responses > 0 group by all""",
    "csat": """
        select segment_type, segment_value, cast(date_trunc('month', date_day) as date) as month,
               sum(responses) as n, sum(satisfied) as satisfied
        from marts.mart_csat where responses > 0 group by all""",
    # per day: sum x = n * mean; sum x^2 = (n - 1) s^2 + n mean^2, s from the margin of error
    "ces": """
        select segment_type, segment_value, cast(date_trunc('month', date_day) as date) as month,
               sum(responses) as n, sum(responses * ces_mean) as sum_x,
               sum((responses - 1) * power(coalesce(ces_margin_of_error, 0)
                   * sqrt(responses) / 1.96, 2) + responses * ces_mean * ces_mean) as sum_x2
        from marts.mart_ces where responses > 0 and ces_mean is not null group by all""",
}


def monthly_metric(con: duckdb.DuckDBPyConnection, metric: str) -> pd.DataFrame:
    """Per segment and month: n, the value, its standard error and 95% margin of error."""
    frame = query(con, [f"marts.mart_{metric}"], MONTHLY_SQL[metric])
    if frame.empty:
        return frame
    n = frame["n"].astype(float)
    if metric == "nps":
        pro, det = frame["promoters"] / n, frame["detractors"] / n
        frame["value"] = 100 * (pro - det)
        frame["se"] = 100 * np.sqrt((pro + det - (pro - det) ** 2) / n)
    elif metric == "csat":
        p = frame["satisfied"] / n
        frame["value"] = 100 * p
        frame["se"] = 100 * np.sqrt(p * (1 - p) / n)
    else:
        mean = frame["sum_x"] / n
        var = (frame["sum_x2"] - n * mean**2) / (n - 1)
        frame["value"] = mean
        frame["se"] = np.sqrt(var.clip(lower=0) / n).where(n > 1)
    frame["margin"] = Z_95 * frame["se"]
    frame["metric"] = metric
    return frame.sort_values(["segment_type", "segment_value", "month"]).reset_index(drop=True)


def change_z(metric: str, last: pd.Series, prev: pd.Series) -> float | None:
    """The marts' tests on months: NPS variance z, CSAT pooled two-proportion z, CES Welch z."""
    if metric == "csat":
        pooled = (last["satisfied"] + prev["satisfied"]) / (last["n"] + prev["n"])
        se = np.sqrt(pooled * (1 - pooled) * (1 / last["n"] + 1 / prev["n"])) * 100
    else:
        se = np.sqrt(last["se"] ** 2 + prev["se"] ** 2)
    if not np.isfinite(se) or se == 0:
        return None
    return float((last["value"] - prev["value"]) / se)


def significant_changes(monthly: pd.DataFrame) -> pd.DataFrame:
    """Segments whose latest month differs from the month before it at |z| >= 1.96."""
    rows = []
    for (metric, seg_type, seg_value), group in monthly.groupby(
        ["metric", "segment_type", "segment_value"]
    ):
        if len(group) < 2:
            continue
        prev, last = group.iloc[-2], group.iloc[-1]
        if (last["month"] - prev["month"]).days > 31:  # not consecutive months
            continue
        z = change_z(str(metric), last, prev)
        if z is not None and abs(z) >= Z_95:
            rows.append(
                {
                    "metric": metric,
                    "segment_type": seg_type,
                    "segment_value": seg_value,
                    "month": pd.Timestamp(last["month"]).strftime("%Y-%m"),
                    "previous": prev["value"],
                    "value": last["value"],
                    "change": last["value"] - prev["value"],
                    "z": z,
                    "n": int(last["n"]),
                    "previous_n": int(prev["n"]),
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values("z", key=abs, ascending=False).reset_index(drop=True)


def survey_trends(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly NPS, CSAT and CES for everyone, and the significant segment changes."""
    monthly = [m for m in (monthly_metric(con, k) for k in MONTHLY_SQL) if not m.empty]
    if not monthly:
        return pd.DataFrame(), pd.DataFrame()
    every = pd.concat(monthly, ignore_index=True)
    trends = every[every["segment_type"] == "all"].reset_index(drop=True)
    segments = every[every["segment_type"] != "all"]
    return trends, significant_changes(segments)


JOURNEY_SQL = f"""
    with answers as (
        select response_id, customer_id, responded_at, nps_category
        from marts.fct_survey_responses
        where customer_id is not null and nps_category in ('detractor', 'promoter')
    ),
    before as (
        select distinct answers.response_id, answers.nps_category, touches.touchpoint_type
        from answers
        join marts.fct_touchpoints as touches
            on touches.customer_id = answers.customer_id
            and touches.touched_at < answers.responded_at
            and touches.touched_at >= answers.responded_at - interval {JOURNEY_DAYS} day
            and touches.touchpoint_type <> 'survey_response'
    ),
    totals as (select nps_category, count(*) as answers from answers group by all)
    select before.touchpoint_type, before.nps_category, totals.answers,
           count(*) as with_touchpoint, 100.0 * count(*) / totals.answers as share_pct
    from before join totals using (nps_category)
    group by before.touchpoint_type, before.nps_category, totals.answers
    order by touchpoint_type, nps_category
"""


def journey(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Share of detractors and of promoters with each touchpoint type in the 30 days before."""
    return query(con, ["marts.fct_survey_responses", "marts.fct_touchpoints"], JOURNEY_SQL)


def topics(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, str]:
    """Topic drivers (mart_drivers) when there, else the keyword topics of the last 12 months."""
    drivers = query(
        con,
        ["marts.mart_drivers"],
        "select driver as topic, n_mentions as mentions, detractor_share, promoter_share, "
        "nps_impact, nps_impact_ci_low, nps_impact_ci_high from marts.mart_drivers "
        "where driver_kind = 'topic' and n_mentions > 0 order by nps_impact nulls last limit 12",
    )
    if not drivers.empty:
        return drivers, "mart_drivers"
    keywords = query(
        con,
        ["marts.mart_topics"],
        "select topic, sum(mentions) as mentions, sum(detractors) as detractors, "
        "sum(promoters) as promoters, sum(nps_responses) as nps_responses from marts.mart_topics "
        "where month_start_date > (select max(month_start_date) from marts.mart_topics) "
        "- interval 12 month group by topic having sum(mentions) > 0 "
        "order by sum(detractors) desc, topic limit 12",
    )
    return keywords, "mart_topics" if not keywords.empty else ""


def detractor_sentiment(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Sentiment labels of survey answers by NPS category (ml.text_sentiment)."""
    return query(
        con,
        ["ml.text_sentiment", "marts.fct_survey_responses"],
        "select responses.nps_category, sentiment.sentiment_label, count(*) as answers "
        "from ml.text_sentiment as sentiment join marts.fct_survey_responses as responses "
        "on responses.response_id = sentiment.source_id "
        "where sentiment.text_kind = 'survey_answer' and responses.nps_category is not null "
        "group by all order by 1, 2",
    )


def example_comments(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Recent detractor comments, up to two per language, open text redacted."""
    sentiment = table_exists(con, "ml", "text_sentiment")
    label = "sentiment.sentiment_label" if sentiment else "null"
    join = (
        "left join ml.text_sentiment as sentiment on sentiment.source_id = responses.response_id "
        "and sentiment.text_kind = 'survey_answer'"
        if sentiment
        else ""
    )
    frame = query(
        con,
        ["marts.fct_survey_responses"],
        f"select responses.responded_date, responses.nps_score, "
        f"coalesce(responses.language, 'und') as language, responses.open_text, "
        f"{label} as sentiment_label from marts.fct_survey_responses as responses {join} "
        "where responses.nps_category = 'detractor' and nullif(trim(open_text), '') is not null "
        "qualify row_number() over (partition by coalesce(responses.language, 'und') "
        "order by responses.responded_at desc, responses.response_id) <= 2 "
        f"order by responses.responded_at desc limit {EXAMPLE_COMMENTS}",
    )
    if not frame.empty:
        frame["open_text"] = frame["open_text"].map(redact)
    return frame


def loop_closure(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per month (every playbook): detractors, followed up, closure, time to contact, recovery."""
    return query(
        con,
        ["marts.mart_loop_closure"],
        "select response_month as month, sum(detractors) as detractors, "
        "sum(followed_up) as followed_up, sum(loops_closed) as loops_closed, "
        "100.0 * sum(loops_closed) / nullif(sum(detractors), 0) as loop_closure_rate, "
        "sum(avg_hours_to_first_contact * followed_up) / nullif(sum(followed_up), 0) "
        "as avg_hours_to_first_contact, "
        "sum(avg_nps_change_followed_up * followed_up_with_next_response) "
        "/ nullif(sum(followed_up_with_next_response), 0) as nps_change_followed_up, "
        "sum(avg_nps_change_not_followed_up * not_followed_up_with_next_response) "
        "/ nullif(sum(not_followed_up_with_next_response), 0) as nps_change_not_followed_up "
        "from marts.mart_loop_closure group by all order by month",
    )


def at_risk_accounts(con: duckdb.DuckDBPyConnection, show_csm_names: bool) -> pd.DataFrame:
    """High- and medium-risk customer accounts by CLV at risk, with their top drivers."""
    csm = "coalesce(csm_name, csm_user_id)" if show_csm_names else "csm_user_id"
    frame = query(
        con,
        ["marts.dim_accounts"],
        f"select account_name, {csm} as csm, churn_probability, churn_risk_band, "
        "churn_top_drivers, arr_amount, clv_at_risk_amount from marts.dim_accounts "
        "where not is_churned and churn_risk_band in ('high', 'medium') "
        f"order by clv_at_risk_amount desc nulls last, churn_probability desc "
        f"limit {AT_RISK_ACCOUNTS}",
    )
    if not frame.empty:
        frame["drivers"] = frame["churn_top_drivers"].map(driver_words)
    return frame


def driver_words(drivers: str | None) -> str:
    """'feature = value' of each top driver (a JSON list), for a person to read."""
    try:
        items = json.loads(drivers) if drivers else []
    except ValueError:
        return ""
    if not isinstance(items, list):
        return ""
    return "; ".join(
        f"{str(d.get('feature', '')).replace('_', ' ')} = {d.get('value', 'n/a')}"
        for d in items
        if isinstance(d, dict)
    )


def clv_by_csm(con: duckdb.DuckDBPyConnection, show_csm_names: bool) -> pd.DataFrame:
    """CLV at risk per CSM (mart_clv_at_risk), named as the publish settings allow."""
    name = "coalesce(users.csm_name, clv.segment_value)" if show_csm_names else "clv.segment_value"
    return query(
        con,
        ["marts.mart_clv_at_risk", "marts.dim_accounts"],
        f"select {name} as csm, clv.accounts, clv.scored_accounts, clv.clv_at_risk_amount, "
        "clv.high_risk_clv_at_risk_amount from marts.mart_clv_at_risk as clv "
        "left join (select distinct csm_user_id, csm_name from marts.dim_accounts) as users "
        "on users.csm_user_id = clv.segment_value "
        "where clv.segment_type = 'csm' and clv.clv_at_risk_amount is not null "
        "order by clv.clv_at_risk_amount desc limit 15",
    )


def experience_drivers(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Touchpoint and ticket-experience drivers of NPS (mart_drivers), with their intervals."""
    return query(
        con,
        ["marts.mart_drivers"],
        "select driver_kind, driver, n_mentions, nps_impact, nps_impact_ci_low, "
        "nps_impact_ci_high, churn_effect from marts.mart_drivers "
        "where driver_kind in ('touchpoint', 'ticket_experience') and nps_impact is not null "
        "order by abs(nps_impact) desc limit 12",
    )


def as_of(con: duckdb.DuckDBPyConnection) -> str | None:
    frame = query(
        con,
        ["intermediate.int_as_of__derived"],
        "select as_of_at from intermediate.int_as_of__derived",
    )
    if frame.empty or pd.isna(frame.iloc[0, 0]):
        return None
    return str(frame.iloc[0, 0])


def read_report_data(con: duckdb.DuckDBPyConnection, show_csm_names: bool = False) -> ReportData:
    """Every section's data from one connection; an unreadable table leaves its part empty and
    is named in `problems` (shown on the page), never a stack trace."""
    problems: list[str] = []

    def attempt(read, *args, default=None):  # noqa: ANN001, ANN202
        try:
            return read(con, *args)
        except UnreadableTableError as exc:
            problems.append(str(exc))
            return pd.DataFrame() if default is None else default

    trends, significant = attempt(survey_trends, default=(pd.DataFrame(), pd.DataFrame()))
    topic_frame, topic_source = attempt(topics, default=(pd.DataFrame(), ""))
    return ReportData(
        as_of=attempt(as_of, default="") or None,
        trends=trends,
        significant=significant,
        journey=attempt(journey),
        topics=topic_frame,
        topic_source=topic_source,
        sentiment=attempt(detractor_sentiment),
        comments=attempt(example_comments),
        loop=attempt(loop_closure),
        at_risk=attempt(at_risk_accounts, show_csm_names),
        clv_by_csm=attempt(clv_by_csm, show_csm_names),
        drivers=attempt(experience_drivers),
        problems=problems,
    )
