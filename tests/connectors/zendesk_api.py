"""A local Zendesk Support API, written from Zendesk's documentation (docs/connectors.md).

- GET /api/v2/incremental/tickets/cursor.json: `start_time` (epoch, compared with each
  ticket's `generated_timestamp`) or `cursor`; `per_page` (max 1000). Answers `tickets`,
  `after_url`, `after_cursor`, `before_url`, `before_cursor`, `end_of_stream`. An updated
  ticket gets a later `generated_timestamp`, so it comes again after the cursor.
- GET /api/v2/incremental/{users,organizations,ticket_events}.json: time-based; records whose
  time (`updated_at`; events: `timestamp`) is >= `start_time`, a page of `per_page` (default
  1000); `count`, `end_time` (the last record's time, so the next page repeats the records
  at that second), `next_page` (null at the end), `end_of_stream` (count < per_page).
- GET /api/v2/satisfaction_ratings.json: cursor pagination, `page[size]` (max 100),
  `page[after]`, `start_time` (on `created_at`); `meta.has_more`, `meta.after_cursor`,
  `links.next`.
- GET /api/v2/users/me.json. Basic auth `{email}/token:{token}`, else 401.
A cursor this server did not issue, or one issued before `expire_cursors()`, is answered
400 `InvalidPaginationParameter`.
"""

from __future__ import annotations

import base64
import bisect
import calendar
import json
import time
from typing import Any
from urllib.parse import urlencode

from vendor_http import Reply, Request

TIME_BASED = {"users": "updated_at", "organizations": "updated_at", "ticket_events": "timestamp"}
RESOURCES = ("tickets", *TIME_BASED, "satisfaction_ratings")


