"""The hand-written survey sources folder (tests/fixtures/surveys) with its webhook requests.

Typeform bodies are kept as the raw bytes Typeform would send (`typeform/bodies/`); the
requests a receiver writes (`typeform/webhooks/*.http`) are made here, signed with SECRET:
two good ones, one with an optional answer omitted, one tampered after signing, one unsigned.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cxloop.sources.webhook_requests import format_http_message, typeform_signature

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "surveys"
SECRET = "whsec-test-3f9a"
SECRET_ENV = "CXLOOP_TYPEFORM_SECRET"
REQUEST_LINE = "POST /hooks/typeform HTTP/1.1"


def request_bytes(body: bytes, signature: str | None) -> bytes:
    """A received request as the receiver writes it (headers as Typeform sends them)."""
    headers = {"Host": "cx.example.com", "User-Agent": "Typeform Webhooks",
               "Content-Type": "application/json", "Content-Length": str(len(body))}  # fmt: skip
    if signature is not None:
        headers["Typeform-Signature"] = signature
    return format_http_message(headers, body, REQUEST_LINE)


def write_webhooks(folder: Path) -> dict[str, str]:
    """Write the requests into typeform/webhooks/; returns name -> what is special about it."""
    bodies = folder / "typeform" / "bodies"
    target = folder / "typeform" / "webhooks"
    target.mkdir(parents=True, exist_ok=True)
    ana = (bodies / "ana.json").read_bytes()
    bo = (bodies / "bo_without_reason.json").read_bytes()
    eve = (bodies / "eve_not_in_crm.json").read_bytes()
    mallory = (bodies / "mallory.json").read_bytes()
    tampered = mallory.replace(b'"number":1,', b'"number":10,')
    assert tampered != mallory
    files = {
        "20240502T100130Z-01HZX3K9.http": (ana, typeform_signature(SECRET, ana)),
        "20240502T113000Z-01HZX4M2.http": (bo, typeform_signature(SECRET, bo)),
        "20240502T121500Z-01HZX5A4.http": (eve, typeform_signature(SECRET, eve)),
        "20240502T130000Z-01HZX6B5.http": (tampered, typeform_signature(SECRET, mallory)),
        "20240502T130500Z-unsigned.http": (mallory, None),
    }
    for name, (body, signature) in files.items():
        (target / name).write_bytes(request_bytes(body, signature))
    return dict(zip(files, ["ana", "bo", "eve", "tampered", "unsigned"], strict=True))


def survey_sources(tmp_path: Path) -> Path:
    """A private copy of the survey sources folder, webhook requests written."""
    target = tmp_path / "survey_sources"
    shutil.copytree(FIXTURES, target)
    write_webhooks(target)
    return target


def ingest(folder: Path, tmp_path: Path) -> dict:
    """The ingest flow on the survey fixture, into a warehouse and lake under tmp_path."""
    from cxloop.flows.ingest import ingest as ingest_flow

    return ingest_flow(folder, warehouse=tmp_path / "cx.duckdb", lake_dir=tmp_path / "lake")


def rows(tmp_path: Path, sql: str) -> list[tuple]:
    """One query against the warehouse `ingest` wrote."""
    import duckdb

    con = duckdb.connect(str(tmp_path / "cx.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
