"""The second dbt target: PostgreSQL builds the same marts, with the same numbers, as DuckDB.

Runs against CXLOOP_TEST_PG_DSN, or a throwaway cluster (tests/postgres_server.py); skips
when neither exists, fails instead when CXLOOP_REQUIRE_POSTGRES=1 (.ci/run sets it).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg2
import pytest
from postgres_server import NoPostgres, postgres_server, required
from typer.testing import CliRunner

from cxloop.errors import ConfigError
from cxloop.postgres import PostgresError, PostgresTarget, copy_python_tables
from cxloop.tables import IDENTITY_MEMO_COLUMNS, ensure_warehouse
from cxloop.warehouse import writer

SAMPLE = ("-m", "cxloop.demo.sample_raw")  # the sample raw layer dbt tests build on

# The key of every table in schema marts (and two more): rows are matched on it.
KEYS = {
    "marts.customer_identity_map": ("source", "source_record_id"),
    "marts.dim_accounts": ("account_id",),
    "marts.dim_customers": ("customer_id",),
    "marts.fct_survey_responses": ("response_id",),
    "marts.fct_tickets": ("ticket_id",),
    "marts.fct_touchpoints": ("touchpoint_id",),
    "marts.mart_nps": ("date_day", "segment_type", "segment_value"),
    "marts.mart_csat": ("date_day", "segment_type", "segment_value"),
    "marts.mart_ces": ("date_day", "segment_type", "segment_value"),
    "marts.mart_ticket_kpis": ("date_day", "segment_type", "segment_value"),
    "marts.mart_churn": ("month_start_date", "cohort"),
    "marts.mart_account_health": ("account_id",),
    "marts.mart_clv_at_risk": ("segment_type", "segment_value"),
    "marts.mart_callbacks": ("owner_email", "week_start_date"),
    "marts.mart_topics": ("month_start_date", "topic"),
    "marts.mart_loop_closure": ("playbook", "response_month"),
    "marts.mart_drivers": ("driver_id",),
    "ml.account_snapshots": ("snapshot_id",),
    # not a mart, but where epoch seconds and a string-or-array become a timestamp and a list
    "staging.stg_sendgrid__events": ("sg_event_id",),
}


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A server for the session, or a skip (a failure under CXLOOP_REQUIRE_POSTGRES=1)."""
    try:
        with postgres_server() as dsn:
            yield dsn
    except NoPostgres as exc:
        if required():
            pytest.fail(f"CXLOOP_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(str(exc))


def add_python_written_rows(warehouse: Path) -> None:
    """What the score, voice and act flows and the SendGrid webhook would have written: two
    scoring runs, topics of survey answers, detractor follow-ups (sent and failed) with their
    callback tasks (open, contacted, closed, escalated) and delivery events (array and string
    categories), so the copied tables and the marts that read them have rows."""
    with writer(warehouse) as con:
        ensure_warehouse(con)
        con.execute(
            """
            insert into ml.churn_scores (account_id, scored_at, model_version, churn_probability,
                risk_band, top_drivers, snapshot_date)
            select "Id", timestamp '2026-10-01 02:00:00' + run * interval 30 day, 'v' || run,
                (row_number() over (order by "Id") * 7 % 100) / 100.0 + run / 1000.0,
                case when row_number() over (order by "Id") % 3 = 0 then 'high' else 'low' end,
                '[{"feature": "tickets_90d", "value": 3, "contribution": 0.12}]',
                date '2026-08-31' + run * interval 30 day
            from raw.salesforce__account, (values (0), (1)) as runs(run)
            where "Id" in (select "Id" from raw.salesforce__account order by "Id" limit 15)
            """
        )
        con.execute(
            """
            insert into ops.playbook_actions (action_id, playbook, action_key, channel, recipient,
                status, attempts, payload, planned_at, sent_at, updated_at)
            select 'act-' || n, 'detractor_followup', 'detractor_followup:' || response_id,
                'email', email, case when n % 4 = 0 then 'failed' else 'sent' end, 1,
                json_object('response_id', response_id), recorded_at,
                case when n % 4 <> 0 then recorded_at + interval 26 hour end, recorded_at
            from (
                select row_number() over (order by "ResponseId") as n, "ResponseId" as response_id,
                    "RecipientEmail" as email, cast("RecordedDate" as timestamp) as recorded_at
                from raw.qualtrics__responses
                where try_cast(nps as integer) <= 6
                    and nullif(trim("RecipientEmail"), '') is not null
                order by "ResponseId"
                limit 24
            )
            """
        )
        con.execute(  # callback tasks of the sent follow-ups, in three states (mart_callbacks)
            """
            insert into ops.callback_tasks (task_id, action_id, account_id, customer_id,
                assignee_email, due_date, reason, created_at, status, due_at, owner_source)
            select 'task-' || action_id, action_id, null, null,
                case when n % 2 = 0 then 'carla@vendor.example' else 'queue@vendor.example' end,
                cast(planned_at + interval 2 day as date), 'detractor', planned_at,
                case n % 3 when 0 then 'closed' when 1 then 'contacted' else 'open' end,
                planned_at + interval 2 day,
                case when n % 2 = 0 then 'csm' else 'queue' end
            from (
                select *, row_number() over (order by action_id) as n
                from ops.playbook_actions where status = 'sent'
            )
            """
        )
        con.execute(
            """
            insert into ops.callback_events (event_id, task_id, event_type, status, occurred_at,
                source, actor, outcome, root_cause, escalation_level, recorded_at)
            select *, occurred_at from (
            select task_id || ':opened', task_id, 'opened', 'open', created_at as occurred_at,
                'act', null, null, null, null
            from ops.callback_tasks
            union all
            select task_id || ':contacted', task_id, 'contacted', 'contacted',
                created_at + interval 5 hour, 'cli', assignee_email, null, null, null
            from ops.callback_tasks where status in ('contacted', 'closed')
            union all
            select task_id || ':closed', task_id, 'closed', 'closed',
                created_at + to_hours(30 + cast(hash(task_id) % 40 as integer)), 'cli',
                assignee_email, 'resolved', 'product', null
            from ops.callback_tasks where status = 'closed'
            union all
            select task_id || ':escalated:1', task_id, 'escalated', status,
                due_at + interval 1 minute, 'act', null, null, null, 1
            from ops.callback_tasks where status = 'open'
            )
            """
        )
        con.execute(  # what the voice flow writes: topics of survey answers (mart_drivers)
            """
            insert into ml.text_topics (text_id, topic, topic_source, weight, topics_run_at)
            select 'survey_answer:' || "ResponseId",
                case when n % 3 = 0 then 'billing' else 'pricing' end,
                case when n % 4 = 0 then 'learned' else 'keyword' end,
                case when n % 4 = 0 then 0.5 + n / 100.0 else 1.0 end,
                timestamp '2026-10-01 02:00:00'
            from (
                select row_number() over (order by "ResponseId") as n, "ResponseId"
                from raw.qualtrics__responses
                where nullif(trim(open_text), '') is not null
                order by "ResponseId"
                limit 30
            )
            """
        )
        for column in ("cxloop_action_id", "category", "sg_message_id"):
            con.execute(
                f'alter table raw.sendgrid__events add column if not exists "{column}" varchar'
            )
        con.execute(
            """
            insert into raw.sendgrid__events (sg_event_id, event, email, "timestamp",
                cxloop_action_id, category, sg_message_id, _batch_id, _loaded_at, _source,
                _source_file, _row_number, _content_hash)
            select 'evt-' || action_id, 'delivered', recipient,
                cast(epoch(sent_at + interval 90 second) as bigint)::varchar, action_id,
                case when n % 2 = 0 then '["detractor_followup", "cxloop"]' else 'cxloop' end,
                'msg-' || action_id || '.filter0001', 'sendgrid-events-test', sent_at, 'sendgrid',
                'sendgrid/events/test.json', n, sha256(action_id)
            from (
                select *, row_number() over (order by action_id) as n
                from ops.playbook_actions where status = 'sent'
            )
            where n % 3 <> 0
            """
        )


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None, postgres_dsn: str
) -> Iterator[dict[str, object]]:
    """The DuckDB warehouse built by `build`, then `cxloop postgres build` on the server."""
    home = tmp_path_factory.mktemp("postgres_home")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CXLOOP_HOME", str(home))
    warehouse = home / "warehouse" / "cx.duckdb"
    warehouse.parent.mkdir(parents=True)
    subprocess.run([sys.executable, *SAMPLE, str(warehouse), "--accounts", "30"], check=True)
    add_python_written_rows(warehouse)
    from cxloop.flows.build import build

    duckdb_report = build()
    assert duckdb_report["success"], duckdb_report
    from cxloop.flows.cli.postgres import app

    result = CliRunner().invoke(app, ["build", "--dsn", postgres_dsn, "--json"])
    assert result.exit_code == 0, result.output
    yield {
        "warehouse": warehouse,
        "dsn": postgres_dsn,
        "report": json.loads(result.stdout),
    }
    monkeypatch.undo()


