"""Zendesk Support: incremental exports and satisfaction ratings, landed as the adapter reads.

- tickets: /api/v2/incremental/tickets/cursor.json, `start_time` on the first call, then
  `cursor` = the page's `after_cursor`, until `end_of_stream`.
- users, organizations, ticket_events (time-based /api/v2/incremental/<x>.json): `start_time`
  = the previous page's `end_time`, until `end_of_stream`.
- satisfaction_ratings: /api/v2/satisfaction_ratings.json with `page[size]`, following
  `links.next` while `meta.has_more`; the next run starts at the newest `created_at` (the
  field `start_time` filters on).
The cursor saved after each page is where the next request starts.

Each page lands as `<stream>/pull-<n>.json`, the bytes Zendesk sent. Time-based pages repeat
records at their boundaries (and the next run starts at the last `end_time`, inclusive): the
repeats are identical rows, which ingest counts as duplicates and lands once. A refused
cursor (HTTP 400/422, e.g. expired) restarts the stream from its watermark: the newest
`generated_timestamp` (tickets) or `start_time` seen, so nothing is skipped.
"""

from __future__ import annotations

import base64
import calendar
import json
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import SourceConfig
from cxloop.connectors.base import Connector, Page, PullContext, Stream
from cxloop.connectors.http import ApiAuthError, ApiError, ApiRequestError

log = logging.getLogger(__name__)

KIND = "zendesk"
TIME_BASED = {
    "users": "/api/v2/incremental/users.json",
    "organizations": "/api/v2/incremental/organizations.json",
    "ticket_events": "/api/v2/incremental/ticket_events.json",
}
TICKETS = "/api/v2/incremental/tickets/cursor.json"
RATINGS = "/api/v2/satisfaction_ratings.json"
ENTITIES = ("tickets", "users", "organizations", "ticket_events", "satisfaction_ratings")
EXPORT_PAGE_MAX = 1000
RATINGS_PAGE_MAX = 100
CURSOR_REFUSED = (400, 422)


def base_url(api: ApiConfig) -> str | None:
    return f"https://{api.subdomain}.zendesk.com" if api.subdomain else None


def headers(creds: Mapping[str, str]) -> dict[str, str]:
    """API-token basic auth: `{email}/token:{token}`."""
    pair = f"{creds['email']}/token:{creds['token']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def streams(cfg: SourceConfig) -> list[Stream]:
    return [Stream(e, e, _pages_of(e)) for e in ENTITIES]


def _pages_of(entity: str):  # noqa: ANN202
    return lambda seq: f"{entity}/pull-{seq:08d}.json"


def fetch(ctx: PullContext, stream: Stream, cursor: dict[str, Any] | None) -> Iterator[Page]:
    if stream.name == "tickets":
        return _tickets(ctx, cursor)
    if stream.name == "satisfaction_ratings":
        return _ratings(ctx, cursor)
    return _time_based(ctx, stream.name, cursor)


def _start(ctx: PullContext, cursor: dict[str, Any] | None, key: str = "start_time") -> int:
    if cursor and cursor.get(key) is not None:
        return int(cursor[key])
    return int(ctx.since.timestamp()) if ctx.since else 0


def _tickets(ctx: PullContext, cursor: dict[str, Any] | None) -> Iterator[Page]:
    size = min(ctx.api.page_size or EXPORT_PAGE_MAX, EXPORT_PAGE_MAX)
    watermark = _start(ctx, cursor, "watermark")
    after = (cursor or {}).get("cursor")
    restarted = False
    while True:
        params: dict[str, Any] = {"per_page": size}
        if after:
            params["cursor"] = after
        else:
            params["start_time"] = watermark
        try:
            body, page = _get(ctx, TICKETS, params)
        except ApiRequestError as exc:
            if not after or restarted or exc.status not in CURSOR_REFUSED:
                raise
            log.warning("tickets: cursor refused (%s); restarting at start_time=%d", exc, watermark)
            after, restarted = None, True
            continue
        tickets = _records(page, "tickets", TICKETS)
        for ticket in tickets:
            stamp = ticket.get("generated_timestamp") if isinstance(ticket, dict) else None
            if isinstance(stamp, int):
                watermark = max(watermark, stamp)
        after = page.get("after_cursor") or after
        next_cursor = {"cursor": after, "watermark": watermark}
        yield Page(body if tickets else None, len(tickets), next_cursor)
        if page.get("end_of_stream") or not page.get("after_cursor"):
            return


