"""Encryption at rest is unavailable with the pinned DuckDB line, and cxloop says so.

docs/security.md records the decision. If this DuckDB ever writes encrypted files without
httpfs, the first test fails: then implement CXLOOP_WAREHOUSE_KEY instead of refusing it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cxloop.errors import ConfigError
from cxloop.flows.cli import app
from cxloop.settings import Settings
from cxloop.warehouse import connect


def test_this_duckdb_cannot_write_an_encrypted_file(tmp_path: Path) -> None:
    con = duckdb.connect()
    try:
        with pytest.raises(duckdb.Error, match="httpfs"):
            con.execute(f"attach '{tmp_path / 'enc.duckdb'}' as enc (encryption_key 'k')")
            con.execute("create table enc.t as select 'ana.silva@acme.example' as email")
    finally:
        con.close()


def test_a_warehouse_key_stops_cxloop_instead_of_being_ignored(
    tmp_path: Path, cx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_WAREHOUSE_KEY", "correct horse battery staple")
    with pytest.raises(ConfigError, match="CXLOOP_WAREHOUSE_KEY is set, but encryption"):
        _ = Settings().paths
    with pytest.raises(ConfigError, match="encryption at rest is unavailable"):
        connect(tmp_path / "cx.duckdb")
    assert not (tmp_path / "cx.duckdb").exists()
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert "CXLOOP_WAREHOUSE_KEY is set" in result.output
    assert "correct horse" not in result.output
