"""Signed SendGrid Event Webhook: verification, atomic batch files, and landing them by ingest."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cxloop.config import load_config
from cxloop.errors import ConfigError
from cxloop.flows.ingest import ingest
from cxloop.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    EventReceiver,
    events_folder,
    load_public_key,
    make_server,
)

REPO = Path(__file__).resolve().parents[2]
EVENTS = [
    {
        "email": "ana@acme.example",
        "timestamp": 1717601000,
        "smtp-id": "<msg0001.1@ismtpd-1>",
        "event": "unsubscribe",
        "sg_event_id": "dW5zdWItYW5hLTAwMDAwMQ==",
        "sg_message_id": "msg0001.filter0001.16648.5515E0B88.0",
        "category": ["detractor_followup"],
        "cxloop_action_id": "71e3377e-a10f-588a-80d4-45054886555b",
    },
    {
        "email": "bo@example.com",
        "timestamp": 1717600900,
        "event": "delivered",
        "sg_event_id": "ZGVsaXZlcmVkLWJvLTAwMDE=",
        "sg_message_id": "abc1.filter0001.16648.5515E0B88.0",
        "category": "csat",
    },
]
BODY = json.dumps(EVENTS).encode()  # SendGrid's exact bytes are what is signed


@pytest.fixture(scope="module")
def key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows it (base64 DER, no PEM armour)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """Sign like SendGrid: ECDSA P-256 SHA-256 over timestamp || raw body, base64 DER."""
    return base64.b64encode(
        private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    ).decode()


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "cxloop.yaml").write_text(
        "version: 1\nsources:\n  sg:\n    kind: sendgrid\n    path: sendgrid\n"
    )
    return folder


@pytest.fixture
def endpoint(key_pair, sources: Path) -> Iterator[tuple[str, EventReceiver]]:
    receiver = EventReceiver(
        load_public_key(key_pair[1]),
        events_folder(sources, load_config(sources / "cxloop.yaml")),
        max_age_seconds=300,
    )
    server = make_server(receiver, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", receiver
    finally:
        server.shutdown()
        server.server_close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def signed_headers(private: ec.EllipticCurvePrivateKey, body: bytes, age: int = 0) -> dict:
    timestamp = str(int(time.time()) - age)
    return {SIGNATURE_HEADER: sign(private, timestamp, body), TIMESTAMP_HEADER: timestamp}


def batch_files(sources: Path) -> list[Path]:
    return sorted((sources / "sendgrid" / "events").glob("*.json"))


def test_a_good_signature_stores_the_exact_bytes_and_ingest_lands_them(
    endpoint, key_pair, sources: Path, tmp_path: Path, prefect_harness: None
) -> None:
    url, receiver = endpoint
    status, text = post(url + "/sendgrid/events", BODY, signed_headers(key_pair[0], BODY))
    assert status == 200 and "stored webhook-" in text
    (stored,) = batch_files(sources)
    assert stored.read_bytes() == BODY
    assert not list(stored.parent.glob(".*.tmp"))
    # SendGrid re-delivers the same batch: a second file, the same bytes, landed once
    assert post(url + "/sendgrid/events", BODY, signed_headers(key_pair[0], BODY))[0] == 200
    assert len(batch_files(sources)) == 2 and receiver.accepted == 2
    wh = tmp_path / "cx.duckdb"
    report = ingest(str(sources), warehouse=str(wh), lake_dir=str(tmp_path / "lake"))
    assert report["entities"]["sendgrid.events"] == {
        "files": 2,
        "read": 2,
        "landed": 2,
        "quarantined": 0,
        "duplicate": 0,
        "erased": 0,
        "skipped_files": 1,
    }
    con = duckdb.connect(str(wh))
    rows = con.execute(
        'select event, "smtp-id", category, cxloop_action_id from raw.sendgrid__events '
        "order by _row_number"
    ).fetchall()
    con.close()
    assert rows == [
        (
            "unsubscribe",
            "<msg0001.1@ismtpd-1>",
            '["detractor_followup"]',
            EVENTS[0]["cxloop_action_id"],
        ),
        ("delivered", None, "csat", None),
    ]


def test_a_tampered_body_is_refused_and_nothing_is_written(endpoint, key_pair, sources) -> None:
    url, receiver = endpoint
    headers = signed_headers(key_pair[0], BODY)
    tampered = BODY.replace(b"unsubscribe", b"delivered__")
    status, text = post(url + "/sendgrid/events", tampered, headers)
    assert (status, text.strip()) == (403, "signature does not verify")
    assert batch_files(sources) == [] and receiver.rejected == 1


def test_a_signature_by_another_key_is_refused(endpoint, sources) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    status, _ = post(endpoint[0] + "/sendgrid/events", BODY, signed_headers(other, BODY))
    assert status == 403 and batch_files(sources) == []


def test_a_stale_timestamp_is_refused_even_when_signed(endpoint, key_pair, sources) -> None:
    status, text = post(
        endpoint[0] + "/sendgrid/events", BODY, signed_headers(key_pair[0], BODY, age=301)
    )
    assert status == 403 and "stale timestamp: 301 s old (limit 300 s)" in text
    assert batch_files(sources) == []
    fresh = post(endpoint[0] + "/sendgrid/events", BODY, signed_headers(key_pair[0], BODY, age=290))
    assert fresh[0] == 200


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "message"),
    [
        ("/sendgrid/events", {}, BODY, 400, "missing X-Twilio-Email-Event-Webhook-Signature"),
        ("/sendgrid/events", "signed", b'{"event": "open"}', 400, "the body is a JSON dict"),
        ("/sendgrid/events", "signed", b"[{]", 400, "not valid JSON"),
        ("/elsewhere", "signed", BODY, 404, "no such path"),
    ],
)
def test_malformed_requests_get_a_clear_4xx(
    endpoint, key_pair, sources, path, headers, body, status, message
) -> None:
    if headers == "signed":
        headers = signed_headers(key_pair[0], body)
    got_status, text = post(endpoint[0] + path, body, headers)
    assert got_status == status and message in text
    assert batch_files(sources) == []


def test_bad_key_and_config_errors_name_the_setting(sources: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY: not a base64"):
        load_public_key("not base64!")
    rsa_like = base64.b64encode(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    with pytest.raises(ConfigError, match="expected an ECDSA P-256 key"):
        load_public_key(rsa_like)
    (tmp_path / "none.yaml").write_text("version: 1\nsources: {}\n")
    with pytest.raises(ConfigError, match="need exactly one source of kind sendgrid, found 0"):
        events_folder(sources, load_config(tmp_path / "none.yaml"))


def test_cli_serve_webhooks_accepts_a_signed_batch(key_pair, sources: Path, tmp_path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY": key_pair[1],
        "CXLOOP_HOME": str(tmp_path / "home"),
    }
    cxloop = shutil.which("cxloop", path=str(Path(sys.executable).parent))
    proc = subprocess.Popen(
        [cxloop, "serve-webhooks", "--sources", str(sources), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = _post_when_up(f"http://127.0.0.1:{port}/sendgrid/events", key_pair[0], proc)
        assert status == 200 and len(batch_files(sources)) == 1
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert "listening on http://127.0.0.1:" in err


def test_cli_without_a_public_key_exits_1_naming_the_setting(sources: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY"}
    cxloop = shutil.which("cxloop", path=str(Path(sys.executable).parent))
    done = subprocess.run(
        [cxloop, "serve-webhooks", "--sources", str(sources)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY is not set" in done.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post_when_up(url: str, private, proc: subprocess.Popen) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()[1]}")
        try:
            return post(url, BODY, signed_headers(private, BODY))[0]
        except urllib.error.URLError:
            time.sleep(0.2)
    raise AssertionError("server did not start within 60 s")
