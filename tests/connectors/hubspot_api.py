"""A local HubSpot CRM v3 API, written from HubSpot's documentation (docs/connectors.md,
HubSpot).

- POST /crm/v3/objects/{companies,contacts,deals}/search: `filterGroups[].filters[]` with
  `propertyName`, `operator` (GTE, GT, EQ, LT, LTE on datetimes as epoch-millisecond strings),
  `sorts` (one, by a property, ASCENDING or DESCENDING), `properties`, `limit` (max 200),
  `after` (an offset, as text). Archived records are never returned. Answers `total`,
  `results` and `paging.next.after` while more remain; an `after` at or past `search_limit`
  (10,000 at HubSpot; smaller in tests) is 400 VALIDATION_ERROR, as HubSpot answers.
  Offsets are taken at each request: a record updated while a client pages moves to the end.
- GET /crm/v3/objects/<type>?archived=true&limit=&after=&properties=: the archived records.
- GET /crm/v3/owners?limit=&after=&archived=: owners. GET /crm/v3/pipelines/deals.
- Results carry `id`, `properties` (the requested ones, null when unset), `createdAt`,
  `updatedAt`, `archived` (and `archivedAt`). `Authorization: Bearer <token>`, else 401.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from vendor_http import Reply, Request

SEARCH_PAGE_MAX = 200


def millis(stamp: str | None) -> int:
    if not stamp:
        return 0
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def error(status: int, category: str, message: str) -> Reply:
    return Reply.json({"status": "error", "message": message, "category": category,
                       "correlationId": "4f3c-test"}, status)  # fmt: skip


OPERATORS = {"GTE": int.__ge__, "GT": int.__gt__, "EQ": int.__eq__, "LT": int.__lt__,
             "LTE": int.__le__}  # fmt: skip


@dataclass
class HubSpotApp:
    token: str = "pat-na1-test-token"
    search_limit: int = 10_000
    objects: dict[str, dict[str, dict]] = field(default_factory=dict)
    owners: list[dict] = field(default_factory=list)
    pipelines: list[dict] = field(default_factory=list)
    searches: list[dict] = field(default_factory=list)  # the bodies received

    def put(self, kind: str, *records: dict) -> None:
        for record in records:
            self.objects.setdefault(kind, {})[record["id"]] = record

    def __call__(self, request: Request) -> Reply:
        if request.header("Authorization") != f"Bearer {self.token}":
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) == 5 and parts[4] == "search":
            return self._search(parts[3], json.loads(request.body or b"{}"))
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) == 4:
            archived = [r for r in self.objects.get(parts[3], {}).values() if r.get("archived")]
            wanted = request.query.get("properties", "").split(",")
            return self._listing(request, [_with(r, wanted) for r in archived])
        if request.path == "/crm/v3/owners":
            archived = request.query.get("archived") == "true"
            return self._listing(request, [o for o in self.owners if o["archived"] == archived])
        if request.path == "/crm/v3/pipelines/deals":
            return Reply.json({"results": self.pipelines})
        return error(404, "OBJECT_NOT_FOUND", f"no such endpoint {request.path}")

    def _search(self, kind: str, body: dict) -> Reply:
        self.searches.append(body)
        limit = int(body.get("limit", 10))
        if limit > SEARCH_PAGE_MAX:
            return error(400, "VALIDATION_ERROR", f"limit must be <= {SEARCH_PAGE_MAX}")
        offset = int(body.get("after") or 0)
        if offset >= self.search_limit:
            return error(400, "VALIDATION_ERROR",
                         f"after: must be less than {self.search_limit}")  # fmt: skip
        live = [r for r in self.objects.get(kind, {}).values() if not r.get("archived")]
        for group in body.get("filterGroups", [])[:1]:
            for rule in group.get("filters", []):
                test = OPERATORS[rule["operator"]]
                value = int(rule["value"])
                name = rule["propertyName"]
                live = [r for r in live if test(millis(r["properties"].get(name)), value)]
        for sort in body.get("sorts", [])[:1]:
            name = sort["propertyName"]
            live.sort(key=lambda r: (millis(r["properties"].get(name)), int(r["id"])),
                      reverse=sort.get("direction") == "DESCENDING")  # fmt: skip
        wanted = body.get("properties") or []
        page = [_with(r, wanted) for r in live[offset : offset + limit]]
        answer: dict = {"total": len(live), "results": page}
        if offset + limit < len(live):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Reply.json(answer)

    def _listing(self, request: Request, items: list[dict]) -> Reply:
        limit = int(request.query.get("limit", 10))
        offset = int(request.query.get("after") or 0)
        answer: dict = {"results": items[offset : offset + limit]}
        if offset + limit < len(items):
            after = str(offset + limit)
            link = f"{request.base_url}{request.path}?after={after}"
            answer["paging"] = {"next": {"after": after, "link": link}}
        return Reply.json(answer)


def _with(record: dict, wanted: list[str]) -> dict:
    """The record with the requested properties (null when unset) and the ones always sent."""
    props = record["properties"]
    always = ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate")
    names = [n for n in wanted if n] + [n for n in always if n in props]
    return {**record, "properties": {n: props.get(n) for n in sorted(set(names))}}
