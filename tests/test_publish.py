"""The BI snapshot: private by default, and readable by the DuckDB 1.4 inside BI drivers.

A hand-made warehouse with the marts' personal columns as dbt builds them (docs/architecture.md
"Marts") and open text as customers type it; every needle below must be absent from every
text value of every published table and Parquet file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import duckdb
import pytest
from gate_state import mark_checked

from cxloop import publish
from cxloop.config import ProjectConfig
from cxloop.errors import CxloopError
from cxloop.publish import OPT_OUT_WARNING, STORAGE_VERSION, publish_configured, publish_snapshot
from cxloop.quality.gate import MartsNotCheckedError, finish_build, start_build
from cxloop.settings import Paths
from cxloop.tables import TOMBSTONES, ensure_tables
from cxloop.warehouse import connect, held_open

CUSTOMERS = [
    # customer_id, account_id, email_as_recorded, email, first, last, full, phone_e164, language
    ("C1", "A1", "Ana.Silva@Acme.example", "ana.silva@acme.example", "Ana", "Silva",
     "Ana Silva", "+4930123456", "pt"),
    ("C2", "A1", "omar.hassan@acme.example", "omar.hassan@acme.example", "عمر", "حسن",
     "عمر حسن", "+966501234567", "ar"),
    ("C3", "A2", "SARA@globex.example", "sara@globex.example", "سارا", "رضایی",
     "سارا رضایی", "+989121234567", "fa"),
]  # fmt: skip
CSMS = {"A1": ("U1", "Carla Mendes", "carla.mendes@vendor.example"),
        "A2": ("U2", "Dan Okafor", "dan.okafor@vendor.example")}  # fmt: skip
RESPONSES = [
    ("R1", "C1", "A1", 3, "ana.silva@acme.example",
     "Call me on +49 30 123456 or write to ana.silva@acme.example"),
    ("R2", "C3", "A2", 5, "sara@globex.example", "شماره من ۰۹۱۲ ۱۲۳ ۴۵۶۷ است"),
    ("R3", "C2", "A1", 6, "omar.hassan@acme.example",
     "Refund to card 4111 1111 1111 1111 please, call ٠٥٠١٢٣٤٥٦٧"),
    ("R4", "C1", "A1", 10, "ana.silva@acme.example", "Great support since 2024-06-05"),
]  # fmt: skip
NEEDLES = [
    *(c[2] for c in CUSTOMERS),
    *(c[3] for c in CUSTOMERS),
    *(c[6] for c in CUSTOMERS),
    *(c[7] for c in CUSTOMERS),
    *(name for _, name, _ in CSMS.values()),
    *(mail for _, _, mail in CSMS.values()),
]
# digits of every phone and card, whatever the script or the separators they were written with
DIGIT_NEEDLES = ["30123456", "501234567", "9121234567", "4111111111111111"]


def make_warehouse(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema ml")
    con.execute(
        "create table marts.dim_customers (customer_id varchar, account_id varchar, "
        "email_as_recorded varchar, email varchar, first_name varchar, last_name varchar, "
        "full_name varchar, phone_e164 varchar, language varchar, csm_user_id varchar, "
        "csm_name varchar, csm_email varchar)"
    )
    con.executemany(
        "insert into marts.dim_customers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*c, *CSMS[c[1]]) for c in CUSTOMERS],
    )
    con.execute(
        "create table marts.dim_accounts (account_id varchar, account_name varchar, "
        "domain varchar, csm_user_id varchar, csm_name varchar, csm_email varchar)"
    )
    con.executemany(
        "insert into marts.dim_accounts values (?, ?, ?, ?, ?, ?)",
        [("A1", "Acme & Sons", "acme.example", *CSMS["A1"]),
         ("A2", "Globex", "globex.example", *CSMS["A2"])],
    )  # fmt: skip
    con.execute(
        "create table marts.fct_survey_responses (response_id varchar, customer_id varchar, "
        "account_id varchar, nps_score integer, respondent_email varchar, open_text varchar)"
    )
    con.executemany("insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?)", RESPONSES)
    con.execute(
        "create table marts.mart_nps as select date '2024-06-05' as date_day, 'csm' as "
        "segment_type, 'U1' as segment_value, 3 as responses, -66.7 as nps"
    )
    con.execute(
        "create table ml.churn_scores as select 'A1' as account_id, 0.7 as churn_probability, "
        '\'[{"feature": "tickets_open", "value": 3}]\' as top_drivers'
    )
    con.close()
    mark_checked(path)
    return path


def text_values(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    """Every value of every column of a relation, as text (lists and JSON too)."""
    rows = con.execute(f"select * from {relation}").fetchall()
    return [str(v) for row in rows for v in row if v is not None]


def digits(text: str) -> str:
    """Only the digits, as ASCII (Persian and Arabic-Indic digits converted)."""
    return "".join(str(int(ch)) for ch in text if ch.isdigit())


def leaks(values: list[str]) -> list[str]:
    found = [n for n in NEEDLES for v in values if n.lower() in v.lower()]
    found += [n for n in DIGIT_NEEDLES for v in values if n in digits(v)]
    return found


def published_values(bi_dir: Path) -> dict[str, list[str]]:
    """The text of every table of the DuckDB snapshot and of every Parquet file."""
    out: dict[str, list[str]] = {}
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
        for (table,) in tables:
            out[f"cx.duckdb:{table}"] = text_values(con, table)
    finally:
        con.close()
    mem = duckdb.connect()
    for parquet in sorted((bi_dir / "parquet").glob("*.parquet")):
        out[parquet.name] = text_values(mem, f"read_parquet('{parquet}')")
    mem.close()
    return out


def test_the_snapshot_holds_no_personal_data_in_clear(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "cx.duckdb")
    bi_dir = tmp_path / "bi"
    counts = publish_snapshot(warehouse, bi_dir, "pepper")
    assert counts == {
        "marts.dim_accounts": 2,
        "marts.dim_customers": 3,
        "marts.fct_survey_responses": 4,
        "marts.mart_nps": 1,
        "ml.churn_scores": 1,
    }
    values = published_values(bi_dir)
    assert len(values) == 10  # 5 tables, twice
    assert {where: leaks(v) for where, v in values.items() if leaks(v)} == {}
    # what stays useful: company names, ids, scores, redacted text, joinable hashes
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        texts = dict(
            con.execute("select response_id, open_text from marts.fct_survey_responses").fetchall()
        )
        joined = con.execute(
            "select count(*) from marts.fct_survey_responses r "
            "join marts.dim_customers c on c.email = r.respondent_email"
        ).fetchone()
        names = con.execute("select account_name, csm_name from marts.dim_accounts").fetchall()
    finally:
        con.close()
    assert texts == {
        "R1": "Call me on [phone] or write to [email]",
        "R2": "شماره من [phone] است",
        "R3": "Refund to card [card] please, call [phone]",
        "R4": "Great support since 2024-06-05",
    }
    assert joined == (4,)  # the same salted hash of the same e-mail in both tables
    assert {a for a, _ in names} == {"Acme & Sons", "Globex"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", csm) for _, csm in names)


def test_csm_names_only_when_configured_and_the_opt_out_is_loud(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = make_warehouse(tmp_path / "warehouse" / "cx.duckdb")
    paths = Paths(home=tmp_path)
    shown = ProjectConfig(sources={}, publish={"show_csm_names": True})
    result = publish_configured(paths, shown)
    assert result["masked"] is True and result["warnings"] == []
    assert result["report"] == str(paths.reports / "cx-report.html")  # publish refreshes it
    assert Path(result["report"]).is_file()
    values = published_values(paths.bi)
    found = {where: sorted(set(leaks(v))) for where, v in values.items() if leaks(v)}
    assert found == {
        "cx.duckdb:marts.dim_accounts": ["Carla Mendes", "Dan Okafor"],
        "cx.duckdb:marts.dim_customers": ["Carla Mendes", "Dan Okafor"],
        "marts.dim_accounts.parquet": ["Carla Mendes", "Dan Okafor"],
        "marts.dim_customers.parquet": ["Carla Mendes", "Dan Okafor"],
    }  # names only: the CSMs' e-mails stay hashed

    opted_out = ProjectConfig(sources={}, publish={"mask_personal_data": False})
    with caplog.at_level(logging.WARNING, logger="cxloop.publish"):
        result = publish_configured(paths, opted_out)
    assert result["masked"] is False and result["warnings"] == [OPT_OUT_WARNING]
    assert OPT_OUT_WARNING in caplog.text
    assert "ana.silva@acme.example" in values_of(paths.bi, "marts.dim_customers")
    assert warehouse.exists()


def values_of(bi_dir: Path, table: str) -> list[str]:
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        return text_values(con, table)
    finally:
        con.close()


DUCKDB_14_VENV = Path(
    os.environ.get("CXLOOP_DUCKDB14_VENV", Path.home() / ".cache" / "cxloop-tests" / "duckdb-1.4")
)
READ_EVERY_TABLE = r"""
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [t for (t,) in con.execute(
    "select table_schema || '.' || table_name from information_schema.tables order by 1"
).fetchall()]
print(json.dumps({"version": duckdb.__version__,
                  "rows": {t: len(con.execute(f"select * from {t}").fetchall()) for t in tables}}))
