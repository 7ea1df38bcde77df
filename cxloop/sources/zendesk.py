"""Zendesk Support incremental export pages: one API response page (JSON) per file.

Cursor pages (`after_cursor`, `end_of_stream`) and time-based pages (`count`, `end_time`,
`next_page`) are both accepted; the records are under the key named like the folder. Pages are
read in file-name order. Nested objects and arrays are kept as JSON text.
"""

from __future__ import annotations

from pathlib import Path

from cxloop.config import SourceConfig
from cxloop.errors import SourceError
from cxloop.sources.readers import Adapter, Batch, json_object_batch, load_json

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
    page = load_json(data, rel, "one Zendesk API response page")
    if not isinstance(page, dict) or not isinstance(page.get(entity), list):
        raise SourceError(
            rel,
            f"no '{entity}' array in the page",
            field=entity,
            expected=f'an envelope like {{"{entity}": [...], "end_of_stream": ...}}',
        )
    return json_object_batch(KIND, entity, rel, data, page[entity], "record")


ADAPTER = Adapter(KIND, entities, find_files, read_file)
