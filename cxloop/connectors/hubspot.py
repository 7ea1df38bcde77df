"""HubSpot CRM v3: companies, contacts and deals by search, owners and deal pipelines by list.

- companies, contacts, deals: `POST /crm/v3/objects/<type>/search` filtered on the last-modified
  property (`hs_lastmodifieddate`; contacts `lastmodifieddate`) `GTE` the window's start,
  sorted ascending, `limit` up to 200. After each page the window moves to the newest
  last-modified time seen and the search starts again (`after` unset): offsets shift when a
  record is updated while paging (it leaves its place for the end), and a window that moves
  skips nothing. `paging.next.after` is followed only while a page is all at the window's
  start (records modified in the same millisecond); a search serves at most 10,000 results, so
  more than that at one instant is an error. The records at the window's start come again:
  identical rows, which ingest's content hash lands once.
- archived companies, contacts and deals (`GET /crm/v3/objects/<type>?archived=true`; search
  never returns them), owners (`GET /crm/v3/owners`, active and archived) and the deal
  pipelines (`GET /crm/v3/pipelines/deals`) have no change filter: each run lists them whole
  and lands the listing only when it differs from the last one landed (its sha256).
- deal -> company and contact -> company associations (search answers carry none): after the
  deals (contacts), for each page of them landed since the stream's cursor, `POST
  /crm/v4/associations/<deals|contacts>/companies/batch/read` with that page's ids; the answer
  lands as `<deal|contact>_companies/pull-<n>.json` and the cursor is that page's number. An
  object without a company is in the answer's `errors` (`NO_ASSOCIATIONS_FOUND`), which the
  adapter reads as "no company" too.
Pages land as the adapter reads them (docs/ingest.md, HubSpot): `<type>/pull-<n>.json`,
`<type>/archived-pull-<n>.json`, `owners/...`, `pipelines/deals/pull-<n>.json`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import SourceConfig
from cxloop.connectors.base import Connector, Page, PullContext, Stream
from cxloop.connectors.http import ApiAuthError, ApiError

log = logging.getLogger(__name__)

KIND = "hubspot"
BASE_URL = "https://api.hubapi.com"
OBJECT_TYPES = ("companies", "contacts", "deals")
ENTITIES = (*OBJECT_TYPES, "owners", "deal_pipelines")
MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate",
            "deals": "hs_lastmodifieddate"}  # fmt: skip
# the properties staging reads and docs/ingest.md asks for (HubSpot); api.fields adds more
PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("name", "domain", "website", "industry", "type", "annualrevenue",
                  "numberofemployees", "phone", "country", "hubspot_owner_id", "createdate",
                  "hs_lastmodifieddate"),
    "contacts": ("email", "firstname", "lastname", "phone", "mobilephone", "jobtitle", "company",
                 "country", "hs_language", "hs_email_optout", "associatedcompanyid",
                 "hubspot_owner_id", "createdate", "lastmodifieddate"),
    "deals": ("dealname", "amount", "dealstage", "pipeline", "closedate", "dealtype",
              "hs_is_closed", "hs_is_closed_won", "hubspot_owner_id", "createdate",
              "hs_lastmodifieddate"),
}  # fmt: skip
SEARCH_PAGE_MAX = 200
LIST_PAGE_MAX = 100
SEARCH_RESULTS_MAX = 10_000  # HubSpot answers 400 past this many results of one search
ASSOCIATIONS = "/crm/v4/associations/{}/companies/batch/read"
ASSOCIATED = {"contacts": "contact_companies", "deals": "deal_companies"}  # read per page
NO_ASSOCIATIONS = "NO_ASSOCIATIONS_FOUND"  # the error of an id with no association (207)


def base_url(api: ApiConfig) -> str:
    return BASE_URL


def headers(creds: Mapping[str, str]) -> dict[str, str]:
    """A private app's access token."""
    return {"Authorization": f"Bearer {creds['token']}"}


