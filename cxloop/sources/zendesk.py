"""Zendesk Support exports: one API response page (JSON) per file.

Incremental export pages: cursor pages (`after_cursor`, `end_of_stream`) and time-based pages
(`count`, `end_time`, `next_page`) are both accepted; the records are under the key named like
the folder. Pages are read in file-name order. Nested objects and arrays are kept as JSON text.

Per-ticket comments (`GET /api/v2/tickets/{id}/comments.json`) are saved one page per file as
`ticket_comments/ticket_<id>_comments.json`, later pages as `ticket_<id>_comments_page<n>.json`.
The envelope (offset `comments`/`next_page`/`previous_page`/`count`, or cursor `comments`/
`meta.has_more`/`links.next`) does not carry the ticket id: it comes from the file name.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from cxloop.config import SourceConfig
from cxloop.errors import SourceError
from cxloop.sources.contracts import Violation
from cxloop.sources.readers import (
    Adapter,
    Batch,
    FloatWatch,
    ParsedRow,
    json_object_batch,
    load_json,
)

KIND = "zendesk"
COMMENTS = "ticket_comments"
ENTITIES = (
    "tickets",
    "users",
    "organizations",
    "ticket_events",
    "satisfaction_ratings",
    COMMENTS,
)
COMMENTS_FILE = re.compile(r"ticket_(?P<ticket>\d+)_comments(?:_page(?P<page>\d+))?\.json")
COMMENTS_NAMING = "ticket_<id>_comments.json, later pages ticket_<id>_comments_page<n>.json"


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """The Zendesk resources we land (one folder each)."""
    return ENTITIES


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Each resource's page files: file-name order; comments by ticket id, then page."""
    files = {entity: sorted((folder / entity).glob("*.json")) for entity in ENTITIES}
    files[COMMENTS].sort(key=_comments_order)
    return files


def _comments_order(path: Path) -> tuple[int, int, int, str]:
    """Ticket id then page (the unnumbered file is page 1); unnamed files last (they fail)."""
    match = COMMENTS_FILE.fullmatch(path.name)
    if match is None:
        return (1, 0, 0, path.name)
    return (0, int(match["ticket"]), int(match["page"] or 1), path.name)


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one page: the envelope must parse and hold the resource's array."""
    if entity == COMMENTS:
        return read_comments_file(path, rel)
    data = path.read_bytes()
    floats = FloatWatch()
    page = load_json(data, rel, "one Zendesk API response page", floats)
    if not isinstance(page, dict) or not isinstance(page.get(entity), list):
        raise SourceError(
            rel,
            f"no '{entity}' array in the page",
            field=entity,
            expected=f'an envelope like {{"{entity}": [...], "end_of_stream": ...}}',
        )
    items = page[entity]
    return json_object_batch(KIND, entity, rel, data, items, "record", floats.seen)


def comments_ticket_id(path: Path, rel: str) -> str:
    """The ticket id a comments file's name gives; a SourceError when it gives none."""
    match = COMMENTS_FILE.fullmatch(path.name)
    if match is None:
        raise SourceError(
            rel,
            "the file name gives no numeric ticket id",
            expected=f"a per-ticket comments page named {COMMENTS_NAMING}",
        )
    return str(int(match["ticket"]))


def read_comments_file(path: Path, rel: str) -> Batch:
    """One page of a ticket's comments; each row gets `ticket_id` from the file name.

    A comment that names another ticket (`ticket_id` is not in the documented format, but a
    hand-made extract may add it) is quarantined rather than moved to the file's ticket.
    """
    ticket_id = comments_ticket_id(path, rel)
    data = path.read_bytes()
    floats = FloatWatch()
    page = load_json(data, rel, "one page of GET /api/v2/tickets/{id}/comments.json", floats)
    if not isinstance(page, dict) or not isinstance(page.get("comments"), list):
        raise SourceError(
            rel,
            "no 'comments' array in the page",
            field="comments",
            expected=(
                'an envelope like {"comments": [...], "next_page": ..., "previous_page": ..., '
                '"count": ...} or {"comments": [...], "meta": {"has_more": ...}, "links": ...}'
            ),
        )
    items = page["comments"]
    batch = json_object_batch(KIND, COMMENTS, rel, data, items, "comment", floats.seen)
    rows = [_with_ticket_id(row, ticket_id) for row in batch.rows]
    columns = ["ticket_id", *(c for c in batch.columns if c != "ticket_id")]
    return dataclasses.replace(batch, columns=columns, rows=rows)


def _with_ticket_id(row: ParsedRow, ticket_id: str) -> ParsedRow:
    if row.problem is not None:
        return row
    own = row.values.get("ticket_id")
    values = {"ticket_id": ticket_id, **{k: v for k, v in row.values.items() if k != "ticket_id"}}
    if own is not None and own != ticket_id:
        reason = f"ticket_id: {own!r} is not the ticket {ticket_id} the file name gives"
        return dataclasses.replace(row, values=values, problem=Violation("ticket_id", reason))
    return dataclasses.replace(row, values=values)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
