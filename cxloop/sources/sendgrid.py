"""SendGrid Event Webhook batches: one POST body (a JSON array of event objects) per file.

Files are `<source folder>/events/*.json`, written by SendGrid exports or by `cxloop
serve-webhooks`, read in file-name order. Keys are kept as sent (`smtp-id` stays hyphenated,
custom args such as `cxloop_action_id` are top-level keys); `category` (string or array) and
other nested values are kept as JSON text when they are not strings. Re-deliveries of the same
event are identical rows (content hash); staging de-duplicates on `sg_event_id` as well.
"""

from __future__ import annotations

from pathlib import Path

from cxloop.config import SourceConfig
from cxloop.errors import SourceError
from cxloop.sources.readers import Adapter, Batch, json_object_batch, load_json

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
    body = load_json(data, rel, EXPECTED)
    if not isinstance(body, list):
        raise SourceError(rel, f"the body is a JSON {type(body).__name__}", expected=EXPECTED)
    return body


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one batch file: every array element is one row (non-objects are quarantined)."""
    data = path.read_bytes()
    return json_object_batch(KIND, entity, rel, data, parse_events(data, rel), "event")


ADAPTER = Adapter(KIND, entities, find_files, read_file)
