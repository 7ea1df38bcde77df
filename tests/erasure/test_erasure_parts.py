"""The parts of an erasure, each on hand-made data: hashes, the row test, the lake and pulled
files rewritten, the warehouse file rewritten, and the CLI's refusals."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cxloop.erasure import files, store
from cxloop.erasure.identifiers import identifier_hash, phone_variants, row_match_sql
from cxloop.erasure.tombstones import registered_hashes
from cxloop.sources.digests import DIGESTS_FILE

SALT = "s3cret"


def test_identifiers_are_normalised_then_hashed_with_salt_and_kind() -> None:
    worked = hashlib.sha256(b"s3cret:email:jane.roe@example.com").hexdigest()
    assert identifier_hash(SALT, "email", "  Jane.Roe@Example.COM ") == worked
    assert identifier_hash(SALT, "phone", "+49 (30) 1234-5671") == (
        hashlib.sha256(b"s3cret:phone:493012345671").hexdigest()
    )
    assert identifier_hash(SALT, "phone", "12-34") is None  # too short to be a phone
    assert identifier_hash(SALT, "zendesk_user", " 7004 ") == (
        hashlib.sha256(b"s3cret:zendesk_user:7004").hexdigest()
    )
    # E.164 with and without its country code, and as written
    assert phone_variants("030 12345671", "+493012345671") == {
        "03012345671",
        "493012345671",
        "3012345671",
    }


def _hashes(*pairs: tuple[str, str]) -> dict[str, str]:
    return {identifier_hash(SALT, kind, value): kind for kind, value in pairs}


def test_a_row_matches_by_person_column_or_by_an_email_in_any_text() -> None:
    con = duckdb.connect()
    frame = pa.table(
        {
            "id": ["1", "2", "3", "4"],
            "requester_id": ["7004", "7001", "7002", None],
            "description": [None, "write to JANE.ROE@example.com please", "no one", None],
        }
    )
    con.register("tickets", frame)
    hashes = _hashes(("zendesk_user", "7004"), ("email", "jane.roe@example.com"))
    with registered_hashes(con, hashes, SALT):
        predicate = row_match_sql("zendesk__tickets", frame.column_names)
        rows = con.execute(f"select id from tickets where {predicate} order by id").fetchall()
        kept = con.execute(f"select count(*) from tickets where not {predicate}").fetchone()
    assert rows == [("1",), ("2",)]
    assert kept == (2,)  # nulls are not matches: the row with no requester stays


def test_a_column_named_with_quotes_is_matched_not_spliced_into_the_sql() -> None:
    """A source's key may hold double quotes (it lands as a column): the predicate quotes it,
    so it neither breaks the statement nor changes what it matches."""
    con = duckdb.connect()
    sneaky = "id\" as varchar), '')) or true or (cast(\"id"
    frame = pa.table(
        {
            "id": ["1", "2"],
            'say "hi"': ["mail jane.roe@example.com", "no one"],
            sneaky: ["x", "y"],
        }
    )
    con.register("users", frame)
    with registered_hashes(con, _hashes(("email", "jane.roe@example.com")), SALT):
        predicate = row_match_sql("zendesk__users", frame.column_names)
        rows = con.execute(f"select id from users where {predicate} order by id").fetchall()
    assert rows == [("1",)]


def test_lake_files_and_leftover_tmp_copies_are_rewritten_without_the_person(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "lake" / "raw" / "zendesk" / "users"
    folder.mkdir(parents=True)
    table = pa.table(
        {"id": ["7004", "7001"], "email": ["jane.roe@example.com", "omar@example.com"]}
    )
    pq.write_table(table, folder / "zendesk-users-aaa.parquet")
    pq.write_table(table, folder / "zendesk-users-bbb.parquet.tmp")
    pq.write_table(table.slice(1), folder / "zendesk-users-ccc.parquet")
    untouched = (folder / "zendesk-users-ccc.parquet").stat().st_mtime_ns
    memo = tmp_path / "lake" / DIGESTS_FILE  # source paths, e.g. an export named after her
    memo.write_text('{"/exports/jane.roe@example.com.json": {}}')
    half_written = memo.with_name(f"{DIGESTS_FILE}.tmp")  # an ingest killed while saving it
    half_written.write_text('{"/exports/jane.roe@example.com.json"')
    removed = files.rewrite_lake(tmp_path / "lake", _hashes(("zendesk_user", "7004")), SALT)
    assert removed == {"zendesk.users": 2}
    assert not memo.exists() and not half_written.exists()
    for name in ("zendesk-users-aaa.parquet", "zendesk-users-bbb.parquet.tmp"):
        assert pq.read_table(folder / name).to_pylist() == [
            {"id": "7001", "email": "omar@example.com"}
        ]
        assert b"jane.roe" not in (folder / name).read_bytes()
    assert (folder / "zendesk-users-ccc.parquet").stat().st_mtime_ns == untouched


def test_a_pulled_qualtrics_csv_loses_the_rows_named_keeping_its_three_header_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"\xef\xbb\xbfResponseId,Q1\r\nResponse ID,How likely\r\n"
        b'"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}"\r\n'
        b'R_1,"9, ""great"""\r\nR_2,3\r\nR_3,10\r\n'
    )
    assert files.rewrite_pulled_file(path, {2}, header_rows=3) == 1
    assert path.read_bytes() == (
        b"\xef\xbb\xbfResponseId,Q1\r\nResponse ID,How likely\r\n"
        b'"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}"\r\n'
        b'R_1,"9, ""great"""\r\nR_3,10\r\n'
    )


