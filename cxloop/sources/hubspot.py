"""HubSpot CRM v3 API pages: one saved response page (JSON) per file.

Layout of a HubSpot source folder (docs/ingest.md, HubSpot):

- `companies/*.json`, `contacts/*.json`, `deals/*.json`: pages of `GET /crm/v3/objects/<type>`
  (or of the search endpoint), envelope `results[]` and `paging.next.after` (absent on the
  last page). Each object is `{id, properties{...}, createdAt, updatedAt, archived,
  archivedAt?, associations?}`; its properties become columns under their internal names
  (values are text, "" for a cleared property), its own keys are kept beside them and
  `associations` is kept as JSON text.
- `owners/*.json`: pages of `GET /crm/v3/owners` (`teams` kept as JSON text).
- `deal_companies/*.json`, `contact_companies/*.json`: answers of `POST
  /crm/v4/associations/<deals|contacts>/companies/batch/read` (what `cxloop pull` lands for
  each deal or contact page: the search answers carry no associations). One row per object:
  `from_id`, `to` (the `[{toObjectId, associationTypes}]` list as JSON text) and
  `completed_at` (the answer's `completedAt`: which answer is newer); an object listed in the
  answer's `errors` as `NO_ASSOCIATIONS_FOUND` is a row with `to` = `[]` (no company now).
- `pipelines/deals.json`: `GET /crm/v3/pipelines/deals` (`stages` kept as JSON text); the
  answers `cxloop pull` lands are `pipelines/deals/*.json`, read after it in name order.

Pages are read in file-name order. Any other folder, a page lying outside its folder or a
pipelines file of another object is an error naming it: we would otherwise drop it unseen.
"""

from __future__ import annotations

import json
from pathlib import Path

from cxloop.config import SourceConfig
from cxloop.errors import ConfigError, SourceError
from cxloop.sources.contracts import Violation, contract_for
from cxloop.sources.readers import (
    Adapter,
    Batch,
    ParsedRow,
    file_sha256,
    json_object_batch,
    json_row_values,
    load_json,
)

KIND = "hubspot"
OBJECT_FOLDERS = ("companies", "contacts", "deals")
ASSOCIATION_FOLDERS = ("contact_companies", "deal_companies")
PAGE_FOLDERS = (*OBJECT_FOLDERS, "owners", *ASSOCIATION_FOLDERS)
NO_ASSOCIATIONS = "NO_ASSOCIATIONS_FOUND"
PIPELINE_FILES = {"deals.json": "deal_pipelines"}
ENTITIES = (*PAGE_FOLDERS, *PIPELINE_FILES.values())
EXPECTED_LAYOUT = (
    "folders companies/, contacts/, deals/, owners/, contact_companies/, deal_companies/ of API "
    "pages and "
    "pipelines/deals.json"
)
EXPECTED_PAGE = 'a HubSpot CRM v3 page like {"results": [...], "paging": {"next": {"after": ...}}}'


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """The HubSpot objects we land: CRM objects, owners and the deal pipelines."""
    return ENTITIES


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Each object's page files in file-name order; anything we do not read is an error."""
    if cfg.columns:
        raise ConfigError(
            f"key 'columns' of the {KIND} source at {cfg.path!r}: not used for HubSpot "
            "(properties keep their internal names; remove the key)"
        )
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue  # .DS_Store and the like
        if child.is_dir() and child.name in (*PAGE_FOLDERS, "pipelines"):
            continue
        what = "folder" if child.is_dir() else "file"
        raise SourceError(
            str(child),
            f"not a HubSpot object {what} we read ('{child.name}')",
            expected=EXPECTED_LAYOUT,
        )
    files = {entity: sorted((folder / entity).glob("*.json")) for entity in PAGE_FOLDERS}
    pipelines = folder / "pipelines"
    for entity in PIPELINE_FILES.values():
        files[entity] = []
    if pipelines.is_dir():
        for child in sorted(pipelines.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir() and f"{child.name}.json" in PIPELINE_FILES:
                continue  # pages of `cxloop pull`, read after the export file (below)
            if child.name not in PIPELINE_FILES:
                raise SourceError(
                    str(child),
                    f"not a pipelines file we read ('{child.name}')",
                    expected="pipelines/deals.json or pipelines/deals/*.json "
                    "(GET /crm/v3/pipelines/deals)",
                )
            files[PIPELINE_FILES[child.name]].append(child)
        for name, entity in PIPELINE_FILES.items():
            pulled = pipelines / name.removesuffix(".json")
            if pulled.is_dir():
                files[entity].extend(sorted(p for p in pulled.glob("*.json") if p.is_file()))
    return files


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one page: the envelope must hold a `results` array; one row per result."""
    data = path.read_bytes()
    results = page_results(load_json(data, rel, EXPECTED_PAGE), rel)
    if entity in OBJECT_FOLDERS:
        return _object_batch(entity, rel, data, results)
    if entity in ASSOCIATION_FOLDERS:
        return _association_batch(entity, rel, data, json.loads(data))
    return json_object_batch(KIND, entity, rel, data, results, "result")


def page_results(page: object, rel: str) -> list[object]:
    """The `results` of a page; a page of another shape raises SourceError naming the key."""
    if not isinstance(page, dict):
        raise SourceError(rel, f"the page is a JSON {type(page).__name__}", expected=EXPECTED_PAGE)
    if not isinstance(page.get("results"), list):
        raise SourceError(
            rel, "no 'results' array in the page", field="results", expected=EXPECTED_PAGE
        )
    paging = page.get("paging")
    if paging is not None and not (
        isinstance(paging, dict) and isinstance(paging.get("next", {}), dict)
    ):
        raise SourceError(rel, "'paging' is not an object", field="paging", expected=EXPECTED_PAGE)
    return page["results"]


def _object_batch(entity: str, rel: str, data: bytes, results: list[object]) -> Batch:
    """A Batch of CRM objects: properties flattened beside the object's own keys."""
    rows = [_object_row(number, item, rel) for number, item in enumerate(results, start=1)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.values))
    contract = contract_for(KIND, entity)
    return Batch(KIND, entity, rel, file_sha256(data), contract, list(columns), rows)


