"""Recognise each file of a sources folder by its format (never by its folder's name).

Salesforce Bulk API 2.0 CSVs by their header of field API names (and the record ids' key
prefix), Qualtrics response exports by their row-3 ImportId JSON, Zendesk API pages by their
envelope, SendGrid Event Webhook bodies, HubSpot CRM v3 pages and Typeform bodies or
Responses API pages by their keys. Anything else is reported as unknown and skipped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cxloop.init.encoding import guess_encoding

SALESFORCE_OBJECTS = ("Account", "Contact", "Opportunity", "User", "Contract")
# object -> (fields its header must have, the key prefix of its record ids)
_SALESFORCE_SIGNATURES = {
    "Opportunity": ({"Id", "StageName", "CloseDate"}, "006"),
    "Contract": ({"Id", "AccountId", "StartDate"}, "800"),
    "Contact": ({"Id", "LastName", "AccountId"}, "003"),
    "User": ({"Id", "Username"}, "005"),
    "Account": ({"Id", "Name"}, "001"),
}
_SFID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
ZENDESK_RESOURCES = ("tickets", "users", "organizations", "ticket_events", "satisfaction_ratings")
ZENDESK_NOT_READ = ("ticket_metric_events", "comments", "groups", "ticket_fields")
_ZENDESK_ENVELOPE = {
    "end_of_stream",
    "after_cursor",
    "after_url",
    "next_page",
    "end_time",
    "count",
    "meta",
    "links",
    "previous_page",
}
_HUBSPOT_OBJECTS = (  # object -> properties only that object has by default
    ("deals", {"dealname", "dealstage", "pipeline"}),
    ("contacts", {"email", "firstname", "lastname"}),
    ("companies", {"domain", "name"}),
)


@dataclass(frozen=True)
class Found:
    """One file and what it is: `system` is None when it is not a format we know."""

    path: Path  # relative to the sources folder
    system: str | None
    entity: str | None
    evidence: str


def detect_folder(sources: Path, skip: tuple[Path, ...] = ()) -> list[Found]:
    """Every file under `sources` (hidden files and `skip` aside), recognised or not."""
    found = []
    for path in _files(sources):
        if any(path.resolve() == s.resolve() for s in skip):
            continue
        found.append(detect_file(path, path.relative_to(sources)))
    return found


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            yield path


def detect_file(path: Path, rel: Path) -> Found:
    """What one file is, with the evidence."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Found(rel, None, None, f"cannot read: {exc.strerror}")
    if suffix == ".csv":
        return _detect_csv(data, rel)
    if suffix == ".json":
        return _detect_json(data, rel)
    if suffix == ".tsv" and _is_qualtrics_tsv(data):
        return Found(
            rel,
            None,
            None,
            "a Qualtrics TSV export (UTF-16); cxloop reads the CSV export: download it as CSV",
        )
    return Found(rel, None, None, f"not a format cxloop reads ({suffix or 'no extension'})")


def read_csv_head(data: bytes, rows: int) -> tuple[list[list[str]], str]:
    """The first `rows` CSV records and the encoding they were read with."""
    encoding = guess_encoding(data)
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    head: list[list[str]] = []
    try:
        for record in reader:
            head.append(record)
            if len(head) == rows:
                break
    except csv.Error:
        pass
    return head, encoding


def _detect_csv(data: bytes, rel: Path) -> Found:
    head, _ = read_csv_head(data, 4)
    if not head:
        return Found(rel, None, None, "an empty CSV file")
    if len(head) >= 3 and _import_ids(head[2]):
        return Found(rel, "qualtrics", "responses", "row 3 holds ImportId JSON per column")
    if head[0][:2] == ["V1", "V2"] or (len(head) > 1 and "ResponseID" in head[1]):
        return Found(
            rel, None, None, "a legacy Qualtrics export (V1, V2, ...); export the new format"
        )
    return _detect_salesforce(head, rel)


def _import_ids(row: list[str]) -> bool:
    """Row 3 of a Qualtrics export: every cell a JSON object with an ImportId."""
    for cell in row:
        try:
            spec = json.loads(cell)
        except json.JSONDecodeError:
            return False
        if not isinstance(spec, dict) or "ImportId" not in spec:
            return False
    return bool(row)


