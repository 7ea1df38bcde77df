"""A corpus of bad files (tests/fixtures/bad/, the big and UTF-16 ones made here), each landed
after the good fixtures: a one-line error naming file, row and field, or rows quarantined with
the reason; per file read = landed + quarantined + duplicate + erased; nothing landed before
is lost.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import yaml

from cxloop.errors import SourceError
from cxloop.settings import Settings
from cxloop.sources.ingest import ingest_entity, plan_ingest, resolve_run

ROOT = Path(__file__).resolve().parents[1] / "fixtures"
BAD = ROOT / "bad"
TEN_MB = 10 * 1024 * 1024


@dataclass
class Case:
    """Where a bad file goes in the sources folder, and what must come of it."""

    target: str  # path in the sources folder
    source: str | None = None  # a corpus file, else `make` writes the bytes
    error: str | None = None  # the whole one-line message
    quarantined: list[tuple[int, str, str]] = field(default_factory=list)  # row, field, reason
    landed: int | None = None
    duplicate: int = 0


def sf_account_with(value: str) -> bytes:
    header = '"Id","Name","Description","CreatedDate","LastModifiedDate"\n'
    row = (
        '"0015g00000ZzZzZAAV","Big Co","{}","2023-01-10T08:00:00.000Z","2024-04-01T00:00:00.000Z"\n'
    )
    return (header + row.format(value)).encode()


def zendesk_ticket_with_description(value: str) -> bytes:
    ticket = {
        "id": 6001,
        "created_at": "2024-04-05T08:00:00Z",
        "updated_at": "2024-04-05T08:00:00Z",
        "subject": "Log attached",
        "description": value,
        "status": "open",
        "requester_id": 501,
    }
    page = {"tickets": [ticket], "after_cursor": None, "end_of_stream": True}
    return json.dumps(page).encode()


def zendesk_users_page(*users: dict[str, object]) -> bytes:
    base = {
        "role": "end-user",
        "created_at": "2024-03-01T08:00:00Z",
        "updated_at": "2024-03-01T08:00:00Z",
    }
    page = {"users": [{**base, **u} for u in users], "next_page": None, "end_of_stream": True}
    return json.dumps(page).encode()


NPS = (ROOT / "sources" / "qualtrics" / "nps_relational_2024.csv").read_bytes()
NPS_FILE = "qualtrics/nps_relational_2024_utf16.csv"

MADE: dict[str, bytes] = {
    # a 10 MB text field: read whole, then quarantined (no export field is that long)
    "sf-10mb": sf_account_with("x" * TEN_MB),
    "zd-10mb": zendesk_ticket_with_description("y" * TEN_MB),
    # Excel's "Unicode text": UTF-16 with its byte-order mark (the BOM of the UTF-8 file goes)
    "qualtrics-utf16": codecs.BOM_UTF16_LE + NPS.decode("utf-8-sig").encode("utf-16-le"),
    # the same without a byte-order mark: NUL bytes between the characters
    "qualtrics-utf16-nobom": NPS.decode("utf-8-sig").encode("utf-16-le"),
    # the Arabic CSAT export in UTF-8 (no mark) where cxloop.yaml declares cp1256
    "qualtrics-utf8-as-cp1256": (BAD / "qualtrics" / "csat_after_ticket_bom.csv").read_bytes()[3:],
    # keys that differ only by case: DuckDB's column names ignore case
    "zd-email-Email-one-object": zendesk_users_page(
        {"id": 7001, "name": "Ada", "email": "ada@example.com"},
        {"id": 7002, "name": "Bo", "email": "bo@example.com", "Email": "bo@other.example.com"},
    ),
    "zd-email-Email-two-objects": zendesk_users_page(
        {"id": 7003, "name": "Cy", "email": "cy@example.com"},
        {"id": 7004, "name": "Di", "Email": "di@example.com"},
    ),
    "zd-unnamed-keys": zendesk_users_page(
        {"id": 7005, "name": "Ed", "": ""},
        {"id": 7006, "name": "Flo", "": "x"},
        {"id": 7007, "name": "Gus", "_source": "me"},
        {"id": 7008, "name": "Hal", 'say "hi"': "hi"},
    ),
    "zd-ID-then-id": zendesk_users_page(
        {"ID": 7011, "name": "Ivy", "email": "ivy@example.com"},
        {"id": 7012, "name": "Jo", "email": "jo@example.com"},
    ),
    "sf-two-unnamed": (
        b'"Id","Name","CreatedDate","LastModifiedDate",,\n'
        b'"0015g00000ZzZzXAAV","Tiny Co","2023-01-10T08:00:00.000Z","2024-04-01T00:00:00.000Z",,\n'
        b'"0015g00000ZzZzWAAV","Lost Co","2023-01-10T08:00:00.000Z","2024-04-01T00:00:00.000Z",y,\n'
    ),
    "sf-trailing-comma": (
        b'"Id","Name","CreatedDate","LastModifiedDate",\n'
        b'"0015g00000ZzZzYAAV","Small Co","2023-01-10T08:00:00.000Z","2024-04-01T00:00:00.000Z",\n'
    ),
    "sf-Email-email-header": (
        b'"Id","AccountId","LastName","Email","email","CreatedDate","LastModifiedDate"\n'
        b'"0035g00000Lp9ZZAAJ","0015g00000AbCdE","Roe","a@example.com","b@example.com",'
        b'"2024-01-10T08:00:00.000Z","2024-04-01T00:00:00.000Z"\n'
    ),
}

CASES: dict[str, Case] = {
    "truncated CSV, cut inside a quoted value": Case(
        "salesforce/Account.csv",
        "salesforce/Account.truncated-in-quote.csv",
        error="salesforce/Account.csv, row 3: not valid CSV: unexpected end of data "
        "(expected RFC 4180 CSV)",
    ),
    "truncated CSV, cut between values": Case(
        "salesforce/Account.csv",
        "salesforce/Account.truncated-row.csv",
        quarantined=[(2, "", "row: has 3 values, expected 13 like the header")],
        landed=1,
    ),
    "UTF-8 byte-order mark and CRLF (Salesforce, re-saved in Excel)": Case(
        "salesforce/Account.csv", "salesforce/Account.utf8-bom-crlf.csv", landed=1
    ),
    "UTF-8 byte-order mark under a declared cp1256 (Qualtrics)": Case(
        "qualtrics/csat_after_ticket_2.csv",
        "qualtrics/csat_after_ticket_bom.csv",
        error="qualtrics/csat_after_ticket_2.csv, row 1: cxloop.yaml declares encoding cp1256, "
        "but the file starts with a UTF-8 byte-order mark "
        "(expected `encoding: utf-8` (or no `encoding:`) for a UTF-8 export)",
    ),
    "wrongly declared encoding: UTF-8 declared cp1256 (no mark)": Case(
        "qualtrics/csat_after_ticket_3.csv",
        "qualtrics-utf8-as-cp1256",
        error="qualtrics/csat_after_ticket_3.csv, row 1: cxloop.yaml declares encoding cp1256, "
        "but the file is valid UTF-8 with non-ASCII characters "
        "(expected `encoding: utf-8` (or no `encoding:`) for a UTF-8 export)",
    ),
    "wrongly declared encoding: Latin-1 bytes read as UTF-8": Case(
        "salesforce/Contact.csv",
        "salesforce/Contact.latin1.csv",
        error="salesforce/Contact.csv, row 2, field 'FirstName': cannot decode byte 0xf6 at "
        "line 2 (expected text in utf-8 (set `encoding:` in cxloop.yaml if the file is not))",
    ),
    # the same responses as the UTF-8 export landed before: its 3 good rows are duplicates,
    # its 2 bad rows quarantined again, under this file's name
    "UTF-16 with its byte-order mark (Qualtrics)": Case(
        NPS_FILE,
        "qualtrics-utf16",
        quarantined=[
            (3, "nps", "nps: '11' is not an integer from 0 to 10"),
            (5, "RecordedDate", "RecordedDate: '05/06/2024 09:00' is not a datetime"),
        ],
        landed=0,
        duplicate=3,
    ),
    "UTF-16 without a byte-order mark": Case(
        NPS_FILE,
        "qualtrics-utf16-nobom",
        error=f"{NPS_FILE}, row 1: NUL bytes between characters from line 1: UTF-16 without a "
        "byte-order mark? (expected text in utf-8, or UTF-16 with its byte-order mark)",
    ),
    "NUL character in a CSV field": Case(
        "salesforce/Contact.csv",
        "salesforce/Contact.nul.csv",
        quarantined=[(1, "Title", "Title: a NUL character at position 5 (binary data?)")],
        landed=1,
    ),
    "NUL character in a JSON string": Case(
        "zendesk/tickets/page-900.json",
        "zendesk/page-nul.json",
        quarantined=[(1, "subject", "subject: a NUL character at position 8 (binary data?)")],
        landed=1,
    ),
    "a 10 MB CSV field": Case(
        "salesforce/Account.csv",
        "sf-10mb",
        quarantined=[(1, "Description", "Description: 10,485,760 characters, over the limit")],
        landed=0,
    ),
    "a 10 MB JSON string": Case(
        "zendesk/tickets/page-901.json",
        "zd-10mb",
        quarantined=[(1, "description", "description: 10,485,760 characters, over the limit")],
        landed=0,
    ),
    "JSON with the wrong envelope (Search API results)": Case(
        "zendesk/tickets/page-902.json",
        "zendesk/page-search-envelope.json",
        error="zendesk/tickets/page-902.json, field 'tickets': no 'tickets' array in the page "
        '(expected an envelope like {"tickets": [...], "end_of_stream": ...})',
    ),
    "JSON with no envelope (a bare array of users)": Case(
        "zendesk/users/page-903.json",
        "zendesk/page-bare-array.json",
        error="zendesk/users/page-903.json, field 'users': no 'users' array in the page "
        '(expected an envelope like {"users": [...], "end_of_stream": ...})',
    ),
    "JSON with an envelope where SendGrid sends an array": Case(
        "sendgrid/events/batch-20240606T000000Z.json",
        "sendgrid/batch-object.json",
        error="sendgrid/events/batch-20240606T000000Z.json: the body is a JSON dict "
        "(expected a SendGrid Event Webhook body: a JSON array of event objects)",
    ),
    "dates in the future": Case(
        "zendesk/tickets/page-904.json",
        "zendesk/page-future.json",
        quarantined=[
            (1, "created_at", "created_at: '2099-01-01T00:00:00Z' is in the future"),
        ],
        landed=1,  # 4002: a task due in 2099 is fine
    ),
    "JSON keys that differ only by case, in one object": Case(
        "zendesk/users/page-906.json",
        "zd-email-Email-one-object",
        quarantined=[
            (2, "Email", "Email: 'email' and 'Email' name one column (column names ignore case)")
        ],
        landed=1,
    ),
    "JSON keys that differ only by case, in two objects (one column)": Case(
        "zendesk/users/page-907.json", "zd-email-Email-two-objects", landed=2
    ),
    "JSON keys no column can have (empty, a landing column's), and a quoted one": Case(
        "zendesk/users/page-908.json",
        "zd-unnamed-keys",
        quarantined=[
            (2, "", "'x': a value with no column name"),
            (3, "_source", "_source: a column name the landing keeps for its own"),
        ],
        landed=2,  # and a key with a double quote is a column like any other
    ),
    "JSON keys that differ only by case take the contract's spelling (id, required)": Case(
        "zendesk/users/page-909.json", "zd-ID-then-id", landed=2
    ),
    "CSV header with two unnamed columns, a value under one": Case(
        "salesforce/Account.csv",
        "sf-two-unnamed",
        quarantined=[(2, "", "'y': a value with no column name")],
        landed=1,
    ),
    "CSV header with a trailing comma (an empty last name)": Case(
        "salesforce/Account.csv", "sf-trailing-comma", landed=1
    ),
    "CSV header names that differ only by case": Case(
        "salesforce/Contact.csv",
        "sf-Email-email-header",
        error="salesforce/Contact.csv, row 1, field 'email': 'Email' and 'email' name one "
        "column (expected each column named once, ignoring case)",
    ),
    "empty Salesforce CSV": Case(
        "salesforce/User.csv",
        "salesforce/User.empty.csv",
        error="salesforce/User.csv, row 1: empty file (expected an export with a header or a body)",
    ),
    "empty Zendesk page": Case(
        "zendesk/users/page-905.json",
        "zendesk/page-empty.json",
        error="zendesk/users/page-905.json, row 1: empty file "
        "(expected an export with a header or a body)",
    ),
    "empty Qualtrics export": Case(
        "qualtrics/nps_relational_2025.csv",
        "qualtrics/nps_relational_empty.csv",
        error="qualtrics/nps_relational_2025.csv, row 1: empty file "
        "(expected an export with a header or a body)",
    ),
    "empty SendGrid batch": Case(
        "sendgrid/events/batch-20240606T000001Z.json",
        "sendgrid/batch-empty.json",
        error="sendgrid/events/batch-20240606T000001Z.json, row 1: empty file "
        "(expected an export with a header or a body)",
    ),
}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """The good fixtures with a SendGrid source added to cxloop.yaml."""
    target = tmp_path / "sources"
    shutil.copytree(ROOT / "sources", target)
    config = yaml.safe_load((target / "cxloop.yaml").read_text())
    config["sources"]["sendgrid"] = {"kind": "sendgrid", "path": "sendgrid"}
    (target / "cxloop.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    return target


def ingest(sources: Path, warehouse: Path) -> list[str]:
    """Every entity, as the flow does (one fails, the others go on); the errors' messages."""
    run = resolve_run(Settings().paths, sources, warehouse=warehouse, lake_dir=warehouse.parent)
    errors = []
    for job in plan_ingest(run):
        try:
            ingest_entity(run, job)
        except SourceError as exc:
            errors.append(str(exc))
    return errors