def streams(cfg: SourceConfig) -> list[Stream]:
    found = []
    for kind in OBJECT_TYPES:
        found.append(Stream(kind, kind, _pages(f"{kind}/pull"), {"search": kind}))
        found.append(Stream(f"{kind}_archived", kind, _pages(f"{kind}/archived-pull"),
                            {"list": f"/crm/v3/objects/{kind}", "archived": True,
                             "properties": kind}))  # fmt: skip
    # after the deals and contacts: the companies of those just landed (selected with them)
    for kind, name in ASSOCIATED.items():
        found.append(Stream(name, kind, _pages(f"{name}/pull"),
                            {"associations": kind, "follows_pages": True}))  # fmt: skip
    found.append(Stream("owners", "owners", _pages("owners/pull"), {"list": "/crm/v3/owners"}))
    found.append(Stream("owners_archived", "owners", _pages("owners/archived-pull"),
                        {"list": "/crm/v3/owners", "archived": True}))  # fmt: skip
    found.append(Stream("deal_pipelines", "deal_pipelines", _pages("pipelines/deals/pull"),
                        {"list": "/crm/v3/pipelines/deals", "single": True}))  # fmt: skip
    return found


def _pages(prefix: str):  # noqa: ANN202
    return lambda seq: f"{prefix}-{seq:08d}.json"


def properties(cfg: SourceConfig, kind: str) -> list[str]:
    extra = cfg.api.fields.get(kind, []) if cfg.api else []
    return list(dict.fromkeys([*PROPERTIES[kind], *extra]))


def fetch(ctx: PullContext, stream: Stream, cursor: dict[str, Any] | None) -> Iterator[Page]:
    if "search" in stream.options:
        return _search(ctx, stream.options["search"], cursor)
    if "associations" in stream.options:
        return _companies(ctx, stream.options["associations"], cursor)
    return _listing(ctx, stream, cursor)


def _search(ctx: PullContext, kind: str, cursor: dict[str, Any] | None) -> Iterator[Page]:
    path = f"/crm/v3/objects/{kind}/search"
    prop = MODIFIED[kind]
    size = min(ctx.api.page_size or SEARCH_PAGE_MAX, SEARCH_PAGE_MAX)
    since = _start(ctx, cursor)
    after: str | None = (cursor or {}).get("after")
    while True:
        body: dict[str, Any] = {
            "filterGroups": [
                {"filters": [{"propertyName": prop, "operator": "GTE", "value": str(since)}]}
            ],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": properties(ctx.cfg, kind),
            "limit": size,
        }
        if after:
            body["after"] = after
        response = ctx.client.request("POST", path, json=body)
        page = _object(ctx, path, response)
        results = page_results(ctx, path, page)
        newest = since
        for item in results:
            newest = max(newest, _modified(ctx, path, item, prop))
        following = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not following:
            yield Page(response.content if results else None, len(results), {"since": newest})
            return
        if newest > since:
            since, after = newest, None  # move the window: a fresh search from the newest
        else:
            after = str(following)  # the whole page is at the window's start: page on
            if int(after) >= SEARCH_RESULTS_MAX:
                raise ApiError(
                    ctx.client.url(path),
                    f"over {SEARCH_RESULTS_MAX:,} {kind} have {prop} = {since} (one "
                    "millisecond); a search cannot page past that many",
                )
        yield Page(response.content, len(results), {"since": since, "after": after})


def _companies(ctx: PullContext, kind: str, cursor: dict[str, Any] | None) -> Iterator[Page]:
    """The companies of the objects on each page of `kind` landed after the cursor's page."""
    assert ctx.folder is not None
    path = ASSOCIATIONS.format(kind)
    done = int((cursor or {}).get("page_seq", 0))
    for landed_page in sorted((ctx.folder / kind).glob("pull-*.json")):
        seq = int(landed_page.stem.removeprefix("pull-"))
        if seq <= done:
            continue
        landed = json.loads(landed_page.read_bytes())
        ids = list(dict.fromkeys(str(r["id"]) for r in landed.get("results") or []
                                 if isinstance(r, dict) and r.get("id")))  # fmt: skip
        if not ids:
            yield Page(None, 0, {"page_seq": seq})
            continue
        response = ctx.client.request("POST", path, json={"inputs": [{"id": i} for i in ids]})
        answer = _object(ctx, path, response)
        results = page_results(ctx, path, answer)
        without = _without_companies(ctx, path, answer)
        yield Page(response.content, len(results) + len(without), {"page_seq": seq})