"""


@pytest.fixture(scope="session")
def duckdb14_python() -> Path:
    """A Python with duckdb 1.4.* (the LTS inside BI drivers), in a virtual env of its own."""
    python = DUCKDB_14_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DUCKDB_14_VENV)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
    )
    if not probe.stdout.startswith("1.4."):
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "duckdb==1.4.*"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if pip.returncode != 0:
            lines = (pip.stderr or pip.stdout).strip().splitlines() or ["no output"]
            pytest.skip(f"the package mirror has no duckdb==1.4.*: {lines[-1]}")
    return python


def test_duckdb_1_4_opens_the_snapshot_and_reads_every_table(
    tmp_path: Path, duckdb14_python: Path
) -> None:
    counts = publish_snapshot(make_warehouse(tmp_path / "cx.duckdb"), tmp_path / "bi", "salt")
    read = subprocess.run(
        [str(duckdb14_python), "-c", READ_EVERY_TABLE, str(tmp_path / "bi" / "cx.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr
    result = json.loads(read.stdout)
    assert result["version"].startswith("1.4.")
    assert result["rows"] == counts
    assert STORAGE_VERSION == "v1.4.0"


def snapshot_rows(bi_dir: Path) -> dict[str, list[tuple]]:
    """Every row of every table of the DuckDB file and of every Parquet file, sorted."""
    out: dict[str, list[tuple]] = {}
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        for (table,) in con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() order by 1"
        ).fetchall():
            out[table] = sorted(con.execute(f"select * from {table}").fetchall(), key=str)
        for parquet in sorted((bi_dir / "parquet").glob("*.parquet")):
            rows = con.execute(f"select * from read_parquet('{parquet}')").fetchall()
            out[parquet.name] = sorted(rows, key=str)
    finally:
        con.close()
    return out


def test_a_publish_copies_only_what_changed_and_equals_a_full_one(
    tmp_path: Path, duckdb14_python: Path
) -> None:
    warehouse = make_warehouse(tmp_path / "cx.duckdb")
    bi_dir, outcome = tmp_path / "bi", {}
    publish_snapshot(warehouse, bi_dir, "salt", outcome=outcome)
    assert outcome["carried_over"] == [] and len(outcome["republished"]) == 5
    first = os.readlink(bi_dir / "parquet")
    con = duckdb.connect(str(warehouse))  # a build changes one mart and drops another
    con.execute("insert into marts.mart_nps values (date '2024-06-06', 'csm', 'U2', 1, 50.0)")
    con.execute("drop table ml.churn_scores")
    con.close()
    mark_checked(warehouse, ["marts.mart_nps"])
    counts = publish_snapshot(warehouse, bi_dir, "salt", outcome=outcome)
    assert outcome == {
        "republished": ["marts.mart_nps"],
        "carried_over": ["marts.dim_accounts", "marts.dim_customers", "marts.fct_survey_responses"],
    }
    assert counts["marts.mart_nps"] == 2 and "ml.churn_scores" not in counts
    carried = bi_dir / "parquet" / "marts.dim_accounts.parquet"
    assert carried.stat().st_ino == (bi_dir / first / carried.name).stat().st_ino  # hard link
    full_dir = tmp_path / "bi_full"
    assert publish_snapshot(warehouse, full_dir, "salt", full=True) == counts
    assert snapshot_rows(bi_dir) == snapshot_rows(full_dir)
    read = subprocess.run(
        [str(duckdb14_python), "-c", READ_EVERY_TABLE, str(bi_dir / "cx.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["rows"] == counts
    # another salt changes every hashed value: nothing is carried over
    publish_snapshot(warehouse, bi_dir, "other salt", outcome=outcome)
    assert outcome["carried_over"] == [] and len(outcome["republished"]) == 4
    publish_snapshot(warehouse, bi_dir, "other salt", outcome=outcome)
    assert len(outcome["carried_over"]) == 4
    con = duckdb.connect(str(warehouse))  # an erasure: no byte of the old file is carried over
    ensure_tables(con, [TOMBSTONES])
    con.execute(f"insert into {TOMBSTONES.qualified} values ('h1', 'email', 'erasure-1')")
    con.close()
    publish_snapshot(warehouse, bi_dir, "other salt", outcome=outcome)
    assert outcome["carried_over"] == [] and len(outcome["republished"]) == 4


def held_count(warehouse: Path, relation: str) -> int:
    """Rows of a DuckDB catalog function, seen from a new connection to the held database."""
    con = connect(warehouse)
    try:
        return int(con.execute(f"select count(*) from {relation}").fetchone()[0])
    finally:
        con.close()


def test_publishing_twice_in_a_run_that_holds_the_warehouse(tmp_path: Path) -> None:
    """A Python function registered on a shared (held) database outlives its connection:
    the snapshot removes its own, so a second publish in the same held run works (before,
    it failed with 'already exists', and a call of the leftover crashed the process)."""
    warehouse = make_warehouse(tmp_path / "cx.duckdb")
    bi_dir = tmp_path / "bi"
    with held_open(warehouse):
        publish_snapshot(warehouse, bi_dir, "pepper", full=True)
        publish_snapshot(warehouse, bi_dir, "pepper", full=True)
        functions = held_count(warehouse, "duckdb_functions() where function_name = 'cx_redact'")
    assert functions == 0
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        text = con.execute(
            "select open_text from marts.fct_survey_responses where response_id = 'R1'"
        ).fetchone()
    finally:
        con.close()
    assert text == ("Call me on [phone] or write to [email]",)


def test_a_failed_snapshot_leaves_nothing_attached_to_a_held_warehouse(tmp_path: Path) -> None:
    """ATTACH is the database's, not the connection's: a publish that fails after attaching
    the new snapshot must detach it, or the next publish in the held run cannot attach."""
    warehouse = make_warehouse(tmp_path / "cx.duckdb")
    bi_dir = tmp_path / "bi"
    with held_open(warehouse):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("cxloop.publish.drop_stale", lambda con, keep: 1 / 0)
            with pytest.raises(ZeroDivisionError):
                publish_snapshot(warehouse, bi_dir, "pepper", full=True)
        assert held_count(warehouse, "duckdb_databases() where database_name = 'snap'") == 0
        assert publish_snapshot(warehouse, bi_dir, "pepper", full=True)["marts.mart_nps"] == 1


def test_the_report_drawn_beside_the_snapshot_is_written_only_after_it(tmp_path: Path) -> None:
    """Publish draws the CX report beside the snapshot: a refused publish writes neither, and
    a report that cannot be drawn is a warning beside a published snapshot."""
    warehouse = make_warehouse(tmp_path / "warehouse" / "cx.duckdb")
    paths = Paths(home=tmp_path)
    page = paths.reports / "cx-report.html"
    start_build(warehouse, "unchecked-build", None)  # a build not yet checked: refused
    finish_build(warehouse, "unchecked-build", ["marts.mart_nps"], ok=True)
    drawn: list[object] = []
    with pytest.MonkeyPatch.context() as mp:  # refused before any drawing starts
        mp.setattr("cxloop.publish.render_cx_report", lambda paths, config: drawn.append(paths))
        with pytest.raises(MartsNotCheckedError):
            publish_configured(paths, None)
    assert drawn == [] and not page.exists() and not (paths.bi / "cx.duckdb").exists()

    mark_checked(warehouse)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cxloop.publish.render_cx_report", lambda paths, config: 1 / 0)
        result = publish_configured(paths, None)
    assert result["report"] is None and not page.exists()
    assert result["warnings"] == ["the CX report was not refreshed: division by zero"]
    assert result["tables"]["marts.mart_nps"] == 1

    result = publish_configured(paths, None)
    assert result["report"] == str(page) and page.is_file() and result["warnings"] == []


def test_a_yes_no_flag_named_like_personal_data_is_published_as_it_is(tmp_path: Path) -> None:
    """`has_opted_out_of_email` matches `*email*`, but a salted hash of true/false is one of two
    strings: it hides nothing and breaks a BI filter on who must not be e-mailed."""
    warehouse = tmp_path / "cx.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts; create schema ml")
    con.execute(
        "create table marts.dim_customers as select * from (values "
        "('C1', 'ana@acme.example', true), ('C2', 'omar@acme.example', false), "
        "('C3', null, null)) t(customer_id, email, has_opted_out_of_email)"
    )
    con.close()
    mark_checked(warehouse)
    publish_snapshot(warehouse, tmp_path / "bi", "pepper", full=True)
    con = duckdb.connect(str(tmp_path / "bi" / "cx.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select customer_id, email, has_opted_out_of_email from marts.dim_customers "
            "order by customer_id"
        ).fetchall()
        kind = con.execute(
            "select data_type from information_schema.columns "
            "where column_name = 'has_opted_out_of_email'"
        ).fetchone()
    finally:
        con.close()
    assert [(r[0], r[2]) for r in rows] == [("C1", True), ("C2", False), ("C3", None)]
    assert kind == ("BOOLEAN",)
    assert all(re.fullmatch(r"[0-9a-f]{64}", r[1]) for r in rows[:2])  # the e-mail still hashed


def _catalog_reader(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A transaction of another connection of the held warehouse that has read every attached
    database's catalog (no `current_database()`): DuckDB defers a detached database's write-out
    until it ends."""
    reader = duckdb.connect(str(warehouse))  # the held database, shared
    reader.execute("begin transaction")
    reader.execute("select count(*) from information_schema.tables").fetchone()
    return reader