def raw_hashes(warehouse: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw'"
        ).fetchall()
        return {
            (t, h)
            for (t,) in tables
            for (h,) in con.execute(f'select _content_hash from raw."{t}"').fetchall()
        }
    finally:
        con.close()


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_file(name: str, sources: Path, tmp_path: Path) -> None:
    case = CASES[name]
    warehouse = tmp_path / "wh" / "cx.duckdb"
    assert ingest(sources, warehouse) == []
    before = raw_hashes(warehouse)
    target = sources / case.target
    target.parent.mkdir(parents=True, exist_ok=True)
    data = MADE[case.source] if case.source in MADE else (BAD / case.source).read_bytes()
    target.write_bytes(data)

    errors = ingest(sources, warehouse)

    assert before <= raw_hashes(warehouse), "rows landed before were lost"
    for read, landed, quarantined, duplicate, erased in query(
        warehouse,
        "select rows_read, rows_landed, rows_quarantined, rows_duplicate, rows_erased "
        "from ops.ingest_files",
    ):
        assert read == landed + quarantined + duplicate + erased
    files = query(
        warehouse,
        "select rows_landed, rows_quarantined, rows_duplicate from ops.ingest_files "
        "where source_file = ? and file_sha256 = ?",
        [case.target, hashlib.sha256(data).hexdigest()],
    )
    if case.error is not None:
        assert errors == [case.error]
        assert "\n" not in case.error and files == []
        return
    assert errors == []
    assert files == [(case.landed, len(case.quarantined), case.duplicate)]
    rows = query(
        warehouse,
        "select row_number, field, reason from ops.quarantine q join ops.ingest_files f "
        "using (batch_id) where f.file_sha256 = ? order by 1",
        [hashlib.sha256(data).hexdigest()],
    )
    assert len(rows) == len(case.quarantined)
    for (row, field_name, reason), (want_row, want_field, want_reason) in zip(
        rows, case.quarantined, strict=True
    ):
        assert (row, field_name or "") == (want_row, want_field)
        assert reason.startswith(want_reason), reason


