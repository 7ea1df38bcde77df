"""SendGrid Event Webhook batches: one POST body (a JSON array of event objects) per file.

Files are `<source folder>/events/*.json`, written by SendGrid exports or by `cxloop
serve-webhooks`, read in file-name order. Keys are kept as sent (`smtp-id` stays hyphenated,
custom args such as `cxloop_action_id` are top-level keys); `category` (string or array) and
other nested values are kept as JSON text when they are not strings. Re-deliveries of the same
event are identical rows (content hash); staging de-duplicates on `sg_event_id` as well.
"""

from __future__ import annotations

import json
from pathlib import Path

from flows.config import SourceConfig
from flows.errors import SourceError
from flows.sources.contracts import Violation, contract_for
from flows.sources.readers import (
    Adapter,
    Batch,
    ParsedRow,
    decode,
    file_sha256,
    json_row_values,
)

KIND = "sendgrid"
ENTITIES = ("events",)
EXPECTED = "a SendGrid Event Webhook body: a JSON array of event objects"


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """SendGrid has one entity: delivery and engagement events."""
    return ENTITIES


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """The event batch files, in file-name order (webhook files are named by receipt time)."""
    return {"events": sorted((folder / "events").glob("*.json"))}


def parse_events(data: bytes, rel: str) -> list[object]:
    """The events of one batch body; a body that is not a JSON array raises SourceError."""
    text = decode(data, rel, "utf-8")
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SourceError(
            rel,
            f"not valid JSON: {exc.msg} at column {exc.colno}",
            row=exc.lineno,
            expected=EXPECTED,
        ) from exc
    except ValueError as exc:
        raise SourceError(rel, f"not valid JSON: {exc}", expected=EXPECTED) from exc
    if not isinstance(body, list):
        raise SourceError(rel, f"the body is a JSON {type(body).__name__}", expected=EXPECTED)
    return body


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one batch file: every array element is one row (non-objects are quarantined)."""
    data = path.read_bytes()
    rows = [_parse_event(n, event) for n, event in enumerate(parse_events(data, rel), start=1)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.values))
    return Batch(
        KIND, entity, rel, file_sha256(data), contract_for(KIND, entity), list(columns), rows
    )


def _reject_constant(name: str) -> object:
    raise ValueError(f"'{name}' is not a JSON value")


def _parse_event(number: int, event: object) -> ParsedRow:
    if not isinstance(event, dict):
        original = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        reason = f"event: {original[:60]!r} is not a JSON object"
        return ParsedRow(number, {}, original, Violation("", reason))
    return ParsedRow(number, json_row_values(event), record=event)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
