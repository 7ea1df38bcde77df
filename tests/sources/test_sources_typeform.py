"""Typeform: signed webhook requests and Responses API pages, mapped onto our survey fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from survey_sources import SECRET, SECRET_ENV, ingest, request_bytes, rows, survey_sources

from cxloop.errors import SourceError
from cxloop.sources.webhook_requests import (
    MessageError,
    SignatureError,
    parse_http_message,
    typeform_signature,
    verify_typeform_signature,
)

ANA = "a1n2a3l4i5m6a7t8o9k0e1n2a3l4i5m6"
BO = "b0c1h2e3n4t5o6k7e8n9b0c1h2e3n4t5"
EVE = "e1v2e3t4o5k6e7n8e9v0e1t2o3k4e5n6"
CY = "c1y2d3i4a5z6t7o8k9e0n1c2y3d4i5a6"
DEE = "d1e2e3t4o5k6e7n8d9e0e1t2o3k4e5n6"

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return survey_sources(tmp_path)


# --- the signature ------------------------------------------------------------------------


def test_signature_is_base64_hmac_sha256_of_the_raw_bytes() -> None:
    # expected values computed apart from cxloop, with
    # printf '%s' hello | openssl dgst -sha256 -hmac whsec-test-3f9a -binary | base64
    assert typeform_signature(SECRET, b"hello") == (
        "sha256=dLyvP7lArlJceB4LfTaKASNaD799Z+j9fUCmNBsmZz0="
    )
    body = (Path(__file__).parents[1] / "fixtures/surveys/typeform/bodies/ana.json").read_bytes()
    assert typeform_signature(SECRET, body) == (
        "sha256=599HgpwXgg5eFIM8eUhSK56lbuInbcrVKggIQOoE3bA="
    )


def test_verify_accepts_the_signed_bytes_only() -> None:
    body = b'{"event_type":"form_response"}'
    good = typeform_signature(SECRET, body)
    verify_typeform_signature(SECRET, body, good)  # no error
    with pytest.raises(SignatureError, match="does not match"):
        verify_typeform_signature(SECRET, body + b"\n", good)  # one byte more
    with pytest.raises(SignatureError, match="does not match"):
        verify_typeform_signature("another-secret", body, good)
    with pytest.raises(SignatureError, match="unsigned"):
        verify_typeform_signature(SECRET, body, None)
    hex_digest = "sha256=" + bytes.fromhex("00" * 32).hex()
    with pytest.raises(SignatureError, match="does not match"):
        verify_typeform_signature(SECRET, body, hex_digest)
    with pytest.raises(SignatureError, match="not of the form"):
        verify_typeform_signature(SECRET, body, good.removeprefix("sha256="))


def test_http_message_keeps_the_body_byte_for_byte() -> None:
    body = b'{"a":"line\r\n\r\nbreak"}\n'
    parsed = parse_http_message(request_bytes(body, "sha256=x"))
    assert parsed.body == body
    assert parsed.header("typeform-signature") == "sha256=x"
    assert parsed.header("Content-Length") == str(len(body))
    lf_only = parse_http_message(b"Typeform-Signature: sha256=y\nContent-Type: a/b\n\n{}")
    assert (lf_only.header("TYPEFORM-SIGNATURE"), lf_only.body) == ("sha256=y", b"{}")
    with pytest.raises(MessageError, match="no empty line"):
        parse_http_message(b'{"form_response":{}}')


# --- landing ------------------------------------------------------------------------------


def test_signed_requests_and_api_pages_land_the_mapped_fields(folder: Path, tmp_path: Path) -> None:
    report = ingest(folder, tmp_path)
    counts = report["entities"]["typeform.responses"]
    # 5 requests (3 good, 1 tampered, 1 unsigned) + 1 page of 3 items
    assert counts == {"files": 6, "read": 8, "landed": 6, "quarantined": 2, "duplicate": 0,
                      "erased": 0, "skipped_files": 0}  # fmt: skip
    landed = rows(
        tmp_path,
        "select token, delivery, nps, csat, ces, open_text, email, ticket_id, survey_id, "
        "survey_kind, touchpoint, channel, submitted_at, event_id "
        "from raw.typeform__responses order by _source_file, _row_number",
    )
    assert landed == [
        (CY, "responses_api", "10", None, "7", "Great – solved in minutes", "cy@example.com",
         "1002", "TF_support", "transactional", "support_ticket", "email",
         "2024-05-03T08:00:00Z", None),
        (ANA, "responses_api", "9", None, "6", "Fast and friendly", "Ana.Lima@Example.com",
         None, "TF_support", "transactional", "support_ticket", "email",
         "2024-05-02T10:01:30Z", None),
        # the optional "why" and the effort question unanswered: omitted, so null
        (DEE, "responses_api", "7", None, None, None, "dee@example.com", None, "TF_support",
         "transactional", "support_ticket", "email", "2024-05-03T09:11:45Z", None),
        (ANA, "webhook", "9", None, "6", "Fast and friendly", "Ana.Lima@Example.com", None,
         "TF_support", "transactional", "support_ticket", "email", "2024-05-02T10:01:30Z",
         "01HZX3K9Q5V7B8C2D4E6F8G0H1"),
        (BO, "webhook", "3", None, "2", None, "bo.chen@example.com", "1001", "TF_support",
         "transactional", "support_ticket", "email", "2024-05-02T11:30:00Z",
         "01HZX4M2R8T1V3X5Z7B9D1F3H5"),
        (EVE, "webhook", "8", None, "4", "ok", "eve@personal.example", None, "TF_support",
         "transactional", "support_ticket", "email", "2024-05-02T12:15:00Z",
         "01HZX5A4C6E8G0J2L4N6Q8S0U2"),
    ]  # fmt: skip
    [(answers, hidden)] = rows(
        tmp_path,
        f"select answers, hidden from raw.typeform__responses where token = '{BO}'",
    )
    assert json.loads(answers) == {"nps": "3", "effort": "2"}
    assert json.loads(hidden) == {"email": "bo.chen@example.com", "ticket_id": "1001"}


def test_tampered_and_unsigned_requests_are_quarantined_not_landed(
    folder: Path, tmp_path: Path
) -> None:
    ingest(folder, tmp_path)
    quarantined = rows(
        tmp_path,
        "select source_file, row_number, field, reason, original like 'POST /hooks/typeform%' "
        "from ops.quarantine where source = 'typeform' order by source_file",
    )
    assert [(q[0], q[1], q[2], q[4]) for q in quarantined] == [
        ("typeform/webhooks/20240502T130000Z-01HZX6B5.http", 1, "Typeform-Signature", True),
        ("typeform/webhooks/20240502T130500Z-unsigned.http", 1, "Typeform-Signature", True),
    ]
    assert quarantined[0][3] == (
        "typeform/webhooks/20240502T130000Z-01HZX6B5.http: Typeform-Signature does not match "
        "the body (tampered, or signed with another secret)"
    )
    assert quarantined[1][3] == (
        "typeform/webhooks/20240502T130500Z-unsigned.http: unsigned: no Typeform-Signature header"
    )
    assert rows(tmp_path, "select count(*) from raw.typeform__responses where nps in ('1', '10') "
                "and email = 'mallory@example.com'") == [(0,)]  # fmt: skip
    again = ingest(folder, tmp_path)["entities"]["typeform.responses"]
    assert (again["skipped_files"], again["landed"], again["quarantined"]) == (6, 0, 0)


def test_a_missing_secret_stops_with_the_variable_named(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(SourceError) as err:
        ingest(folder, tmp_path)
    assert str(err.value).startswith("typeform/webhooks/20240502T100130Z-01HZX3K9.http: ")
    assert "environment variable CXLOOP_TYPEFORM_SECRET is not set" in str(err.value)


def _signed_request(folder: Path, name: str, edit: dict) -> None:
    body = json.loads((folder / "typeform/bodies/ana.json").read_bytes())
    body["form_response"]["token"] = "t" + name
    for question in body["form_response"]["definition"]["fields"]:
        question.update(edit.get(question["ref"], {}))
    raw = json.dumps(body).encode()
    path = folder / "typeform/webhooks" / f"{name}.http"
    path.write_bytes(request_bytes(raw, typeform_signature(SECRET, raw)))


def test_a_scale_other_than_ours_is_quarantined_with_the_question(
    folder: Path, tmp_path: Path
) -> None:
    # CES asked 0-10 instead of 1-7: cxloop does not rescale
    _signed_request(folder, "x-ces-0-10", {"effort": {"properties": {"steps": 11}}})
    # a 7-star rating is on the CES scale: lands
    seven_stars = {"type": "rating", "properties": {"steps": 7}}
    _signed_request(folder, "x-ces-rating", {"effort": seven_stars})
    # the form lost the mapped question
    _signed_request(folder, "x-no-nps", {"nps": {"ref": "recommend", "id": "Fnew99"}})
    ingest(folder, tmp_path)
    assert rows(
        tmp_path,
        "select source_file, field, reason from ops.quarantine where source_file like '%/x-%' "
        "order by source_file",
    ) == [
        ("typeform/webhooks/x-ces-0-10.http", "ces",
         "typeform/webhooks/x-ces-0-10.http: ces: question 'effort' is a opinion_scale 0-10, "
         "not on the CES scale 1-7 (cxloop does not rescale)"),
        ("typeform/webhooks/x-no-nps.http", "nps",
         "typeform/webhooks/x-no-nps.http: nps: the form has no question with ref or id 'nps'"),
    ]  # fmt: skip
    assert rows(tmp_path, "select ces from raw.typeform__responses where token = 'tx-ces-rating'"
                ) == [("6",)]  # fmt: skip


def test_a_page_that_is_not_a_responses_page_stops_with_the_file(
    folder: Path, tmp_path: Path
) -> None:
    page = folder / "typeform/responses/aBc12XyZ/page-002.json"
    page.write_text('{"form_response": {}}')
    with pytest.raises(SourceError, match=r"page-002.json: no `items` array \(expected a Typ"):
        ingest(folder, tmp_path)
    page.unlink()
    other = folder / "typeform/responses/zzUnknown/page-001.json"
    other.parent.mkdir()
    other.write_text('{"items": [], "total_items": 0, "page_count": 0}')
    with pytest.raises(SourceError, match="no forms.. mapping for form 'zzUnknown'"):
        ingest(folder, tmp_path)


def test_a_retried_delivery_and_a_re_pull_add_nothing(folder: Path, tmp_path: Path) -> None:
    ingest(folder, tmp_path)
    webhooks = folder / "typeform/webhooks"
    # Typeform retries a request it got no 2xx for: the same bytes under a new file name
    retry = (webhooks / "20240502T100130Z-01HZX3K9.http").read_bytes()
    (webhooks / "20240502T100230Z-retry.http").write_bytes(retry)
    # the API pulled again with a different page layout: same items, other bytes
    page = folder / "typeform/responses/aBc12XyZ/page-001.json"
    (page.parent / "page-001-again.json").write_text(json.dumps(json.loads(page.read_text())))
    counts = ingest(folder, tmp_path)["entities"]["typeform.responses"]
    assert (counts["landed"], counts["duplicate"], counts["skipped_files"]) == (0, 3, 7)
