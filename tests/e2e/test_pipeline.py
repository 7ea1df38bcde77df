"""The whole loop at a small scale: generate, pipeline, then two runs with nothing new."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from cxloop.demo.generator import generate
from cxloop.demo.workspace import DEMO_CLOCK
from cxloop.flows.pipeline import pipeline
from cxloop.settings import Settings

SCALE = 0.15  # ~300 accounts: enough churn history for the model's time split
NOON = DEMO_CLOCK  # the demo's pinned clock: Monday 2026-11-02 14:00 UTC


def table_counts(warehouse: Path) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema <> 'ops'"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f'select count(*) from {s}."{t}"').fetchone()[0]
            for s, t in tables
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict:
    """Run the pipeline twice on the same sources (module-scoped: it is the costly part)."""
    root = tmp_path_factory.mktemp("e2e")
    mp = pytest.MonkeyPatch()
    mp.setenv("CXLOOP_HOME", str(root / "home"))
    mp.delenv("CXLOOP_SENDGRID_API_KEY", raising=False)
    sources = root / "sources"
    generate(sources, scale=SCALE, seed=7)
    paths = Settings().paths
    first = pipeline(str(sources), now=NOON)
    counts_1 = table_counts(paths.warehouse)
    eml_1 = sorted(p.name for p in paths.outbox.glob("*.eml"))
    second = pipeline(str(sources), now=NOON)
    counts_2 = table_counts(paths.warehouse)
    eml_2 = sorted(p.name for p in paths.outbox.glob("*.eml"))
    third = pipeline(str(sources), now=NOON)
    counts_3 = table_counts(paths.warehouse)
    yield {
        "paths": paths,
        "first": first,
        "second": second,
        "third": third,
        "counts_3": counts_3,
        "counts_1": counts_1,
        "counts_2": counts_2,
        "eml_1": eml_1,
        "eml_2": eml_2,
    }
    mp.undo()


EXPECTED_TABLES = [
    "raw.salesforce__account",
    "raw.salesforce__contact",
    "raw.salesforce__opportunity",
    "raw.salesforce__user",
    "raw.zendesk__tickets",
    "raw.zendesk__users",
    "raw.zendesk__organizations",
    "raw.zendesk__ticket_events",
    "raw.zendesk__satisfaction_ratings",
    "raw.qualtrics__responses",
    "marts.dim_accounts",
    "marts.dim_customers",
    "marts.fct_survey_responses",
    "marts.fct_tickets",
    "marts.mart_nps",
    "marts.mart_csat",
    "marts.mart_ces",
    "ml.account_snapshots",
    "ml.churn_scores",
]


def test_first_run_fills_every_layer(loop: dict) -> None:
    assert loop["first"]["status"] == "ok", loop["first"].get("blocked")
    for table in EXPECTED_TABLES:
        assert loop["counts_1"].get(table, 0) > 0, f"{table} is empty or missing"
    totals = loop["first"]["ingest"]["totals"]
    assert totals["read"] == totals["landed"] + totals["quarantined"] + totals["duplicate"]
    assert totals["quarantined"] > 0  # the demo carries ~1% bad rows
    followup = loop["first"]["act"]["detractor_followup"]
    assert followup["sent"] > 0, f"no detractor follow-up e-mail was sent: {followup}"
    assert loop["eml_1"], "the outbox holds no e-mail"
    assert (loop["paths"].bi / "cx.duckdb").exists()
    # publish refreshed the CX report in the run that holds the warehouse open
    assert loop["first"]["publish"]["report"] == str(loop["paths"].reports / "cx-report.html")
    assert not any("report" in w for w in loop["first"]["warnings"]), loop["first"]["warnings"]
    # the run's three checks are rendered once, at its end, raw and mart results alike
    docs = Path(loop["first"]["check_raw"]["data_docs"])
    validations = {p.as_posix() for p in (docs.parent / "validations").rglob("*.html")}
    for dataset in ("raw/zendesk__tickets", "marts/mart_nps", "marts/dim_accounts"):
        assert any(f"/{dataset}/" in v for v in validations), dataset


def test_detractors_are_mailed_in_their_own_waking_hours(loop: dict) -> None:
    """At the demo clock each e-mailed detractor's local time is 08:00-21:00; APAC waits."""
    con = duckdb.connect(str(loop["paths"].warehouse), read_only=True)
    try:
        zones = con.execute(
            "select distinct c.time_zone from ops.playbook_actions as a "
            "join marts.dim_customers as c on c.email = a.recipient "
            "where a.playbook = 'detractor_followup' and a.channel = 'email' "
            "and a.status = 'sent'"
        ).fetchall()
        known = con.execute(
            "select avg(case when time_zone is not null then 1 else 0 end) from marts.dim_customers"
        ).fetchone()[0]
    finally:
        con.close()
    local = {z: NOON.astimezone(ZoneInfo(z or "UTC")).time() for (z,) in zones}
    assert local and all(time(8) <= t < time(21) for t in local.values()), local
    assert known > 0.9  # Zendesk users and CRM countries give most customers their zone
    followup = loop["first"]["act"]["detractor_followup"]
    assert followup["skipped"].get("quiet_hours", 0) > 0, followup  # Singapore and Sydney
    assert loop["first"]["act"]["at_risk_alert"]["sent"] > 0  # the demo's relative bands


