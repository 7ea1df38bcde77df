"""The warehouse held open for a run: writers come and go without closing its database."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cxloop.warehouse import connect, fetch_frame, fetch_frames, held_open, is_held, writer


def test_held_open_keeps_the_database_open_between_writers(tmp_path: Path) -> None:
    path = tmp_path / "cx.duckdb"
    wal = Path(f"{path}.wal")
    with writer(path) as con:
        con.execute("create table t (x integer)")
    assert not wal.exists()  # the last connection's close checkpointed the database

    with held_open(path):
        with writer(path) as con:
            con.execute("insert into t values (1)")
        assert wal.exists()  # not checkpointed: the database stayed open
        with writer(path) as con:  # the next writer sees the committed row
            assert con.execute("select count(*) from t").fetchone() == (1,)
    assert not wal.exists()  # checkpointed once, when the hold ends
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from t").fetchone() == (1,)


def test_held_open_lets_go_when_the_run_fails(tmp_path: Path) -> None:
    path = tmp_path / "cx.duckdb"
    try:
        with held_open(path):
            raise RuntimeError("a stage failed")
    except RuntimeError:
        pass
    with duckdb.connect(str(path), read_only=True) as con:  # no other connection left open
        assert con.execute("select 1").fetchone() == (1,)


def test_a_reader_shares_the_held_database(tmp_path: Path) -> None:
    """DuckDB refuses a read-only connection to a database this process has open read-write;
    `connect(read_only=True)` then shares it (the CX report is read during publish)."""
    path = tmp_path / "cx.duckdb"
    with held_open(path):
        with writer(path) as con:
            con.execute("create table t as select 42 as x")
        try:
            duckdb.connect(str(path), read_only=True)
            raise AssertionError("DuckDB accepted a second configuration")
        except duckdb.ConnectionException:
            pass
        con = connect(path, read_only=True)
        assert con.execute("select x from t").fetchone() == (42,)
        con.close()
        assert is_held(path)
    assert not is_held(path)


def test_a_held_database_is_configured_and_ensured_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hold's own connection sets the memory limit and ensures the schemas and ops tables;
    the stages' connections to the held database skip both (~100 statements an open)."""
    import cxloop.warehouse as warehouse

    ensured: list[object] = []
    real = warehouse.ensure_schemas
    monkeypatch.setattr(warehouse, "ensure_schemas", lambda con: (ensured.append(1), real(con)))
    monkeypatch.setenv("CXLOOP_DUCKDB_MEMORY_LIMIT", "1GB")
    path = tmp_path / "cx.duckdb"
    with held_open(path):
        assert len(ensured) == 1
        for _ in range(3):
            with writer(path) as con:
                limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
                assert con.execute("select count(*) from ops.pipeline_runs").fetchone() == (0,)
        assert len(ensured) == 1
        assert limit.replace(" ", "").lower() in {"1gb", "953.6mib"}
        other = tmp_path / "link" / "cx.duckdb"  # another name for the same file
        (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
        assert is_held(other)
        with held_open(other):
            with writer(other):
                pass
        assert len(ensured) == 1
    with writer(path):  # no longer held: a writer ensures again
        pass
    assert len(ensured) == 2


@pytest.mark.parametrize(
    "where",
    [
        "",  # values and nulls in every column
        "where a = 1",  # no nulls: numpy dtypes
        "where a = 2",  # every value null: nullable dtypes, text as objects
        "where false",  # no rows
    ],
)
@pytest.mark.parametrize(
    "columns",
    [
        "*",
        "a, a",  # a repeated name
        "*, 1.5 as n",  # a type Arrow converts otherwise (decimal): read by .df()
        "*, '00000000-0000-0000-0000-000000000001'::uuid as id, null as nothing",
    ],
)
def test_fetch_frame_gives_the_frame_df_gives(where: str, columns: str) -> None:
    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values "
        "(1, 1::bigint, true, 1.5::double, timestamp '2026-01-01 10:00:00', 'a', 1::tinyint, "
        "timestamptz '2026-01-01 10:00:00+00', 1::ubigint, 2.5::float, false, date '2026-03-01'), "
        "(2, null, null, null, null, null, null, null, null, null, true, null)"
        ") t(a, b, c, f, ts, s, i8, tz, u, f4, flag, day)"
    )
    sql = f"select {columns} from t {where} order by a"
    expected, got = con.execute(sql).df(), fetch_frame(con, sql)
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.tolist() == expected.dtypes.tolist()
    assert got.equals(expected)
    assert [list(map(repr, got[c])) for c in got] == [list(map(repr, expected[c])) for c in got]


def test_fetch_frame_takes_parameters_and_finishes_a_pending_result() -> None:
    con = duckdb.connect()
    con.execute("create table t as select range as i, 'row ' || range as s from range(5)")
    pending = con.execute("insert into t values (9, 'late') returning i")  # not fetched
    assert pending is not None
    got = fetch_frame(con, "select * from t where i >= ? order by i", [3])
    assert got["i"].tolist() == [3, 4, 9]  # the pending insert ran to its end first
    assert got["s"].tolist() == ["row 3", "row 4", "late"]


@pytest.mark.parametrize("columns", ["*", "i, i"])  # Arrow, and .df() for a repeated name
def test_fetch_frames_streams_the_frame_fetch_frame_gives_in_slices(columns: str) -> None:
    con = duckdb.connect()
    con.execute(
        "create table t as select range as i, case when range % 3 = 0 then null "
        "else 'row ' || range end as s from range(300000)"
    )
    sql = f"select {columns} from t where i >= ? order by i"
    frames = list(fetch_frames(con, sql, [5], rows=100_000))
    assert len(frames) >= 2 and all(len(f) < 2 * 122_880 for f in frames)  # about 100k each
    whole = pd.concat(frames, ignore_index=True)
    expected = fetch_frame(con, sql, [5])
    assert whole.dtypes.tolist() == expected.dtypes.tolist()
    assert whole.equals(expected)
    empty = list(fetch_frames(con, "select * from t where false", rows=10))
    assert len(empty) == 1 and empty[0].empty and list(empty[0].columns) == ["i", "s"]