def _detect_salesforce(head: list[list[str]], rel: Path) -> Found:
    header = set(head[0])
    first = head[1] if len(head) > 1 and len(head[1]) == len(head[0]) else []
    first_id = first[head[0].index("Id")] if "Id" in header and first else ""
    for name, (fields, prefix) in _SALESFORCE_SIGNATURES.items():
        if fields <= header and (not first_id or first_id.startswith(prefix)):
            why = f"Bulk API header with {', '.join(sorted(fields))}"
            why += f"; ids start {prefix}" if first_id else ""
            return Found(rel, "salesforce", name, why)
    if "Id" in header and _SFID.fullmatch(first_id):
        return Found(
            rel,
            None,
            None,
            f"a Salesforce object with key prefix {first_id[:3]} that cxloop does not read",
        )
    return Found(rel, None, None, f"a CSV with header {', '.join(head[0][:4])}, ...")


def _detect_json(data: bytes, rel: Path) -> Found:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Found(rel, None, None, f"not valid JSON ({str(exc)[:60]})")
    if isinstance(doc, list):
        return _detect_json_array(doc, rel)
    if not isinstance(doc, dict):
        return Found(rel, None, None, f"a JSON {type(doc).__name__}, not an export page")
    for detector in (_zendesk, _hubspot, _typeform):
        found = detector(doc, rel)
        if found:
            return found
    return Found(rel, None, None, f"a JSON object with keys {', '.join(list(doc)[:4])}")


def _detect_json_array(doc: list, rel: Path) -> Found:
    objects = [item for item in doc if isinstance(item, dict)]
    if objects and all("sg_event_id" in o and "event" in o for o in objects):
        return Found(
            rel, "sendgrid", "events", f"an array of {len(objects)} events with sg_event_id"
        )
    return Found(rel, None, None, "a JSON array, not SendGrid events (no sg_event_id/event)")


def _zendesk(doc: dict, rel: Path) -> Found | None:
    envelope = sorted(_ZENDESK_ENVELOPE & set(doc))
    if not envelope:
        return None
    for key in (*ZENDESK_RESOURCES, *ZENDESK_NOT_READ):
        if isinstance(doc.get(key), list):
            system = "zendesk" if key in ZENDESK_RESOURCES else "zendesk (not read)"
            why = f"a Zendesk page: '{key}' array with {', '.join(envelope)}"
            return Found(rel, system, key, why)
    return None


def _hubspot(doc: dict, rel: Path) -> Found | None:
    results = doc.get("results")
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        return None
    first = results[0]
    paging = "paging" if "paging" in doc else "no paging (last page)"
    if isinstance(first.get("properties"), dict) and "id" in first:
        props = set(first["properties"])
        entity = next((name for name, keys in _HUBSPOT_OBJECTS if keys & props), "objects")
        return Found(rel, "hubspot", entity, f"a CRM v3 page: results[].properties, {paging}")
    if {"id", "email", "userId"} <= set(first):
        return Found(rel, "hubspot", "owners", f"an owners page: results[].userId, {paging}")
    if {"id", "label"} <= set(first) and isinstance(first.get("stages"), list):
        return Found(rel, "hubspot", "pipelines", "a pipelines list: results[].stages")
    return None


def _typeform(doc: dict, rel: Path) -> Found | None:
    body = doc.get("body") if isinstance(doc.get("body"), dict) else doc
    if body.get("event_type") == "form_response" and isinstance(body.get("form_response"), dict):
        return Found(rel, "typeform", "responses", "a form_response webhook body")
    items = doc.get("items")
    if (
        isinstance(items, list)
        and ("total_items" in doc or "page_count" in doc)
        and all(isinstance(i, dict) and "answers" in i and "token" in i for i in items)
    ):
        return Found(rel, "typeform", "responses", "a Responses API page: items[] with answers")
    return None


def _is_qualtrics_tsv(data: bytes) -> bool:
    for encoding in ("utf-16", "utf-8-sig"):
        try:
            lines = data.decode(encoding).splitlines()
        except UnicodeDecodeError:
            continue
        return len(lines) >= 3 and '"ImportId"' in lines[2]
    return False