def _association_batch(entity: str, rel: str, data: bytes, page: dict) -> Batch:
    """A v4 batch-read answer: one row per `from` object, and one per id it has none for."""
    completed = page.get("completedAt")
    rows: list[ParsedRow] = []
    for number, item in enumerate(page["results"], start=1):
        source = item.get("from") if isinstance(item, dict) else None
        if not isinstance(source, dict) or not isinstance(item.get("to"), list):
            reason = f"result: {str(item)[:60]!r} (expected {{from: {{id}}, to: [...]}})"
            rows.append(ParsedRow(number, {}, problem=Violation("from", reason), record=item))
            continue
        values = {"from_id": source.get("id"), "to": item["to"], "completed_at": completed}
        rows.append(ParsedRow(number, json_row_values(values), record=item))
    for err in page.get("errors") or []:
        kind = (
            str(err.get("subCategory") or err.get("category") or "")
            if isinstance(err, dict)
            else ""
        )
        if not kind.endswith(NO_ASSOCIATIONS):
            raise SourceError(
                rel,
                f"the answer has the error {kind or str(err)[:60]!r}",
                field="errors",
                expected=f"results, or {NO_ASSOCIATIONS} errors for objects without one",
            )
        for from_id in (err.get("context") or {}).get("fromObjectId") or []:
            values = {"from_id": from_id, "to": [], "completed_at": completed}
            rows.append(ParsedRow(len(rows) + 1, json_row_values(values), record=err))
    contract = contract_for(KIND, entity)
    columns = ["from_id", "to", "completed_at"]
    return Batch(KIND, entity, rel, file_sha256(data), contract, columns, rows)


def _object_row(number: int, item: object, rel: str) -> ParsedRow:
    if not isinstance(item, dict):
        reason = f"result: {str(item)[:60]!r} is not a JSON object"
        return ParsedRow(number, {}, problem=Violation("", reason), record=item)
    properties = item.get("properties")
    if not isinstance(properties, dict):
        reason = "properties: missing or not an object (expected the object's properties map)"
        return ParsedRow(number, {}, problem=Violation("properties", reason), record=item)
    own = {key: value for key, value in item.items() if key != "properties"}
    own_names = {key.lower(): key for key in own}
    for name in properties:
        if name.lower() in own_names:
            raise SourceError(
                rel,
                f"property '{name}' has the name of the object's own key "
                f"'{own_names[name.lower()]}'",
                row=number,
                field=name,
                expected="property names other than the object's keys "
                "(id, createdAt, updatedAt, archived, archivedAt, associations)",
            )
    return ParsedRow(number, json_row_values({**own, **properties}), record=item)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
