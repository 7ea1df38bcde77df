"""HubSpot staging on the hand-written pages: Salesforce's columns, hand-worked rows, no id clash.

One dbt build (models and their data tests) of the HubSpot and Salesforce staging models on a
warehouse that landed tests/fixtures/sources/hubspot and .../salesforce.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from cxloop.flows.ingest import ingest as ingest_sources
from cxloop.tables import ensure_warehouse

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sources"
CONFIG = """version: 1
sources:
  crm:
    kind: hubspot
    path: hubspot
  legacy_crm:
    kind: salesforce
    path: salesforce
"""
# HubSpot model -> its Salesforce counterpart (same columns, same order, same types)
COUNTERPARTS = {
    "stg_hubspot__companies": "stg_salesforce__accounts",
    "stg_hubspot__contacts": "stg_salesforce__contacts",
    "stg_hubspot__deals": "stg_salesforce__opportunities",
    "stg_hubspot__owners": "stg_salesforce__users",
}
KEYS = {
    "stg_hubspot__companies": "account_id",
    "stg_hubspot__contacts": "contact_id",
    "stg_hubspot__deals": "opportunity_id",
    "stg_hubspot__owners": "user_id",
}

Query = Callable[[str], list[tuple]]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Path:
    root = tmp_path_factory.mktemp("hubspot_staging")
    sources = root / "sources"
    for name in ("hubspot", "salesforce"):
        shutil.copytree(FIXTURES / name, sources / name)
    (sources / "cxloop.yaml").write_text(CONFIG)
    warehouse = root / "cx.duckdb"
    ingest_sources(sources, warehouse=warehouse, lake_dir=root / "lake")
    con = duckdb.connect(str(warehouse))
    try:
        ensure_warehouse(con)
    finally:
        con.close()
    dbt(
        root,
        {"CXLOOP_WAREHOUSE": str(warehouse)},
        "--select",
        "path:models/staging/hubspot",
        "path:models/staging/salesforce",
        "--indirect-selection",
        "cautious",
    )
    return warehouse


def dbt(scratch: Path, env: dict[str, str], *args: str) -> None:
    """`dbt build` of the project with these arguments; fails the test with dbt's output."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "build", "--profiles-dir", ".", *args],
        cwd=REPO / "dbt_project",
        env={
            **os.environ,
            **env,
            "DBT_LOG_PATH": str(scratch / "dbt-logs"),
            "DBT_TARGET_PATH": str(scratch / "dbt-target"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.fixture(scope="module")
def query(warehouse: Path) -> Query:
    def run(sql: str) -> list[tuple]:
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run


def columns(query: Query, model: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in query(f"describe staging.{model}")]


@pytest.mark.parametrize(("hubspot", "salesforce"), COUNTERPARTS.items())
def test_each_model_has_exactly_its_salesforce_counterparts_columns(
    query: Query, hubspot: str, salesforce: str
) -> None:
    assert columns(query, hubspot) == columns(query, salesforce)


@pytest.mark.parametrize(("hubspot", "salesforce"), COUNTERPARTS.items())
def test_the_crms_union_without_an_id_clash(query: Query, hubspot: str, salesforce: str) -> None:
    key = KEYS[hubspot]
    [(rows, distinct, from_salesforce)] = query(
        f"select count(*), count(distinct {key}), "
        f"count(*) filter (where {key} not like 'hubspot:%') "
        f"from (select * from staging.{salesforce} union all select * from staging.{hubspot})"
    )
    assert from_salesforce > 0 and rows == distinct


def test_companies(query: Query) -> None:
    rows = query(
        "select account_id, owner_user_id, account_name, account_type, industry, "
        "billing_country, website, website_domain, phone, created_at, last_modified_at "
        "from staging.stg_hubspot__companies order by account_id"
    )
    assert rows == [
        (
            "hubspot:9001",
            "hubspot:41629779",
            "Acme Analytics GmbH",
            "CUSTOMER",
            "COMPUTER_SOFTWARE",
            "Germany",
            "https://www.acme-analytics.example/",
            "acme-analytics.example",
            "+49 30 1234567",
            dt.datetime(2023, 2, 14, 9, 30),
            dt.datetime(2024, 5, 20, 16, 45, 12, 345000),
        ),
        # website and annualrevenue cleared (""): null website, the domain still there
        (
            "hubspot:9002",
            "hubspot:41629780",
            "Globex Retail",
            "PROSPECT",
            "RETAIL",
            "United States",
            None,
            "globex.example",
            None,
            dt.datetime(2023, 6, 1, 15, 4, 5),
            dt.datetime(2024, 4, 11, 7, 0),
        ),
        # owner, industry and country cleared
        (
            "hubspot:9003",
            None,
            "Initech Ltd",
            None,
            None,
            None,
            "initech.example/about",
            "initech.example",
            "+44 20 7946 0000",
            dt.datetime(2023, 9, 9, 9, 9, 9, 999000),
            dt.datetime(2024, 6, 1, 0, 0),
        ),
        # 9004 is archived (a deletion), 9005 was quarantined (annualrevenue 'about 2M')
    ]


def test_the_archived_company_stays_in_raw_only(query: Query) -> None:
    assert query("select archived from raw.hubspot__companies where id = '9004'") == [("true",)]
    assert query(
        "select count(*) from staging.stg_hubspot__companies where account_id = 'hubspot:9004'"
    ) == [(0,)]


def test_contacts(query: Query) -> None:
    rows = query(
        "select contact_id, account_id, first_name, last_name, email, email_normalized, "
        "mobile_phone, phone_e164, title, mailing_country, has_opted_out_of_email, "
        "preferred_language_raw, preferred_language from staging.stg_hubspot__contacts "
        "order by contact_id"
    )
    assert rows == [
        # associatedcompanyid; the e-mail's leading space trimmed
        (
            "hubspot:51",
            "hubspot:9001",
            "Anna",
            "Schmidt",
            "Anna.Schmidt@Acme-Analytics.example",
            "anna.schmidt@acme-analytics.example",
            "+49 171 5550101",
            "+491715550101",
            "Head of Operations",
            "Germany",
            False,
            "de",
            "de",
        ),
        # no associatedcompanyid: the only (unlabeled) association; a national phone: no E.164
        (
            "hubspot:52",
            "hubspot:9002",
            "Bob",
            "Nguyen",
            "bob.nguyen@globex.example",
            "bob.nguyen@globex.example",
            None,
            None,
            None,
            "United States",
            False,
            "pt-br",
            "pt",
        ),
        # cleared e-mail, last name, company; opted out; 00 44 mobile as E.164
        (
            "hubspot:53",
            None,
            "Carla",
            None,
            None,
            None,
            "0044 7700 900123",
            "+447700900123",
            None,
            None,
            True,
            None,
            None,
        ),
        # the contact without an id was quarantined
    ]


def test_deals(query: Query) -> None:
    rows = query(
        "select opportunity_id, account_id, owner_user_id, opportunity_type, stage_name, amount, "
        "is_closed, is_won, close_date from staging.stg_hubspot__deals order by opportunity_id"
    )
    assert rows == [
        (
            "hubspot:7001",
            "hubspot:9001",
            "hubspot:41629779",
            "newbusiness",
            "Closed Won",
            24000.0,
            True,
            True,
            dt.date(2023, 3, 15),
        ),
        # custom Renewals pipeline, stage 150012347 "Churned": closed, probability 0.0
        (
            "hubspot:7002",
            "hubspot:9001",
            "hubspot:41629779",
            "existingbusiness",
            "Churned",
            25200.0,
            True,
            False,
            dt.date(2024, 3, 15),
        ),
        # the primary association (deal_to_company, listed second) wins; amount cleared
        (
            "hubspot:7003",
            "hubspot:9002",
            "hubspot:41629780",
            "newbusiness",
            "Qualified To Buy",
            None,
            False,
            False,
            dt.date(2024, 9, 30),
        ),
        # no association, owner cleared, no dealtype; open renewal stage
        (
            "hubspot:7004",
            None,
            None,
            None,
            "Renewal due",
            9800.5,
            False,
            False,
            dt.date(2024, 7, 1),
        ),
        # a stage not in the pipelines file: its id, and hs_is_closed / hs_is_closed_won
        (
            "hubspot:7005",
            "hubspot:9002",
            "hubspot:41629780",
            "newbusiness",
            "149999999",
            12000.0,
            True,
            False,
            dt.date(2023, 12, 31),
        ),
        # 7006 was quarantined (amount '$1,200')
    ]


def test_deal_stages_of_the_custom_pipeline(query: Query) -> None:
    rows = query(
        "select deal_stage_id, stage_label, probability, is_closed, is_won "
        "from staging.stg_hubspot__deal_stages where pipeline_id = '75648211' "
        "order by display_order"
    )
    assert rows == [
        ("75648211:150012345", "Renewal due", 0.5, False, False),
        ("75648211:150012346", "Renewed", 1.0, True, True),
        ("75648211:150012347", "Churned", 0.0, True, False),
    ]


def test_owners_and_their_teams(query: Query) -> None:
    assert query(
        "select user_id, username, email_normalized, full_name, is_active "
        "from staging.stg_hubspot__owners order by user_id"
    ) == [
        (
            "hubspot:41629779",
            "maria.lopez@fixture-co.example",
            "maria.lopez@fixture-co.example",
            "María López",
            True,
        ),
        (
            "hubspot:41629780",
            "Tom.Becker@Fixture-Co.example",
            "tom.becker@fixture-co.example",
            "Tom Becker",
            True,
        ),
        (
            "hubspot:52000001",
            "sam.okafor@fixture-co.example",
            "sam.okafor@fixture-co.example",
            "Sam Okafor",
            True,
        ),
        # archived: a deactivated user, kept (accounts may still name them) but not active
        (
            "hubspot:52000002",
            "lee.chan@fixture-co.example",
            "lee.chan@fixture-co.example",
            "Lee Chan",
            False,
        ),
    ]
    # Sam has no teams key, Lee an empty list: no rows
    assert query(
        "select user_id, team_id, team_name, is_primary from staging.stg_hubspot__owner_teams "
        "order by user_id, team_id"
    ) == [
        ("hubspot:41629779", "hubspot:178588", "EMEA Customer Success", True),
        ("hubspot:41629779", "hubspot:178590", "Renewals Desk", False),
        ("hubspot:41629780", "hubspot:178590", "Renewals Desk", True),
    ]


HUBSPOT_MODELS = (*COUNTERPARTS, "stg_hubspot__deal_stages", "stg_hubspot__owner_teams")


def test_postgres_builds_the_same_rows(warehouse: Path, tmp_path: Path, query: Query) -> None:
    """The second dbt target (docs/postgres.md) compiles the JSON unnesting to the same rows."""
    import psycopg2
    from postgres_server import NoPostgres, postgres_server, required

    from cxloop.postgres import PostgresTarget, copy_python_tables

    copy = tmp_path / "cx.duckdb"
    shutil.copy(warehouse, copy)
    try:
        with postgres_server() as dsn:
            target = PostgresTarget.from_dsn(dsn)
            copy_python_tables(copy, target)
            dbt(
                tmp_path,
                {**target.env(), "PGTZ": "UTC"},
                "--select",
                "path:models/staging/hubspot",
                "--target",
                "postgres",
            )
            pg = psycopg2.connect(dsn)
            try:
                for model in HUBSPOT_MODELS:
                    names = [name for name, _ in columns(query, model)]
                    order = ", ".join(f'"{n}"' for n in names if n != "_loaded_at")
                    duck = query(f"select {order} from staging.{model} order by 1")
                    with pg.cursor() as cur:
                        cur.execute(f"select {order} from staging.{model} order by 1")
                        assert cur.fetchall() == duck, model
            finally:
                pg.close()
    except NoPostgres as exc:
        if required():
            pytest.fail(f"CXLOOP_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(str(exc))
