"""A BI reader in another process keeps working while the snapshot is republished repeatedly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from gate_state import mark_checked

from cxloop.publish import publish_snapshot

READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

snapshot, stop, expected = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
reads, errors, torn = 0, [], []
deadline = time.monotonic() + 120  # bounded, whatever the writer does
while not stop.exists() and time.monotonic() < deadline:
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
        try:
            for table, count in expected.items():
                got = con.execute(f"select count(*) from {table}").fetchone()[0]
                if got != count:
                    torn.append(f"{table}: {got} != {count}")
            reads += 1
        finally:
            con.close()
    except Exception as exc:  # a failed open or read is what the test is about
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps({"reads": reads, "errors": errors[:5], "error_count": len(errors),
                  "torn": torn[:5]}))
"""


def test_reader_is_never_blocked_nor_sees_a_half_written_snapshot(
    built_home: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    shutil.copy(built_home / "warehouse" / "cx.duckdb", warehouse)
    mark_checked(warehouse)  # what a passing `cxloop check --stage marts` records
    bi_dir = tmp_path / "bi"
    counts = publish_snapshot(warehouse, bi_dir, "salt")
    expected = {t: n for t, n in counts.items() if t.startswith("marts.mart_")}
    ours = ("nps", "csat", "ces", "ticket_kpis", "churn", "account_health", "topics")
    assert all(expected[f"marts.mart_{name}"] > 0 for name in ours), expected
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(bi_dir / "cx.duckdb"), str(stop), json.dumps(expected)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.5)
        for _ in range(12):  # a pipeline-like writer republishing the same marts
            assert publish_snapshot(warehouse, bi_dir, "salt") == counts
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=150)
    result = json.loads(out)
    assert result["error_count"] == 0, result["errors"]
    assert result["torn"] == []
    assert result["reads"] >= 12
    # the last snapshot is complete, masked and readable read-only
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        emails = con.execute("select email from marts.dim_customers where email is not null")
        assert all("@" not in e for (e,) in emails.fetchall())
    finally:
        con.close()
    assert sorted(p.name for p in (bi_dir / "parquet").iterdir()) == sorted(
        f"{t}.parquet" for t in counts
    )