def epoch(value: Any) -> int:
    """A record's time as epoch seconds (ints as they are; unparsable text as 0)."""
    if isinstance(value, int):
        return value
    try:
        return calendar.timegm(time.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return 0


class ZendeskApp:
    """The data and the endpoints; `put` adds or replaces records (by id) at any time."""

    def __init__(self, email: str = "admin@acme.example", token: str = "zd-token-123") -> None:
        self.auth = "Basic " + base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.role = "admin"
        self.data: dict[str, list[dict]] = {name: [] for name in RESOURCES}
        self.generation = 1
        self._sorted: dict[str, tuple[list[tuple[int, int]], list[dict]]] = {}

    def put(self, resource: str, *records: dict) -> None:
        rows = self.data[resource]
        for record in records:
            rid = record.get("id")
            at = next((i for i, r in enumerate(rows) if rid is not None and r.get("id") == rid), -1)
            if at >= 0:
                rows[at] = record
            else:
                rows.append(record)
        self._sorted.pop(resource, None)

    def load(self, resource: str, records: list[dict]) -> None:
        """Add many records with distinct ids at once (no replacement check: benchmarks)."""
        self.data[resource].extend(records)
        self._sorted.pop(resource, None)

    def expire_cursors(self) -> None:
        self.generation += 1

    def __call__(self, request: Request) -> Reply:
        if request.header("Authorization") != self.auth:
            return Reply.json({"error": "Couldn't authenticate you"}, 401)
        path = request.path
        if path == "/api/v2/users/me.json":
            return Reply.json({"user": {"id": 9001, "role": self.role, "name": "Admin"}})
        if path == "/api/v2/incremental/tickets/cursor.json":
            return self._tickets(request)
        if path == "/api/v2/satisfaction_ratings.json":
            return self._ratings(request)
        for name in TIME_BASED:
            if path == f"/api/v2/incremental/{name}.json":
                return self._time_based(request, name)
        return Reply.json({"error": "InvalidEndpoint"}, 404)

    # -- ordering and cursors ------------------------------------------------------------

    def _order(self, resource: str, time_key: str) -> tuple[list[tuple[int, int]], list[dict]]:
        if resource not in self._sorted:
            rows = sorted(
                self.data[resource], key=lambda r: (epoch(r.get(time_key)), r.get("id") or 0)
            )
            keys = [(epoch(r.get(time_key)), r.get("id") or 0) for r in rows]
            self._sorted[resource] = (keys, rows)
        return self._sorted[resource]

    def _encode(self, key: tuple[int, int]) -> str:
        return base64.b64encode(f"{self.generation}|{key[0]}|{key[1]}".encode()).decode()

    def _decode(self, token: str) -> tuple[int, int] | None:
        try:
            generation, stamp, rid = base64.b64decode(token, validate=True).decode().split("|")
        except (ValueError, UnicodeDecodeError):
            return None
        return (int(stamp), int(rid)) if int(generation) == self.generation else None

    def _invalid_cursor(self) -> Reply:
        return Reply.json(
            {"error": "InvalidPaginationParameter", "description": "cursor is invalid or expired"},
            400,
        )

    # -- endpoints -----------------------------------------------------------------------

    def _tickets(self, request: Request) -> Reply:
        keys, rows = self._order("tickets", "generated_timestamp")
        size = min(int(request.query.get("per_page", 1000)), 1000)
        if "cursor" in request.query:
            after = self._decode(request.query["cursor"])
            if after is None:
                return self._invalid_cursor()
            first = bisect.bisect_right(keys, after)
        elif "start_time" in request.query:
            first = bisect.bisect_left(keys, (int(request.query["start_time"]), -1))
        else:
            return Reply.json({"error": "start_time or cursor is required"}, 400)
        page = rows[first : first + size]
        last = keys[first + len(page) - 1] if page else (keys[first - 1] if first else (0, 0))
        end = first + size >= len(rows)
        cursor = self._encode(last)
        url = f"{request.base_url}{request.path}?cursor={cursor}"
        body = {
            "tickets": page,
            "after_url": None if end else url,
            "after_cursor": cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": end,
        }
        return Reply.json(body)

    def _time_based(self, request: Request, name: str) -> Reply:
        if "start_time" not in request.query:
            return Reply.json({"error": "start_time is required"}, 400)
        start = int(request.query["start_time"])
        size = min(int(request.query.get("per_page", 1000)), 1000)
        keys, rows = self._order(name, TIME_BASED[name])
        first = bisect.bisect_left(keys, (start, -1))
        page = rows[first : first + size]
        end_time = keys[first + len(page) - 1][0] if page else start
        end = len(page) < size
        next_page = None if end else f"{request.base_url}{request.path}?start_time={end_time}"
        body = {name: page, "count": len(page), "end_time": end_time, "next_page": next_page,
                "end_of_stream": end}  # fmt: skip
        return Reply.json(body)

    def _ratings(self, request: Request) -> Reply:
        size = min(int(request.query.get("page[size]", 100)), 100)
        start = int(request.query.get("start_time", 0))
        keys, rows = self._order("satisfaction_ratings", "created_at")
        if "page[after]" in request.query:
            after = self._decode(request.query["page[after]"])
            if after is None:
                return self._invalid_cursor()
            first = bisect.bisect_right(keys, after)
        else:
            first = bisect.bisect_left(keys, (start, -1))
        page = rows[first : first + size]
        more = first + size < len(rows)
        after_cursor = self._encode(keys[first + len(page) - 1]) if page else None
        query = {"page[size]": size, "page[after]": after_cursor, "start_time": start}
        body = {
            "satisfaction_ratings": page,
            "meta": {"has_more": more, "after_cursor": after_cursor, "before_cursor": None},
            "links": {
                "prev": None,
                "next": f"{request.base_url}{request.path}?{urlencode(query)}" if more else None,
            },
        }
        return Reply.json(body)


def records_of(page_file: str) -> tuple[str, list[dict]]:
    """The resource name and records of a hand-written Zendesk page file."""
    with open(page_file, encoding="utf-8") as handle:
        page = json.load(handle)
    [name] = [k for k in RESOURCES if isinstance(page.get(k), list)]
    return name, page[name]
