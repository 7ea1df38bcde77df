"""Received webhook requests on disk, and the Typeform signature over their raw bytes.

A receiver writes each request as one HTTP-message file (`*.http`): an optional request line
(`POST /hooks/typeform HTTP/1.1`), header lines `Name: value`, an empty line, then the body
bytes exactly as received. One file keeps the signature and the bytes it signs together, and
its sha256 names the delivery. Lines may end in CRLF or LF; the body is never re-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from cxloop.errors import CxloopError

TYPEFORM_SIGNATURE_HEADER = "Typeform-Signature"
_REQUEST_LINE = re.compile(rb"^[A-Z]+ \S+ HTTP/\d(\.\d)?$")


class SignatureError(CxloopError):
    """A webhook body is unsigned or its signature does not match (tampered or wrong secret)."""


class MessageError(CxloopError):
    """A file is not an HTTP message (no empty line between headers and body, bad header)."""


@dataclass(frozen=True)
class ReceivedRequest:
    """One received request: its headers (case-insensitive lookup) and raw body bytes."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)


def parse_http_message(data: bytes) -> ReceivedRequest:
    """Split an HTTP-message file into headers and the body bytes (kept byte for byte)."""
    match = re.search(rb"\r?\n\r?\n", data)
    if match is None:
        raise MessageError("no empty line between the headers and the body")
    head, body = data[: match.start()], data[match.end() :]
    lines = head.split(b"\n")
    if lines and _REQUEST_LINE.match(lines[0].rstrip(b"\r")):
        lines = lines[1:]
    headers = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r").decode("latin-1")
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise MessageError(f"header line {number} is not 'Name: value': {line[:60]!r}")
        headers.append((name, value.strip()))
    return ReceivedRequest(tuple(headers), body)


def format_http_message(headers: dict[str, str], body: bytes, request_line: str = "") -> bytes:
    """The bytes of an HTTP-message file (what a receiver writes; parse_http_message reads)."""
    lines = ([request_line] if request_line else []) + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def write_http_message(path: Path, headers: dict[str, str], body: bytes) -> None:
    """Write one received request atomically (temporary name, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(format_http_message(headers, body))
    tmp.replace(path)


def typeform_signature(secret: str | bytes, raw_body: bytes) -> str:
    """The Typeform-Signature value: `sha256=` + base64(HMAC-SHA256(secret, raw body))."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, raw_body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def verify_typeform_signature(secret: str | bytes, raw_body: bytes, header: str | None) -> None:
    """Raise SignatureError unless `header` signs exactly these bytes (constant-time compare)."""
    if not header:
        raise SignatureError(f"unsigned: no {TYPEFORM_SIGNATURE_HEADER} header")
    if not header.startswith("sha256="):
        raise SignatureError(
            f"{TYPEFORM_SIGNATURE_HEADER} {header[:20]!r} is not of the form sha256=<base64>"
        )
    expected = typeform_signature(secret, raw_body)
    if not hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8")):
        raise SignatureError(
            f"{TYPEFORM_SIGNATURE_HEADER} does not match the body (tampered, or signed with "
            "another secret)"
        )