def test_the_same_id_in_two_files_with_different_content_lands_both(
    sources: Path, tmp_path: Path
) -> None:
    """Two deliveries of ticket 2001 disagree (priority, tags): raw keeps both as delivered."""
    warehouse = tmp_path / "wh" / "cx.duckdb"
    for name in ("page-same-id-a.json", "page-same-id-b.json"):
        shutil.copy(
            BAD / "zendesk" / name, sources / "zendesk" / "tickets" / f"page-9{name[-6]}.json"
        )
    assert ingest(sources, warehouse) == []
    rows = query(
        warehouse,
        "select _source_file, priority, tags from raw.zendesk__tickets where id = '2001' "
        "order by _source_file",
    )
    assert rows == [
        ("zendesk/tickets/page-9a.json", "normal", "[]"),
        ("zendesk/tickets/page-9b.json", "urgent", '["escalated"]'),
    ]


def test_a_key_spelled_otherwise_in_a_later_object_lands_in_the_first_spellings_column(
    sources: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh" / "cx.duckdb"
    target = sources / "zendesk" / "users" / "page-907.json"
    target.write_bytes(MADE["zd-email-Email-two-objects"])
    assert ingest(sources, warehouse) == []
    rows = query(
        warehouse,
        "select id, email from raw.zendesk__users where id in ('7003', '7004') order by 1",
    )
    assert rows == [("7003", "cy@example.com"), ("7004", "di@example.com")]