def _time_based(ctx: PullContext, entity: str, cursor: dict[str, Any] | None) -> Iterator[Page]:
    path = TIME_BASED[entity]
    start = _start(ctx, cursor)
    while True:
        params: dict[str, Any] = {"start_time": start}
        if entity == "ticket_events":
            params["include"] = "comment_events"
        if ctx.api.page_size:
            params["per_page"] = min(ctx.api.page_size, EXPORT_PAGE_MAX)
        body, page = _get(ctx, path, params)
        records = _records(page, entity, path)
        end_time = page.get("end_time")
        end = bool(page.get("end_of_stream")) or not page.get("next_page")
        if not isinstance(end_time, int):
            if not end or records:
                raise ApiError(ctx.client.url(path), "the page has no integer end_time")
            end_time = start
        if not end and end_time <= start:
            raise ApiError(
                ctx.client.url(path),
                f"end_time {end_time} does not move past start_time {start} (more records at "
                "one second than a page holds); Zendesk cannot page past them time-based",
            )
        yield Page(body if records else None, len(records), {"start_time": max(end_time, start)})
        if end:
            return
        start = end_time


def _ratings(ctx: PullContext, cursor: dict[str, Any] | None) -> Iterator[Page]:
    size = min(ctx.api.page_size or RATINGS_PAGE_MAX, RATINGS_PAGE_MAX)
    start = _start(ctx, cursor)
    newest = int((cursor or {}).get("newest", start))
    following = (cursor or {}).get("next")
    restarted = False
    while True:
        try:
            if following:
                body, page = _get(ctx, following, None)
            else:
                body, page = _get(ctx, RATINGS, {"page[size]": size, "start_time": start})
        except ApiRequestError as exc:
            if not following or restarted or exc.status not in CURSOR_REFUSED:
                raise
            log.warning("satisfaction_ratings: next page refused (%s); restarting", exc)
            following, restarted = None, True
            continue
        ratings = _records(page, "satisfaction_ratings", RATINGS)
        for rating in ratings:
            if isinstance(rating, dict):
                newest = max(newest, _epoch(rating.get("created_at")))
        meta, links = page.get("meta") or {}, page.get("links") or {}
        more = bool(meta.get("has_more")) and bool(links.get("next"))
        if more:
            following = links["next"]
            next_cursor = {"start_time": start, "newest": newest, "next": following}
        else:
            next_cursor = {"start_time": newest}
        yield Page(body if ratings else None, len(ratings), next_cursor)
        if not more:
            return


def _get(ctx: PullContext, path: str, params: dict[str, Any] | None) -> tuple[bytes, dict]:
    response = ctx.client.request("GET", path, params=params)
    page = ctx.client.json_of(response)
    if not isinstance(page, dict):
        raise ApiError(ctx.client.url(path), f"expected a JSON object, got {type(page).__name__}")
    return response.content, page


def _records(page: dict, key: str, path: str) -> list:
    records = page.get(key)
    if not isinstance(records, list):
        raise ApiError(path, f"no '{key}' array in the answer (keys: {sorted(page)[:8]})")
    return records


def _epoch(stamp: object) -> int:
    """Zendesk's `2024-03-01T09:15:02Z` as epoch seconds; 0 for anything else (ingest
    quarantines such a record; it must not move the cursor)."""
    try:
        return calendar.timegm(time.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return 0


def check(ctx: PullContext) -> str:
    """GET /api/v2/users/me.json: the token's user must be an admin (incremental exports)."""
    me = ctx.client.get_json("/api/v2/users/me.json").get("user") or {}
    if me.get("id") is None:
        raise ApiAuthError(
            ctx.client.url("/api/v2/users/me.json"),
            "the credentials were not accepted (Zendesk answered as an anonymous user); "
            f"check sources.{ctx.source}.api.credentials",
        )
    if me.get("role") != "admin":
        raise ApiAuthError(
            ctx.client.url("/api/v2/users/me.json"),
            f"the token's user is a {me.get('role')}; the incremental exports need an admin",
        )
    return json.dumps({"user_id": me["id"], "role": me["role"]})


CONNECTOR = Connector(
    kind=KIND,
    credentials=("email", "token"),
    base_url=base_url,
    headers=headers,
    streams=streams,
    fetch=fetch,
    check=check,
    entities=ENTITIES,
)