def test_the_snapshot_is_renamed_into_place_only_once_written_out(tmp_path: Path) -> None:
    """A catalog read beside the publish (act's thread, the report's) must not let a snapshot
    whose tables still sit in its WAL be renamed into place: publish waits for the write-out,
    and past its limit fails with the previous snapshot left in place."""
    warehouse = make_warehouse(tmp_path / "cx.duckdb")
    bi_dir = tmp_path / "bi"
    readers: list[duckdb.DuckDBPyConnection] = []
    wait = publish.wait_written_out

    def beside(original):  # opens the reading transaction once the first table is copied
        def export(cursor, relation, path):
            if not readers:
                readers.append(_catalog_reader(warehouse))
            return original(cursor, relation, path)

        return export

    with held_open(warehouse):
        publish_snapshot(warehouse, bi_dir, "pepper", full=True)
        before = snapshot_rows(bi_dir)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("cxloop.publish.export_parquet", beside(publish.export_parquet))
            mp.setattr("cxloop.publish.wait_written_out", partial(wait, seconds=0.3))
            with pytest.raises(
                CxloopError, match=r"cx\.duckdb\.tmp: the new snapshot was not written out"
            ):
                publish_snapshot(warehouse, bi_dir, "pepper", full=True)
            readers.pop().execute("commit")
            assert snapshot_rows(bi_dir) == before  # the previous snapshot stays

            mp.setattr("cxloop.publish.wait_written_out", wait)
            threading.Timer(0.5, lambda: readers[0].execute("commit")).start()
            started = time.monotonic()
            publish_snapshot(warehouse, bi_dir, "pepper", full=True)
            waited = time.monotonic() - started
            assert snapshot_rows(bi_dir) == before  # read at once: every table, every row
    assert waited >= 0.5 and not (bi_dir / "cx.duckdb.tmp.wal").exists()
