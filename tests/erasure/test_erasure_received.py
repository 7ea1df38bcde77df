"""Erasure in the files `cxloop serve-webhooks` wrote into the sources folder: the person's
Typeform requests and Qualtrics event files go, SendGrid batches lose the person's events, and
the user's own files beside them stay as they are. Hand-written files, no build."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from cxloop.config import load_config
from cxloop.erasure import received
from cxloop.erasure.identifiers import identifier_hash
from cxloop.sources.webhook_requests import (
    TYPEFORM_SIGNATURE_HEADER,
    typeform_signature,
    write_http_message,
)

SALT = "s3cret"
SECRET = "tf-webhook-secret"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BODIES = FIXTURES / "surveys" / "typeform" / "bodies"


def config_in(sources: Path) -> Path:
    survey_sources = yaml.safe_load((FIXTURES / "surveys" / "cxloop.yaml").read_text())["sources"]
    file_sources = yaml.safe_load((FIXTURES / "sources" / "cxloop.yaml").read_text())["sources"]
    cfg = {"version": 1, "sources": {
        "typeform": survey_sources["typeform"], "qualtrics": file_sources["qualtrics"],
        "sendgrid": {"kind": "sendgrid", "path": "sendgrid"}}}  # fmt: skip
    path = sources / "cxloop.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def received_request(folder: Path, body_file: str) -> Path:
    """A Typeform request as the receiver writes it (cxloop/moment/receive.py)."""
    body = (BODIES / body_file).read_bytes().strip()
    event_id = json.loads(body)["event_id"]
    path = folder / f"webhook-20240502T100130000000Z-{event_id}.http"
    headers = {TYPEFORM_SIGNATURE_HEADER: typeform_signature(SECRET, body),
               "Content-Type": "application/json"}  # fmt: skip
    write_http_message(path, headers, body)
    return path


def event(email: str, sg_event_id: str) -> dict:
    return {"email": email, "timestamp": 1717599910, "event": "delivered",
            "sg_event_id": sg_event_id, "sg_message_id": "msg0002.filter0001"}  # fmt: skip


def qualtrics_event(folder: Path, response_id: str, email: str | None) -> Path:
    """An event file as the receiver writes it: the notification and the fetched response."""
    note = {"Topic": "surveyengine.completedResponse.SV_relational_nps", "Status": "Complete",
            "SurveyID": "SV_relational_nps", "ResponseID": response_id,
            "CompletedDate": "2024-05-02 10:01:30"}  # fmt: skip
    values = {"QID1": 3, **({"recipientEmail": email} if email else {})}
    path = folder / f"SV_relational_nps-{response_id}.json"
    record = {"notification": note, "response": {"responseId": response_id, "values": values}}
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return path


def test_received_files_lose_the_person_and_the_users_own_files_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_TYPEFORM_SECRET", SECRET)
    config = load_config(config_in(tmp_path))
    webhooks = tmp_path / "typeform" / "webhooks"
    webhooks.mkdir(parents=True)
    ana_request = received_request(webhooks, "ana.json")  # hidden email Ana.Lima@Example.com
    bo_request = received_request(webhooks, "bo_without_reason.json")
    events = tmp_path / "qualtrics" / "events"
    events.mkdir(parents=True)
    ana_event = qualtrics_event(events, "R_ana01", "ana.lima@example.com")
    by_id = qualtrics_event(events, "R_ana02", None)  # only the response id says it is hers
    bo_event = qualtrics_event(events, "R_bo01", "bo.chen@example.com")
    sendgrid = tmp_path / "sendgrid" / "events"
    sendgrid.mkdir(parents=True)
    mixed = sendgrid / "webhook-20240605T150000000000Z-0a1b2c3d4e5f.json"
    mixed.write_text(json.dumps([event("omar@acme.example", "e1"), event("ANA.LIMA@example.com",
                     "e2"), event("omar@acme.example", "e3")]))  # fmt: skip
    only_hers = sendgrid / "webhook-20240605T151000000000Z-9f8e7d6c5b4a.json"
    only_hers.write_text(json.dumps([event("ana.lima@example.com", "e4")]))
    exported = sendgrid / "batch-20240605T150000Z.json"  # the user's own export: theirs
    exported.write_text(json.dumps([event("ana.lima@example.com", "e5")]))
    untouched = {p: p.read_bytes() for p in (bo_request, bo_event, exported)}

    hashes = {identifier_hash(SALT, kind, value): kind for kind, value in (
        ("email", "ana.lima@example.com"), ("qualtrics_response", "R_ana02"),
        ("typeform_response", "a1n2a3l4i5m6a7t8o9k0e1n2a3l4i5m6"))}  # fmt: skip
    removed = received.rewrite_received(config, tmp_path, hashes, SALT)

    assert removed == {
        "received.typeform.requests": 1,
        "received.qualtrics.requests": 2,
        "received.sendgrid.events": 2,
    }
    assert not ana_request.exists() and not ana_event.exists() and not by_id.exists()
    assert not only_hers.exists()
    assert [e["sg_event_id"] for e in json.loads(mixed.read_text())] == ["e1", "e3"]
    assert b"ana.lima" not in mixed.read_bytes().lower()
    assert {p: p.read_bytes() for p in untouched} == untouched
    # nothing left behind under a temporary name
    assert not [p for p in tmp_path.rglob("*") if "tmp" in p.name]
    # a second erasure finds nothing more
    assert received.rewrite_received(config, tmp_path, hashes, SALT) == {}


def test_a_typeform_request_is_found_by_its_text_when_the_secret_is_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CXLOOP_TYPEFORM_SECRET", raising=False)
    config = load_config(config_in(tmp_path))
    webhooks = tmp_path / "typeform" / "webhooks"
    webhooks.mkdir(parents=True)
    ana = received_request(webhooks, "ana.json")
    bo = received_request(webhooks, "bo_without_reason.json")
    email_hash = hashlib.sha256(f"{SALT}:email:ana.lima@example.com".encode()).hexdigest()
    removed = received.rewrite_received(config, tmp_path, {email_hash: "email"}, SALT)
    assert removed == {"received.typeform.requests": 1}
    assert not ana.exists() and bo.exists()


def test_a_pulled_hubspot_contact_company_link_is_the_contacts() -> None:
    import duckdb
    import pyarrow as pa

    from cxloop.erasure.identifiers import row_match_sql
    from cxloop.erasure.tombstones import registered_hashes

    con = duckdb.connect()
    links = pa.table({"from_id": ["51", "52"], "to": ['[{"toObjectId": 9001}]', "[]"],
                      "completed_at": ["2024-08-01T00:00:00.001Z"] * 2})  # fmt: skip
    con.register("links", links)
    hashes = {identifier_hash(SALT, "hubspot_contact", "51"): "hubspot_contact"}
    with registered_hashes(con, hashes, SALT):
        predicate = row_match_sql("hubspot__contact_companies", links.column_names)
        found = con.execute(f"select from_id from links where {predicate}").fetchall()
    assert found == [("51",)]