def comparable(value: object) -> object:
    """DuckDB and PostgreSQL hand back numbers as int, float or Decimal: compare as float."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return float(value)
    return value


def same_value(left: object, right: object) -> bool:
    left, right = comparable(left), comparable(right)
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def differences(warehouse: Path, pg: psycopg2.extensions.connection) -> dict[str, list[str]]:
    """Per table of KEYS: what differs between DuckDB and PostgreSQL (empty when nothing)."""
    found: dict[str, list[str]] = {}
    duck = duckdb.connect(str(warehouse), read_only=True)
    try:
        cur = pg.cursor()
        for relation, key in KEYS.items():
            schema, table = relation.split(".")
            columns = [
                name
                for (name,) in duck.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            cur.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            )
            pg_columns = [name for (name,) in cur.fetchall()]
            problems: list[str] = []
            if not columns or columns != pg_columns:
                found[relation] = [f"columns: duckdb {columns} / postgres {pg_columns}"]
                continue
            select = ", ".join(f'"{name}"' for name in columns)
            duck_rows = duck.execute(f"select {select} from {relation}").fetchall()
            cur.execute(f"select {select} from {relation}")
            pg_rows = cur.fetchall()
            at = [columns.index(name) for name in key]
            by_key_duck = {tuple(row[i] for i in at): row for row in duck_rows}
            by_key_pg = {tuple(row[i] for i in at): row for row in pg_rows}
            if len(duck_rows) != len(pg_rows):
                problems.append(f"rows: duckdb {len(duck_rows)} / postgres {len(pg_rows)}")
            if len(by_key_duck) != len(duck_rows) or len(by_key_pg) != len(pg_rows):
                problems.append(f"key {key} is not unique")
            problems += [
                f"only in duckdb: {k}"
                for k in sorted(by_key_duck.keys() - by_key_pg.keys(), key=str)[:5]
            ]
            problems += [
                f"only in postgres: {k}"
                for k in sorted(by_key_pg.keys() - by_key_duck.keys(), key=str)[:5]
            ]
            for row_key in sorted(by_key_duck.keys() & by_key_pg.keys(), key=str):
                for name, left, right in zip(
                    columns, by_key_duck[row_key], by_key_pg[row_key], strict=True
                ):
                    if not same_value(left, right):
                        problems.append(f"{row_key} {name}: duckdb {left!r} / postgres {right!r}")
            if problems:
                found[relation] = problems[:10]
    finally:
        duck.close()
    return found


def test_postgres_builds_every_model_and_test(built: dict[str, object]) -> None:
    report = built["report"]
    assert report["dbt"]["success"] and not report["dbt"]["failures"]
    assert report["dbt"]["counts"].get("pass", 0) > 150  # models, seed and data tests
    copied = report["copied"]
    assert copied["raw.qualtrics__responses"] > 0 and copied["raw.sendgrid__events"] > 0
    con = duckdb.connect(str(built["warehouse"]), read_only=True)
    try:
        for relation in (
            "intermediate.identity_clusters",
            "ml.churn_scores",
            "ops.playbook_actions",
        ):
            assert copied[relation] == con.execute(f"select count(*) from {relation}").fetchone()[0]
            assert copied[relation] > 0, relation
    finally:
        con.close()


def test_every_mart_has_the_same_rows_and_numbers(built: dict[str, object]) -> None:
    con = duckdb.connect(str(built["warehouse"]), read_only=True)
    try:
        marts = {
            f"marts.{name}"
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        empty = [
            relation
            for relation in KEYS
            if con.execute(f"select count(*) from {relation}").fetchone()[0] == 0
        ]
    finally:
        con.close()
    assert marts <= KEYS.keys(), f"marts without a parity key here: {marts - KEYS.keys()}"
    assert not empty, f"no rows to compare in {empty}"
    pg = psycopg2.connect(built["dsn"])
    try:
        assert differences(built["warehouse"], pg) == {}
    finally:
        pg.close()


def test_a_changed_number_or_a_missing_row_fails_the_comparison(built: dict[str, object]) -> None:
    pg = psycopg2.connect(built["dsn"])
    try:  # changed inside a transaction that is rolled back: the marts stay as built
        with pg.cursor() as cur:
            cur.execute(
                "update marts.mart_nps set nps = nps + 0.000001 where (date_day, segment_type) = "
                "(select date_day, segment_type from marts.mart_nps where nps is not null "
                "order by date_day, segment_type, segment_value limit 1)"
            )
            cur.execute(
                "delete from marts.dim_customers where customer_id = "
                "(select min(customer_id) from marts.dim_customers)"
            )
        found = differences(built["warehouse"], pg)
    finally:
        pg.rollback()
        pg.close()
    assert set(found) == {"marts.mart_nps", "marts.dim_customers"}
    assert any(" nps: " in problem for problem in found["marts.mart_nps"])
    assert any(problem.startswith("rows:") for problem in found["marts.dim_customers"])


def test_copy_again_replaces_rather_than_appends(built: dict[str, object]) -> None:
    target = PostgresTarget.from_dsn(built["dsn"])
    again = copy_python_tables(built["warehouse"], target)
    assert again == built["report"]["copied"]
    pg = psycopg2.connect(built["dsn"])
    try:
        with pg.cursor() as cur:
            for relation, rows in again.items():
                schema, table = relation.split(".")
                cur.execute(f'select count(*) from "{schema}"."{table}"')
                assert cur.fetchone()[0] == rows, relation
            # same columns: truncated, not dropped, so the staging views over raw survive
            cur.execute("select count(*) from staging.stg_qualtrics__responses")
            assert cur.fetchone()[0] > 0
            # the identity step's own state (its list and hash columns) is not copied
            cur.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'intermediate' and table_name = 'identity_clusters'"
            )
            copied = {row[0] for row in cur.fetchall()}
            assert "customer_id" in copied and not copied & set(IDENTITY_MEMO_COLUMNS)
    finally:
        pg.close()


def test_dsn_and_connection_errors_name_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="expected postgresql://"):
        PostgresTarget.from_dsn("mysql://root@localhost/cx")
    target = PostgresTarget.from_dsn("postgresql://nobody:secret@127.0.0.1:1/none")
    assert target.port == 1 and target.password == "secret"
    with pytest.raises(PostgresError, match=r"nobody@127\.0\.0\.1:1/none: cannot connect") as info:
        target.connect()
    assert "secret" not in str(info.value)


def test_python_column_types_map_or_are_refused_by_name() -> None:
    from cxloop.postgres import postgres_type

    assert postgres_type("DECIMAL(18,3)", "raw.t.amount") == "numeric(18,3)"
    assert postgres_type("TIMESTAMP", "raw.t.at") == "timestamp without time zone"
    with pytest.raises(PostgresError, match=r"raw\.t\.tags: DuckDB type VARCHAR\[\]"):
        postgres_type("VARCHAR[]", "raw.t.tags")


def test_dates_survive_the_copy_exactly(built: dict[str, object]) -> None:
    """Timestamps and dates copied through CSV are the same instants (no zone shift)."""
    con = duckdb.connect(str(built["warehouse"]), read_only=True)
    try:
        duck = con.execute(
            "select min(scored_at), max(scored_at), min(snapshot_date) from ml.churn_scores"
        ).fetchone()
    finally:
        con.close()
    pg = psycopg2.connect(built["dsn"])
    try:
        with pg.cursor() as cur:
            cur.execute(
                "select min(scored_at), max(scored_at), min(snapshot_date) from ml.churn_scores"
            )
            assert cur.fetchone() == duck
    finally:
        pg.close()
    assert isinstance(duck[2], dt.date)
