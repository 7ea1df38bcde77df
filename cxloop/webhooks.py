"""Receive SendGrid's signed Event Webhook and write each accepted batch as a source file.

SendGrid signs `timestamp || raw body` with ECDSA P-256 / SHA-256 and sends the signature
(base64 DER) and the timestamp in headers. A batch whose signature verifies and whose timestamp
is recent is written atomically to `<sendgrid source folder>/events/`, so the normal ingest lands
it exactly as it lands exported files (and de-duplicates re-deliveries the same way).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from cxloop.config import ProjectConfig
from cxloop.errors import ConfigError, SourceError
from cxloop.sources.sendgrid import parse_events

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
DEFAULT_PATH = "/sendgrid/events"
MAX_BODY_BYTES = 5 * 1024 * 1024  # SendGrid flushes at about 768 KB


class WebhookRejected(Exception):
    """A request we refuse: the HTTP status to answer and why (never the body's content)."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def load_public_key(b64_der: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key (base64 DER SubjectPublicKeyInfo, no PEM armour)."""
    setting = "CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY"
    try:
        key = load_der_public_key(base64.b64decode(b64_der.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{setting}: not a base64 DER public key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"{setting}: expected an ECDSA P-256 key as SendGrid shows it")
    return key


def verify_signature(
    key: ec.EllipticCurvePublicKey,
    signature_b64: str | None,
    timestamp: str | None,
    body: bytes,
    *,
    now: float,
    max_age_seconds: int,
) -> None:
    """Raise WebhookRejected unless `timestamp || body` is signed by key and recent."""
    if not signature_b64 or not timestamp:
        raise WebhookRejected(
            HTTPStatus.BAD_REQUEST, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}"
        )
    if not timestamp.strip().isdigit():
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, f"{TIMESTAMP_HEADER} is not Unix seconds")
    age = now - int(timestamp)
    if abs(age) > max_age_seconds:
        raise WebhookRejected(
            HTTPStatus.FORBIDDEN, f"stale timestamp: {int(age)} s old (limit {max_age_seconds} s)"
        )
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise WebhookRejected(HTTPStatus.FORBIDDEN, "signature does not verify") from exc


def write_batch(folder: Path, body: bytes, received_at: datetime) -> Path:
    """Write one batch atomically (temporary name, fsync, rename); named by receipt time."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = received_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = folder / f"webhook-{stamp}-{hashlib.sha256(body).hexdigest()[:12]}.json"
    tmp = folder / f".{final.name}.tmp"  # not *.json: ingest never sees a half-written file
    with open(tmp, "wb") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    return final


def events_folder(sources_dir: Path, config: ProjectConfig) -> Path:
    """`<sources>/<path of the sendgrid source>/events`; the config must declare one."""
    names = [name for name, s in config.sources.items() if s.kind == "sendgrid"]
    if len(names) != 1:
        found = f"found {len(names)}" + (f" ({', '.join(names)})" if names else "")
        raise ConfigError(
            f"cxloop.yaml: key 'sources': need exactly one source of kind sendgrid, {found}"
        )
    return Path(sources_dir) / config.sources[names[0]].path / "events"


@dataclass
class EventReceiver:
    """Verifies and stores webhook batches; the HTTP layer only passes bytes and headers."""

    key: ec.EllipticCurvePublicKey
    folder: Path
    max_age_seconds: int = 300
    max_body_bytes: int = MAX_BODY_BYTES
    clock: Callable[[], float] = time.time
    accepted: int = 0
    rejected: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def receive(self, headers: Mapping[str, str], body: bytes) -> Path:
        """Verify, check the body is a JSON array, write it; raises WebhookRejected."""
        try:
            now = self.clock()
            verify_signature(
                self.key,
                headers.get(SIGNATURE_HEADER),
                headers.get(TIMESTAMP_HEADER),
                body,
                now=now,
                max_age_seconds=self.max_age_seconds,
            )
            try:
                parse_events(body, "request body")
            except SourceError as exc:
                raise WebhookRejected(HTTPStatus.BAD_REQUEST, str(exc)) from exc
            path = write_batch(self.folder, body, datetime.fromtimestamp(now, UTC))
        except WebhookRejected:
            with self._lock:
                self.rejected += 1
            raise
        with self._lock:
            self.accepted += 1
        return path


Route = Callable[[Mapping[str, str], bytes, dict[str, str]], str]
"""A POST handler: (headers, raw body, query parameters) -> the 200 answer's text, or raises
WebhookRejected."""


def make_server(
    receiver: EventReceiver,
    host: str = "127.0.0.1",
    port: int = 8085,
    path: str = DEFAULT_PATH,
    log: Callable[[str], None] | None = None,
) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer answering POST `path` (200 stored, 400/403/404/405/411/413)."""

    def store(headers: Mapping[str, str], body: bytes, query: dict[str, str]) -> str:
        return f"stored {receiver.receive(headers, body).name}"

    return make_routes_server({path: store}, host, port, log, receiver.max_body_bytes)


def make_routes_server(
    routes: Mapping[str, Route],
    host: str = "127.0.0.1",
    port: int = 8085,
    log: Callable[[str], None] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> ThreadingHTTPServer:
    """One server for every receiver: POST to a route's path, else 404/405/411/413."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "cxloop-webhooks"

        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            route, _, query = self.path.partition("?")
            try:
                handler = routes.get(route)
                if handler is None:
                    raise WebhookRejected(
                        HTTPStatus.NOT_FOUND, f"no such path (use {', '.join(routes)})"
                    )
                message = handler(self.headers, self._body(), dict(parse_qsl(query)))
            except WebhookRejected as exc:
                self._answer(exc.status, exc.reason)
                return
            self._answer(HTTPStatus.OK, message)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, f"POST to {', '.join(routes)}")

        def _body(self) -> bytes:
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise WebhookRejected(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            if int(length) > max_body_bytes:
                raise WebhookRejected(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
            return self.rfile.read(int(length))

        def _answer(self, status: HTTPStatus, message: str) -> None:
            payload = (message + "\n").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if log is not None:
                log(f"{self.command} {self.path.partition('?')[0]} -> {status.value} {message}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