def _without_companies(ctx: PullContext, path: str, answer: dict) -> list[str]:
    """The ids the answer's errors say have no company; any other error stops the pull."""
    ids: list[str] = []
    for err in answer.get("errors") or []:
        kind = (
            str(err.get("subCategory") or err.get("category") or "")
            if isinstance(err, dict)
            else ""
        )
        if not kind.endswith(NO_ASSOCIATIONS):
            raise ApiError(
                ctx.client.url(path),
                f"the answer has the error {kind or repr(err)[:60]} (expected results, or "
                f"{NO_ASSOCIATIONS} for an object without a company)",
            )
        ids.extend(str(i) for i in (err.get("context") or {}).get("fromObjectId") or [])
    return ids


def _listing(ctx: PullContext, stream: Stream, cursor: dict[str, Any] | None) -> Iterator[Page]:
    """A whole listing, landed when its bytes differ from the last listing landed."""
    opts = stream.options
    path = opts["list"]
    bodies: list[tuple[bytes, int]] = []
    digest = hashlib.sha256()
    after = None
    while True:
        params: dict[str, Any] = {}
        if not opts.get("single"):
            params["limit"] = min(ctx.api.page_size or LIST_PAGE_MAX, LIST_PAGE_MAX)
        if opts.get("archived"):
            params["archived"] = "true"
        if opts.get("properties"):
            params["properties"] = ",".join(properties(ctx.cfg, opts["properties"]))
        if after:
            params["after"] = after
        response = ctx.client.request("GET", path, params=params)
        page = _object(ctx, path, response)
        results = page_results(ctx, path, page)
        digest.update(hashlib.sha256(response.content).digest())
        bodies.append((response.content, len(results)))
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if opts.get("single") or not after:
            break
    sha = digest.hexdigest()
    landed = [(body, n) for body, n in bodies if n]
    if (cursor or {}).get("sha256") == sha or not landed:
        yield Page(None, 0, {"sha256": sha})
        return
    for number, (body, records) in enumerate(landed, start=1):
        # the listing counts as landed with its last page; a pull stopped before lists again
        done = number == len(landed)
        yield Page(body, records, {"sha256": sha} if done else dict(cursor or {}))


def page_results(ctx: PullContext, path: str, page: dict) -> list:
    results = page.get("results")
    if not isinstance(results, list):
        raise ApiError(ctx.client.url(path), f"no 'results' array in the answer ({sorted(page)})")
    return results


def _object(ctx: PullContext, path: str, response: Any) -> dict:
    page = ctx.client.json_of(response)
    if not isinstance(page, dict):
        raise ApiError(ctx.client.url(path), f"expected a JSON object, got {type(page).__name__}")
    return page


def _modified(ctx: PullContext, path: str, item: object, prop: str) -> int:
    """A result's last-modified time in epoch milliseconds (what the filter compares)."""
    value = (item.get("properties") or {}).get(prop) if isinstance(item, dict) else None
    try:
        return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        raise ApiError(
            ctx.client.url(path),
            f"a result has {prop} {value!r} (expected an ISO datetime; the window moves on it)",
        ) from None


def _start(ctx: PullContext, cursor: dict[str, Any] | None) -> int:
    if cursor and cursor.get("since") is not None:
        return int(cursor["since"])
    return int(ctx.since.timestamp() * 1000) if ctx.since else 0


def check(ctx: PullContext) -> str:
    """One search per object type and the owners: the token has each read scope."""
    seen: dict[str, Any] = {}
    for kind in OBJECT_TYPES:
        path = f"/crm/v3/objects/{kind}/search"
        try:
            answer = ctx.client.json_of(ctx.client.request("POST", path, json={"limit": 1}))
        except ApiAuthError as exc:
            raise ApiAuthError(
                exc.endpoint,
                f"HTTP {exc.status}: the private app lacks crm.objects.{kind}.read "
                "(docs/connectors.md, HubSpot)",
                exc.status,
            ) from None
        seen[kind] = answer.get("total") if isinstance(answer, dict) else None
    owners = ctx.client.get_json("/crm/v3/owners", params={"limit": 1})
    seen["owners"] = len(owners.get("results") or []) if isinstance(owners, dict) else None
    return json.dumps({"totals": seen})


CONNECTOR = Connector(
    kind=KIND,
    credentials=("token",),
    base_url=base_url,
    headers=headers,
    streams=streams,
    fetch=fetch,
    check=check,
    entities=ENTITIES,
)
