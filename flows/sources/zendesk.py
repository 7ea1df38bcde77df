"""Zendesk Support incremental export pages: one API response page (JSON) per file.

Cursor pages (`after_cursor`, `end_of_stream`) and time-based pages (`count`, `end_time`,
`next_page`) are both accepted; the records are under the key named like the folder. Pages are
read in file-name order. Nested objects and arrays are kept as JSON text.
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

KIND = "zendesk"
ENTITIES = ("tickets", "users", "organizations", "ticket_events", "satisfaction_ratings")


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """The Zendesk resources we land (one folder each)."""
    return ENTITIES


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Each resource's page files, in file-name order."""
    return {entity: sorted((folder / entity).glob("*.json")) for entity in ENTITIES}


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one page: the envelope must parse and hold the resource's array."""
    data = path.read_bytes()
    records = _envelope_records(decode(data, rel, "utf-8"), rel, entity)
    rows = [_parse_record(number, record) for number, record in enumerate(records, start=1)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.values))
    return Batch(
        KIND, entity, rel, file_sha256(data), contract_for(KIND, entity), list(columns), rows
    )


def _reject_constant(name: str) -> object:
    """NaN and Infinity are not JSON (RFC 8259); Zendesk never sends them."""
    raise ValueError(f"'{name}' is not a JSON value")


def _envelope_records(text: str, rel: str, key: str) -> list[object]:
    try:
        page = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise SourceError(
                rel, f"not valid JSON: {exc}", expected="one Zendesk API response page"
            ) from exc
        raise SourceError(
            rel,
            f"not valid JSON: {exc.msg} at column {exc.colno}",
            row=exc.lineno,
            expected="one Zendesk API response page",
        ) from exc
    if not isinstance(page, dict) or not isinstance(page.get(key), list):
        raise SourceError(
            rel,
            f"no '{key}' array in the page",
            field=key,
            expected=f'an envelope like {{"{key}": [...], "end_of_stream": ...}}',
        )
    return page[key]


def _parse_record(number: int, record: object) -> ParsedRow:
    if not isinstance(record, dict):
        original = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        reason = f"record: {original[:60]!r} is not a JSON object"
        return ParsedRow(number, {}, original, Violation("", reason))
    return ParsedRow(number, json_row_values(record), record=record)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
