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
- POST /crm/v4/associations/{deals,contacts}/companies/batch/read `{"inputs": [{"id"}]}`: per
  object with companies `{"from": {"id"}, "to": [{"toObjectId", "associationTypes":
  [{"category", "typeId", "label"}]}]}` (deal_to_company is HUBSPOT_DEFINED type 5 "Primary",
  unlabeled 341; contact_to_company type 1 "Primary", unlabeled 279); an object without one
  is an error `crm.associations.NO_ASSOCIATIONS_FOUND` with `context.fromObjectId`, and the
  answer is then HTTP 207 Multi-Status. The associations come
  from the records' v3 `associations.companies.results` (what a list export with
  `associations=companies` carries); search and listings never return them.
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


V4_TYPES = {
    "deal_to_company": {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
    "deal_to_company_unlabeled": {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None},
    "contact_to_company": {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
    "contact_to_company_unlabeled": {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None},
}
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
    association_reads: list[dict] = field(default_factory=list)
    ticks: int = 0

    def put(self, kind: str, *records: dict) -> None:
        for record in records:
            self.objects.setdefault(kind, {})[record["id"]] = record

    def __call__(self, request: Request) -> Reply:
        if request.header("Authorization") != f"Bearer {self.token}":
            return error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["crm", "v4", "associations"] and parts[4:] == [
            "companies",
            "batch",
            "read",
        ]:
            return self._companies(parts[3], json.loads(request.body or b"{}"))
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

    def _companies(self, kind: str, body: dict) -> Reply:
        self.association_reads.append(body)
        results, errors = [], []
        for entry in body.get("inputs") or []:
            record = self.objects.get(kind, {}).get(str(entry["id"]))
            listed = ((record or {}).get("associations") or {}).get("companies") or {}
            to: dict[str, list[dict]] = {}
            for link in listed.get("results") or []:
                to.setdefault(link["id"], []).append(V4_TYPES[link["type"]])
            if to:
                results.append({"from": {"id": str(entry["id"])}, "to": [
                    {"toObjectId": int(cid), "associationTypes": types}
                    for cid, types in to.items()]})  # fmt: skip
            else:
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "message": f"No company is associated with {entry['id']}.",
                               "context": {"fromObjectId": [str(entry["id"])]}})  # fmt: skip
        answer: dict = {"status": "COMPLETE", "results": results,
                        "startedAt": self.clock(), "completedAt": self.clock()}  # fmt: skip
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
        return Reply.json(answer, 207 if errors else 200)

    def clock(self) -> str:
        """A new instant per call (answers are observations; a later one is newer)."""
        self.ticks += 1
        return f"2024-08-01T00:00:{self.ticks // 1000:02d}.{self.ticks % 1000:03d}Z"

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
    """The record with the requested properties (null when unset) and the ones always sent;
    no associations (search and listings without `associations=` return none)."""
    props = record["properties"]
    always = ("hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate")
    names = [n for n in wanted if n] + [n for n in always if n in props]
    own = {key: value for key, value in record.items() if key != "associations"}
    return {**own, "properties": {n: props.get(n) for n in sorted(set(names))}}