def test_ledger_quarantine_and_snapshot(loop: dict) -> None:
    paths = loop["paths"]
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        sent = con.execute(
            "select count(*) from ops.playbook_actions where status = 'sent' and channel = 'email'"
        ).fetchone()[0]
        dupes = con.execute(
            "select count(*) from (select action_key from ops.playbook_actions "
            "group by 1 having count(*) > 1)"
        ).fetchone()[0]
        quarantine = con.execute(
            "select count(*) from ops.quarantine where source_file is null or reason is null"
        ).fetchone()[0]
    finally:
        con.close()
    assert sent == len(loop["eml_1"]) and dupes == 0 and quarantine == 0
    snap = duckdb.connect(str(paths.bi / "cx.duckdb"), read_only=True)
    try:
        emails = snap.execute("select email from marts.dim_customers limit 5").fetchall()
    finally:
        snap.close()
    assert all("@" not in (e or "") for (e,) in emails), "personal data was published in clear"


def test_second_run_changes_nothing(loop: dict) -> None:
    assert loop["second"]["status"] == "ok"
    assert loop["second"]["ingest"]["totals"]["landed"] == 0
    # The loop closes: the first run's sent e-mails become touchpoints and loop-closure rows
    # in the second build. Everything else built from the sources stays exactly the same.
    # (mart_drivers too: the follow-up e-mail is a touchpoint before later answers; and
    # mart_callbacks: the first run's act opened the callback tasks it counts)
    closes_the_loop = {
        "marts.fct_touchpoints",
        "marts.mart_loop_closure",
        "marts.mart_drivers",
        "marts.mart_callbacks",
    }
    unchanged = {
        k: v
        for k, v in loop["counts_1"].items()
        if not k.startswith("ml.") and k not in closes_the_loop
    }
    assert {k: loop["counts_2"][k] for k in unchanged} == unchanged
    new_touchpoints = (
        loop["counts_2"]["marts.fct_touchpoints"] - loop["counts_1"]["marts.fct_touchpoints"]
    )
    assert 0 < new_touchpoints <= len(loop["eml_1"])
    assert loop["counts_2"]["marts.mart_loop_closure"] > 0
    assert loop["counts_2"]["marts.mart_callbacks"] > loop["counts_1"]["marts.mart_callbacks"]
    assert loop["eml_2"] == loop["eml_1"], "a second run wrote e-mail again"
    assert all(p["sent"] == 0 for p in loop["second"]["act"].values() if isinstance(p, dict))


def test_scores_reach_the_customer_360(loop: dict) -> None:
    con = duckdb.connect(str(loop["paths"].warehouse), read_only=True)
    try:
        scored, accounts_scored = con.execute(
            "select count(*) filter (where account_churn_probability is not null), "
            "(select count(*) from marts.dim_accounts where churn_probability is not null) "
            "from marts.dim_customers"
        ).fetchone()
    finally:
        con.close()
    assert scored > 0 and accounts_scored > 0


def test_runs_with_nothing_new_skip_what_has_no_new_input(loop: dict) -> None:
    """Second run: only the first run's sends are new (what reads the ledger is rebuilt and
    checked; the texts are not new, so voice is skipped); third run: nothing is rebuilt,
    checked, scored, voiced or published, no Data Docs are rendered, and act runs."""
    second, third = loop["second"], loop["third"]
    assert "build" not in loop["first"].get("skipped", {})
    assert loop["first"]["voice"]["sentiment"]["texts"] > 0  # the first run scored every text
    assert set(second["skipped"]) == {"check_raw", "voice", "score"}  # texts unchanged
    rebuilt = set(second["build"]["datasets"])
    assert {"marts.dim_customers", "marts.fct_touchpoints", "marts.mart_loop_closure"} <= rebuilt
    assert "marts.fct_tickets" not in rebuilt and "ml.account_snapshots" not in rebuilt
    assert second["check_marts"]["passed"] and second["check_marts"]["datasets_checked"] >= 1
    assert third["status"] == "ok"
    assert set(third["skipped"]) == {
        "check_raw", "build", "check_marts", "voice", "score", "publish", "data_docs",
    }  # fmt: skip
    assert "build_scores" not in third and "check_scores" not in third
    assert all(p["sent"] == 0 for p in third["act"].values() if isinstance(p, dict))
    assert loop["counts_3"] == loop["counts_2"]
