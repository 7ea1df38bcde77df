"""An erasure that fails half-way still finishes, and runs again to completion; the sources
folder is found (or refused), never skipped; pulled files are rewritten under the pull lock.
Hand-made warehouses and Company A's hand-written Zendesk users page."""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from cxloop.config import load_config
from cxloop.connectors.store import LOCK_FILE, STATE_DIR
from cxloop.erasure import run
from cxloop.erasure.identifiers import identifier_hash
from cxloop.erasure.run import ErasureError, rewrite_pulled, sources_folder, subject_key
from cxloop.errors import SourceError

COMPANY_A = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "company_a"
SALT = "s3cret"
JANE = "jane.roe@example.com"


def zendesk_sources(root: Path) -> Path:
    """A sources folder with cxloop.yaml and a pulled Zendesk users page (its manifest)."""
    sources = root / "sources"
    shutil.copytree(COMPANY_A / "zendesk" / "users", sources / "zendesk" / "users")
    cfg = {"version": 1, "sources": {"helpdesk": {"kind": "zendesk", "path": "zendesk"}}}
    (sources / "cxloop.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    state = sources / "zendesk" / ".cxloop-pull"
    state.mkdir()
    (state / "manifest.jsonl").write_text(json.dumps({"path": "users/users-1712000000.json"}))
    return sources


def test_the_sources_folder_is_the_config_folder_or_the_erasure_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = zendesk_sources(tmp_path)
    config = load_config(sources / "cxloop.yaml")
    assert sources_folder(str(sources), None, config) == sources
    assert sources_folder(None, str(sources / "cxloop.yaml"), config) == sources
    monkeypatch.setenv("CXLOOP_CONFIG", str(sources / "cxloop.yaml"))  # found as `run` finds it
    assert sources_folder(None, None, config) == sources
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    shutil.copy(sources / "cxloop.yaml", elsewhere / "cxloop.yaml")
    with pytest.raises(ErasureError, match=r"no source folder of cxloop.yaml under .*--sources"):
        sources_folder(None, str(elsewhere / "cxloop.yaml"), config)
    assert sources_folder(None, None, None) is None  # no cxloop.yaml: no source files exist


def test_pulled_files_are_rewritten_only_holding_the_pull_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = zendesk_sources(tmp_path)
    config = load_config(sources / "cxloop.yaml")
    page = sources / "zendesk" / "users" / "users-1712000000.json"
    before = page.read_bytes()
    hashes = {identifier_hash(SALT, "zendesk_user", "7001"): "zendesk_user"}
    monkeypatch.setattr(run, "PULL_LOCK_WAIT_SECONDS", 0.3)
    lock = sources / "zendesk" / STATE_DIR / LOCK_FILE
    with open(lock, "w") as handle:  # a pull of the folder is running
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SourceError, match="another pull of this source is running"):
            rewrite_pulled(config, sources, hashes, SALT)
        assert page.read_bytes() == before  # nothing rewritten under a running pull
    assert rewrite_pulled(config, sources, hashes, SALT) == {"pulled.helpdesk.users": 1}
    assert 7001 not in [u["id"] for u in json.loads(page.read_text())["users"]]


def hand_made_warehouse(path: Path) -> None:
    """Jane in raw (a Zendesk user) and in the marts, as a build would have left her."""
    with contextlib.closing(duckdb.connect(str(path))) as con:
        con.execute("create schema raw; create schema marts")
        con.execute(
            'create table raw.zendesk__users ("id" varchar, "email" varchar, "name" varchar, '
            "_loaded_at timestamp, _content_hash varchar)"
        )
        con.execute(
            "insert into raw.zendesk__users values "
            f"('7004', '{JANE}', 'Jane Roe', '2026-11-01', 'h1'), "
            "('7001', 'omar@example.com', 'Omar Farsi', '2026-11-01', 'h2')"
        )
        con.execute(
            "create table marts.dim_customers (customer_id varchar, email varchar, "
            "email_as_recorded varchar, phone_e164 varchar, salesforce_contact_id varchar, "
            "zendesk_user_id bigint, full_name varchar)"
        )
        con.execute(
            "insert into marts.dim_customers values "
            f"('c-jane', '{JANE}', '{JANE}', null, null, 7004, 'Jane Roe'), "
            "('c-omar', 'omar@example.com', 'omar@example.com', null, null, 7001, 'Omar Farsi')"
        )


def test_a_failed_rebuild_still_finishes_and_a_rerun_completes(
    cx_home: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxloop.flows import erase as erase_flow
    from cxloop.settings import Settings

    monkeypatch.setenv("CXLOOP_PUBLISH_SALT", SALT)
    monkeypatch.chdir(cx_home.parent)  # no cxloop.yaml here: no sources configured
    paths = Settings().paths.ensure()
    hand_made_warehouse(paths.warehouse)
    (paths.bi / "parquet-20261101").mkdir(parents=True)
    (paths.bi / "parquet").symlink_to("parquet-20261101")
    (paths.bi / "cx.duckdb").write_bytes(b"old snapshot")
    note = paths.home / "notes.txt"
    note.write_text(f"call {JANE} back\n")

    def failing_build(config_path: str | None = None, full_refresh: bool = False) -> dict:
        raise RuntimeError("dbt exited with code 2")

    monkeypatch.setattr(erase_flow, "build", failing_build)
    with pytest.raises(ErasureError, match="run the same erase again"):
        erase_flow.erase(subject_key(JANE, None))
    # finish ran: the snapshot withdrawn, the file scrubbed, the erasure logged
    assert not (paths.bi / "parquet").exists() and not (paths.bi / "cx.duckdb").exists()
    assert not list(paths.bi.glob("parquet-*"))
    assert JANE not in note.read_text()
    with contextlib.closing(duckdb.connect(str(paths.warehouse), read_only=True)) as con:
        assert con.execute("select count(*) from ops.erasures").fetchone() == (1,)
        assert con.execute("select count(*) from raw.zendesk__users").fetchone() == (1,)

    # run again: raw no longer knows her, the marts still do; the rebuild now works
    def rebuild(config_path: str | None = None, full_refresh: bool = False) -> dict:
        assert full_refresh  # incremental models hold raw rows: the erasure rebuilds them all
        with contextlib.closing(duckdb.connect(str(paths.warehouse))) as con:
            con.execute("delete from marts.dim_customers where customer_id = 'c-jane'")
        return {}

    monkeypatch.setattr(erase_flow, "build", rebuild)
    monkeypatch.setattr(erase_flow, "check", lambda **kwargs: {})
    monkeypatch.setattr(erase_flow, "publish", lambda config_path=None: {})
    report = erase_flow.erase(subject_key(JANE, None))
    assert report["customers"] == 1 and report["snapshot"] == "republished"
    assert report["scanned"][-2:] == [
        "pulled and received files: none (no source in cxloop.yaml)",
        f"every other file under {paths.home}",
    ]
    with contextlib.closing(duckdb.connect(str(paths.warehouse), read_only=True)) as con:
        assert con.execute("select count(*) from ops.erasures").fetchone() == (2,)
        assert con.execute("select customer_id from marts.dim_customers").fetchall() == [
            ("c-omar",)
        ]
