"""Erasure in the files `cxloop serve-webhooks` writes into the sources folder.

They are cxloop's own, like the pages `cxloop pull` writes, but are not in the pull manifest
(pull's recovery deletes the manifest pages it cannot match to a cursor). They are found by
where and how the receivers name them:

- Typeform `<typeform path>/webhooks/webhook-<UTC>-<event_id>.http` (cxloop/moment/receive.py):
  one signed request, one response; deleted when the response is the person's.
- Qualtrics `<qualtrics path>/events/<SurveyID>-<ResponseID>.json` (cxloop/moment/receive.py):
  one notification and the response fetched for it; deleted when the ResponseID is one of the
  person's or the file holds one of their e-mail addresses.
- SendGrid `<sendgrid path>/events/webhook-<UTC>-<sha>.json` (cxloop/webhooks.py): a batch of
  many people's events; rewritten without the person's events, deleted when none is left.

The user's own files beside them (`events/batch-*.json` they exported, ...) are theirs and left
as they are, as in the pull rewrite.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from cxloop.config import ProjectConfig, SourceConfig
from cxloop.erasure import files
from cxloop.erasure.identifiers import emails_in, identifier_hash
from cxloop.erasure.tombstones import registered_hashes
from cxloop.errors import SourceError

RECEIVED = {
    "typeform": ("webhooks", "webhook-*.http"),
    "qualtrics": ("events", "*.json"),
    "sendgrid": ("events", "webhook-*.json"),
}


def received_files(folder: Path, kind: str) -> list[Path]:
    """The files the webhook receiver of `kind` wrote into a source folder, in name order."""
    if kind not in RECEIVED:
        return []
    sub, pattern = RECEIVED[kind]
    return sorted(p for p in (Path(folder) / sub).glob(pattern) if p.is_file())


def rewrite_received(
    config: ProjectConfig, sources_dir: Path, hashes: dict[str, str], salt: str
) -> dict[str, int]:
    """Drop the person's received requests and events; returns what went, per source."""
    removed: dict[str, int] = {}
    if not hashes:
        return removed
    con = duckdb.connect()
    try:
        with registered_hashes(con, hashes, salt):
            for name, source in config.sources.items():
                folder = Path(sources_dir) / source.path
                for path in received_files(folder, source.kind):
                    rel = path.relative_to(sources_dir).as_posix()
                    n, what = _erase_in(con, source, path, rel, hashes, salt)
                    if n:
                        key = f"received.{name}.{what}"
                        removed[key] = removed.get(key, 0) + n
    finally:
        con.close()
    return removed


def _erase_in(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    path: Path,
    rel: str,
    hashes: dict[str, str],
    salt: str,
) -> tuple[int, str]:
    """(how many, of what) the person lost in one received file."""
    if source.kind == "sendgrid":
        from cxloop.sources.sendgrid import read_file

        batch = read_file("events", path, rel, source)
        drop = files.matching_rows(con, "sendgrid__events", batch.rows)
        if not drop:
            return 0, "events"
        if len(drop) >= len(batch.rows):
            path.unlink()
        else:
            files.rewrite_pulled_file(path, drop, header_rows=0)
        return len(drop), "events"
    if source.kind == "typeform":
        theirs = _typeform_request_is_theirs(con, source, path, rel, hashes, salt)
    else:
        theirs = _qualtrics_event_is_theirs(path, hashes, salt)
    if theirs:
        path.unlink()
    return int(theirs), "requests"


def _typeform_request_is_theirs(
    con: duckdb.DuckDBPyConnection,
    source: SourceConfig,
    path: Path,
    rel: str,
    hashes: dict[str, str],
    salt: str,
) -> bool:
    from cxloop.sources.typeform import read_file

    try:
        rows = read_file("responses", path, rel, source).rows
    except SourceError:  # the webhook secret is not set here: the addresses in the request
        return _names_their_email(path.read_text(encoding="utf-8", errors="replace"), hashes, salt)
    if files.matching_rows(con, "typeform__responses", rows):
        return True
    # a request quarantined at ingest (bad signature, ...) has no parsed values: its text
    return any(
        not row.values and _names_their_email(path.read_text("utf-8", "replace"), hashes, salt)
        for row in rows
    )


def _qualtrics_event_is_theirs(path: Path, hashes: dict[str, str], salt: str) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = {}
    note = record.get("notification") if isinstance(record, dict) else None
    response_id = (note or {}).get("ResponseID") if isinstance(note, dict) else None
    response_id = response_id or path.stem.rsplit("-", 1)[-1]
    if identifier_hash(salt, "qualtrics_response", response_id) in hashes:
        return True
    return _names_their_email(text, hashes, salt)


def _names_their_email(text: str, hashes: dict[str, str], salt: str) -> bool:
    return any(identifier_hash(salt, "email", email) in hashes for email in emails_in(text))
