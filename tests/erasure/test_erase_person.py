"""Erasure end to end on Company A's hand-written exports (tests/fixtures/sources/company_a).

Anna Schmidt is a Salesforce contact, a Zendesk requester (user 7004, one ticket) and a
relational NPS respondent; a hand-written second export adds her detractor answer, so the
loop e-mails her and books a callback. The Zendesk folder is marked as written by
`cxloop pull` (its manifest); the Salesforce and Qualtrics folders are the user's own exports.
After `erase --email`, no file under CXLOOP_HOME holds her e-mail, phone or name, by bytes or
read logically; an old export landed again does not bring her back; and Layla Haddad is erased
by customer id.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from erasure_scan import byte_hits, logical_hits

COMPANY_A = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "company_a"
NOON = datetime(2024, 5, 13, 12, 0, tzinfo=UTC)  # after the survey answers, Berlin daytime
ANNA = [
    "anna.schmidt@acme-gmbh.example",
    "+49 30 12345671",
    "+493012345671",
    "493012345671",
    "Anna Schmidt",
    "0038d00000AnnaS",  # her Salesforce contact id (15 and 18 characters)
]
LAYLA = ["layla.haddad@noor-trading.example", "+971501234567", "971501234567", "Layla Haddad"]
# her detractor answer, in Qualtrics' export format (3 header rows, as the Q2 file has)
DETRACTOR_ROW = (
    "2024-05-10 09:00:00,2024-05-10 09:02:00,0,203.0.113.10,100,120,1,2024-05-10 09:02:01,"
    "R_9AnnaDetract0r1,Schmidt,Anna,anna.schmidt@acme-gmbh.example,0038d00000AnnaS,"
    '52.5200,13.4050,email,EN,3,1,2,"Reports fail every week, call me on +49 30 12345671"\r\n'
)


def _sources(root: Path) -> Path:
    sources = root / "sources"
    shutil.copytree(COMPANY_A, sources)
    q2 = (sources / "qualtrics" / "relational_nps_2024_q2.csv").read_bytes()
    headers = b"\r\n".join(q2.split(b"\n")[:3]).replace(b"\r\r", b"\r") + b"\r\n"
    (sources / "qualtrics" / "relational_nps_2024_q2_late.csv").write_bytes(
        headers + DETRACTOR_ROW.encode()
    )
    pulled = sources / "zendesk" / ".cxloop-pull"
    pulled.mkdir()
    (pulled / "manifest.jsonl").write_text(
        "".join(
            json.dumps({"path": p}) + "\n"
            for p in ("users/users-1712000000.json", "tickets/tickets-1714000000.json")
        )
    )
    return sources


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict:
    """The loop run once, Anna's traces taken, then Anna erased by e-mail."""
    from cxloop.erasure.run import subject_key
    from cxloop.flows.erase import erase
    from cxloop.flows.pipeline import pipeline
    from cxloop.settings import Settings

    root = tmp_path_factory.mktemp("erase")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CXLOOP_HOME", str(root / "home"))
        mp.delenv("CXLOOP_SENDGRID_API_KEY", raising=False)
        mp.delenv("CXLOOP_CONFIG", raising=False)
        mp.delenv("CXLOOP_WAREHOUSE", raising=False)
        sources = _sources(root)
        config = str(sources / "cxloop.yaml")
        paths = Settings().paths
        run = pipeline(str(sources), now=NOON)
        before = {
            "bytes": byte_hits(paths.home, ANNA),
            "logical": logical_hits(paths.home, ANNA),
            "outbox": sorted(p.name for p in paths.outbox.glob("*.eml")),
            "customers": _rows(paths.warehouse, "select count(*) from marts.dim_customers")[0][0],
            "accounts": _rows(paths.warehouse, "select count(*) from marts.dim_accounts")[0][0],
        }
        report = erase(subject_key("Anna.Schmidt@acme-gmbh.example", None), str(sources), config)
        yield {
            "paths": paths,
            "sources": sources,
            "config": config,
            "run": run,
            "before": before,
            "report": report,
            "mp": mp,
        }


def test_the_loop_reached_anna_before_the_erasure(world: dict) -> None:
    before = world["before"]
    assert world["run"]["status"] == "ok", world["run"].get("blocked")
    # the scans can find her: her e-mail in clear in files, and every identifier logically
    assert any("anna.schmidt@acme-gmbh.example" in h for h in before["bytes"].values())
    assert any(f.startswith("outbox") for f in before["bytes"])  # the follow-up e-mail to her
    logical = {h.split(": ", 1)[1] for hits in before["logical"].values() for h in hits}
    assert {"anna.schmidt@acme-gmbh.example", "anna schmidt", "+493012345671"} <= {
        n.lower() for n in logical
    }
    assert any(k.startswith("lake/") for k in before["logical"])