def test_a_pulled_json_page_loses_the_objects_named_keeping_its_envelope(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"id": 1}, {"id": 2}, {"id": 3}], "end_of_stream": True}))
    assert files.rewrite_pulled_file(path, {1, 3}, header_rows=0) == 2
    assert json.loads(path.read_text()) == {"users": [{"id": 2}], "end_of_stream": True}


def test_deleted_rows_stay_in_the_duckdb_file_until_it_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "cx.duckdb"
    with contextlib.closing(duckdb.connect(str(path))) as con:
        # stored as written, so that the bytes are there to find (DuckDB compresses otherwise)
        con.execute("pragma force_compression = 'uncompressed'")
        con.execute("create schema raw")
        con.execute(
            "create table raw.t as select range as id, 'zq-unique-person-' || range as note "
            "from range(2000)"
        )
        con.execute("create view raw.v as select count(*) as n from raw.t")
        con.execute("checkpoint")
        assert b"zq-unique-person-" in path.read_bytes()
        con.execute("delete from raw.t where id < 2000")
        con.execute("insert into raw.t values (1, 'someone else')")
        con.execute("checkpoint")
    assert b"zq-unique-person-" in path.read_bytes()  # freed blocks keep the bytes
    store.compact(path)
    assert b"zq-unique-person-" not in path.read_bytes()
    assert not Path(f"{path}.wal").exists()
    with contextlib.closing(duckdb.connect(str(path), read_only=True)) as con:
        assert con.execute("select n from raw.v").fetchall() == [(1,)]
        assert con.execute("select note from raw.t").fetchall() == [("someone else",)]


def test_scrub_redacts_text_files_and_deletes_binary_ones(tmp_path: Path) -> None:
    (tmp_path / "gx").mkdir()
    (tmp_path / "gx" / "result.json").write_text(
        json.dumps({"unexpected": ["Jane.Roe@example.com", "Zoë Roe"]})
    )
    (tmp_path / "gx" / "docs.html").write_text("<td>Zo&euml;</td><td>jane.roe@example.com</td>")
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00jane.roe@example.com\x00")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "file.txt").write_text("jane.roe@example.com")
    done = files.scrub_files(tmp_path, ["jane.roe@example.com", "Zoë Roe"], [tmp_path / "keep"])
    assert done == {"gx redacted": 2, "blob.bin deleted": 1}
    assert json.loads((tmp_path / "gx" / "result.json").read_text()) == {
        "unexpected": ["[erased]", "[erased]"]
    }
    assert "jane" not in (tmp_path / "gx" / "docs.html").read_text()
    assert not (tmp_path / "blob.bin").exists()
    assert (tmp_path / "keep" / "file.txt").read_text() == "jane.roe@example.com"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --email ADDRESS or --customer-id ID"),
        (["--email", "a@b.example", "--customer-id", "c1"], "give exactly one of"),
        (["--email", "not-an-address"], "--email 'not-an-address' is not an e-mail address"),
    ],
)
def test_the_cli_refuses_to_guess_who(args: list[str], message: str, cx_home: Path) -> None:
    from cxloop.flows.cli import app

    result = CliRunner().invoke(app, ["erase", *args])
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