def test_no_byte_of_anna_is_left_under_cxloop_home(world: dict) -> None:
    assert byte_hits(world["paths"].home, ANNA) == {}


def test_no_table_or_parquet_file_holds_anna_when_read(world: dict) -> None:
    assert logical_hits(world["paths"].home, ANNA) == {}
    assert world["report"]["residual"] == {}


def test_everyone_else_stays_and_the_snapshot_is_republished(world: dict) -> None:
    paths, before, report = world["paths"], world["before"], world["report"]
    assert report["snapshot"] == "republished"
    customers = _rows(paths.warehouse, "select count(*) from marts.dim_customers")[0][0]
    assert customers == before["customers"] - 1
    assert (
        _rows(paths.warehouse, "select count(*) from marts.dim_accounts")[0][0]
        == (before["accounts"])
    )
    assert _rows(
        paths.warehouse,
        "select count(*) from marts.dim_customers "
        "where email = 'layla.haddad@noor-trading.example'",
    ) == [(1,)]
    versions = sorted(p.name for p in paths.bi.glob("parquet-*"))
    assert len(versions) == 1 and (paths.bi / "parquet").resolve().name == versions[0]
    assert len(list(paths.outbox.glob("*.eml"))) == len(before["outbox"]) - 1


def test_the_log_holds_a_hash_the_time_and_counts(world: dict) -> None:
    paths, report = world["paths"], world["report"]
    rows = _rows(paths.warehouse, "select subject_hash, identifiers, removed from ops.erasures")
    assert len(rows) == 1
    subject_hash, identifiers, removed = rows[0]
    assert len(subject_hash) == 64 and identifiers == report["identifiers"] >= 6
    removed = json.loads(removed)
    assert removed["raw.salesforce__contact"] == 1
    assert removed["raw.zendesk__users"] == 1
    assert removed["raw.zendesk__tickets"] == 1
    # her NPS answers (promoter, then detractor) and her CSAT on ticket 5004
    assert removed["raw.qualtrics__responses"] == 3
    assert removed["ops.playbook_actions"] >= 1 and removed["ops.callback_tasks"] == 1
    assert removed["pulled.helpdesk.users"] == 1 and removed["pulled.helpdesk.tickets"] == 1


def test_the_users_own_exports_are_left_and_pulled_files_are_cleaned(world: dict) -> None:
    sources = world["sources"]
    assert (
        b"anna.schmidt@acme-gmbh.example" in (sources / "salesforce" / "Contact.csv").read_bytes()
    )
    users = json.loads((sources / "zendesk" / "users" / "users-1712000000.json").read_bytes())
    assert 7004 not in [u["id"] for u in users["users"]] and len(users["users"]) >= 3


def test_an_old_export_landed_again_does_not_bring_her_back(world: dict) -> None:
    from cxloop.flows.build import build
    from cxloop.flows.ingest import ingest

    paths, sources = world["paths"], world["sources"]
    contact = sources / "salesforce" / "Contact.csv"
    contact.write_bytes(  # the old export again, with one new contact: a new file
        contact.read_bytes().rstrip(b"\r\n")
        + b'\r\n"0038d00000NewCo","0018d00000AcmeGAAR","Kai","Neumann",'
        b'"kai.neumann@acme-gmbh.example","","","Buyer","Germany","false","de",'
        b'"2024-05-12T10:00:00.000Z","2024-05-12T10:00:00.000Z"\r\n'
    )
    report = ingest(str(sources), world["config"])
    counts = report["entities"]["salesforce.contact"]
    assert (counts["read"], counts["landed"], counts["quarantined"], counts["erased"]) == (
        9,
        1,
        0,
        1,
    )
    for c in report["entities"].values():
        assert c["read"] == c["landed"] + c["quarantined"] + c["duplicate"] + c["erased"]
    build(world["config"])
    assert _rows(
        paths.warehouse,
        "select count(*) from marts.dim_customers where email like 'anna.schmidt%'",
    ) == [(0,)]
    assert _rows(
        paths.warehouse,
        "select count(*) from raw.salesforce__contact where Email like 'kai.neumann%'",
    ) == [(1,)]
    assert logical_hits(paths.warehouse.parent, ANNA) == {}


def test_erasure_by_customer_id(world: dict) -> None:
    from cxloop.erasure.run import subject_key
    from cxloop.flows.erase import erase

    paths = world["paths"]
    [(customer_id,)] = _rows(
        paths.warehouse,
        "select customer_id from marts.dim_customers "
        "where email = 'layla.haddad@noor-trading.example'",
    )
    report = erase(subject_key(None, customer_id), str(world["sources"]), world["config"])
    assert report["customers"] == 1 and report["residual"] == {}
    assert byte_hits(paths.home, LAYLA) == {}
    assert logical_hits(paths.home, LAYLA) == {}
    assert _rows(paths.warehouse, "select count(*) from ops.erasures") == [(2,)]
