"""Zendesk Support API export pages: tickets (cursor), users, organizations and ticket events
(time-based), satisfaction ratings (cursor list), one JSON document per page.

Quirks kept on purpose: ~3% of tickets reappear on a later page with a later `updated_at`;
time-based pages repeat the last 1-3 records of a page at the start of the next one.

Over 400 lines on purpose: five Zendesk export forms share one world and one page writer.
"""

from __future__ import annotations

import base64
import calendar
import functools
import html
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cxloop.demo import texts
from cxloop.demo.activity import Activity, Step, Ticket
from cxloop.demo.common import (
    BAD_DATES,
    COUNTRIES,
    DAY,
    HOUR,
    pick_bad_rows,
    rng_for,
    write_json,
)
from cxloop.demo.world import World

SUBDOMAIN = "cxloopdemo"
API = f"https://{SUBDOMAIN}.zendesk.com/api/v2"
SUPPORT_ADDRESS = "support@cxloopdemo.zendesk.com"
GROUPS = {"support": 360000111001, "billing": 360000111002, "technical": 360000111003}
TOPIC_GROUP = {"billing": "billing", "bug": "technical", "integration": "technical"}
FIELD_CATEGORY, FIELD_PRODUCT_AREA = 360001000001, 360001000002
BRAND_ID, FORM_ID = 360000000001, 360000100001
VIA_NAME = {"email": "Mail", "web": "Web form", "chat": "Chat", "api": "Web service"}
LOCALE = {"ar": "ar", "fa": "fa"}
RATINGS_PAGE = 100


class ZendeskIds:
    """Zendesk's int64 ids for the world's people, agents and organizations."""

    def __init__(self, world: World, activity: Activity) -> None:
        rng = rng_for(world.seed, "zendesk_ids")
        self.agent = 360100000000 + np.cumsum(rng.integers(1, 5000, len(world.agents)))
        first = _first_ticket_ts(activity)
        requesters = sorted(first, key=lambda p: (first[p], p))
        ids = 361000000000 + np.cumsum(rng.integers(1, 5000, len(requesters)))
        self.user = {p: int(i) for p, i in zip(requesters, ids, strict=True)}
        with_tickets = sorted({t.account for t in activity.tickets})
        oids = 360020000000 + np.cumsum(rng.integers(1, 5000, len(with_tickets)))
        self.org = {a: int(i) for a, i in zip(with_tickets, oids, strict=True)}


def _first_ticket_ts(activity: Activity) -> dict[int, int]:
    first: dict[int, int] = {}
    for t in activity.tickets:
        first.setdefault(t.person, t.created_ts)
    return first


ENTITIES = ("tickets", "users", "organizations", "ticket_events", "satisfaction_ratings")


def write_zendesk(
    world: World,
    activity: Activity,
    out: Path,
    ids: ZendeskIds,
    entities: tuple[str, ...] = ENTITIES,
    shard: tuple[int, int] = (0, 1),
) -> dict[str, int]:
    """Write the Zendesk pages under OUT/zendesk; returns records per entity (with repeats).

    `entities` and `shard` split the work for parallel writers (cxloop/demo/parts.py): only
    those entities, and of the ticket events only the pages k with k % shard[1] == shard[0]
    (the count is then of those pages' records; the shards' counts add up to the whole).
    """
    root = out / "zendesk"
    page = min(1000, max(25, int(round(1000 * world.scale))))
    counts: dict[str, int] = {}
    if "tickets" in entities:
        tickets = _ticket_records(world, activity, ids)
        counts["zendesk.tickets"] = _write_cursor_pages(root / "tickets", tickets, page)
    if "users" in entities:
        users = LazyRecords.of(_user_records(world, activity, ids), world)
        counts["zendesk.users"] = _write_time_pages(
            world, root / "users", "users", users, min(1000, max(50, page))
        )
    if "organizations" in entities:
        orgs = LazyRecords.of(_org_records(world, activity, ids), world)
        counts["zendesk.organizations"] = _write_time_pages(
            world, root / "organizations", "organizations", orgs, 1000
        )
    if "ticket_events" in entities:
        events = _event_records(world, activity, ids)
        counts["zendesk.ticket_events"] = _write_time_pages(
            world, root / "ticket_events", "ticket_events", events, 1000, shard
        )
    if "satisfaction_ratings" in entities:
        ratings = _rating_records(world, activity, ids)
        counts["zendesk.satisfaction_ratings"] = _write_rating_pages(
            root / "satisfaction_ratings", ratings
        )
    return counts


# --- tickets ---------------------------------------------------------------------------------


def _ticket_records(world: World, activity: Activity, ids: ZendeskIds) -> list[dict]:
    """Ticket versions in export order; corrupted copies of ~1% mixed in."""
    versions: list[tuple[int, int, dict]] = []
    for t in activity.tickets:
        if t.late_update_ts is not None:
            early = _ticket_dict(world, t, ids, upto=len(t.steps) - 1)
            versions.append((early["generated_timestamp"], t.zendesk_id, early))
        final = _ticket_dict(world, t, ids, upto=len(t.steps))
        versions.append((final["generated_timestamp"], t.zendesk_id, final))
    versions.sort(key=lambda v: (v[0], v[1]))
    records = [v[2] for v in versions]
    return _with_bad_copies(world.seed, "zd_bad_tickets", records, "id")


def _ticket_dict(world: World, t: Ticket, ids: ZendeskIds, upto: int) -> dict:
    """The ticket as the API shows it after its first `upto` updates."""
    steps = t.steps[:upto]
    status = "new"
    for s in steps:
        if s.status:
            status = s.status[1]
    updated = steps[-1].ts
    topic, subject, _ = texts.TICKET_TOPICS[t.topic]
    requester = ids.user[t.person]
    assigned = any(s.kind == "assign" for s in steps)
    tags = [topic, t.priority] + (
        ["vip"] if world.col("accounts", "plan")[t.account] == "Enterprise" else []
    )
    if any(s.kind == "tags" for s in steps):
        tags.append("reviewed")
    custom = [
        {"id": FIELD_CATEGORY, "value": topic},
        {"id": FIELD_PRODUCT_AREA, "value": None if t.topic % 2 else "platform"},
    ]
    via = _via(
        t,
        str(world.col("persons", "zd_email")[t.person]).strip(),
        str(world.col("persons", "zd_name")[t.person]),
    )
    return {
        "url": f"{API}/tickets/{t.zendesk_id}.json",
        "id": t.zendesk_id,
        "external_id": None,
        "via": via,
        "created_at": _iso(t.created_ts),
        "updated_at": _iso(updated),
        "generated_timestamp": int(updated),
        "type": t.type,
        "subject": subject,
        "raw_subject": subject,
        "description": steps[0].comment,
        "priority": t.priority,
        "status": status,
        "recipient": SUPPORT_ADDRESS if t.channel == "email" else None,
        "requester_id": requester,
        "submitter_id": requester,
        "assignee_id": int(ids.agent[t.agent]) if assigned else None,
        "organization_id": ids.org[t.account],
        "group_id": GROUPS[TOPIC_GROUP.get(topic, "support")] if assigned else None,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": _iso(t.created_ts + 7 * DAY) if t.type == "task" else None,
        "tags": tags,
        "custom_fields": custom,
        "satisfaction_rating": _ticket_rating(t, steps, status),
        "sharing_agreement_ids": [],
        "custom_status_id": None,
        "fields": custom,
        "followup_ids": [],
        "ticket_form_id": FORM_ID,
        "brand_id": BRAND_ID,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": t.channel == "chat",
    }


def _via(t: Ticket, email: str, name: str) -> dict:
    if t.channel == "email":
        source = {
            "from": {"address": email, "name": name},
            "to": {"address": SUPPORT_ADDRESS, "name": "Support"},
            "rel": None,
        }
    else:
        source = {"from": {}, "to": {}, "rel": None}
    return {"channel": t.channel, "source": source}


def _ticket_rating(t: Ticket, steps: list[Step], status: str) -> dict | None:
    if t.channel == "api":
        return None
    if t.rating and any(s.kind == "rating" for s in steps):
        rating = {"id": _rating_id(t), "score": t.rating, "comment": t.rating_comment}
        if t.rating_reason:
            rating["reason"] = t.rating_reason[0]
        return rating
    solved = status in ("solved", "closed")
    return {"score": "offered" if solved and t.offered else "unoffered"}


def _rating_id(t: Ticket) -> int:
    return 360500000000 + t.zendesk_id


def _write_cursor_pages(folder: Path, records: list[dict], size: int) -> int:
    """Incremental cursor export envelopes; the last page has end_of_stream true."""
    pages = [records[i : i + size] for i in range(0, len(records), size)] or [[]]
    for k, chunk in enumerate(pages, start=1):
        last = next((r for r in reversed(chunk) if r["id"] is not None), None)
        stamp = f"{last['generated_timestamp']}.0||{last['id']}|" if last else "0.0|||"
        cursor = base64.b64encode(stamp.encode()).decode()
        write_json(
            folder / f"{folder.name}-{k:04d}.json",
            {
                "tickets": chunk,
                "after_url": f"{API}/incremental/tickets/cursor.json?cursor={cursor}",
                "after_cursor": cursor,
                "before_url": None,
                "before_cursor": None,
                "end_of_stream": k == len(pages),
            },
        )
    return len(records)


# --- users and organizations -----------------------------------------------------------------


def _user_records(world: World, activity: Activity, ids: ZendeskIds) -> list[dict]:
    """Agents and end-users (one per contact who ever opened a ticket), by updated_at."""
    rng = rng_for(world.seed, "zd_users")
    records: list[tuple[int, dict]] = []
    for i, r in enumerate(world.agents.itertuples(index=False)):
        c = COUNTRIES[r.country]
        created = int(r.created_ts)
        rec = _user(
            int(ids.agent[i]),
            f"{r.first} {r.last}",
            r.email,
            None,
            "agent",
            None,
            c["locale"],
            c["zd_tz"],
            c["iana"],
            bool(r.active),
            created,
            min(world.as_of_ts - DAY, created + 300 * DAY),
        )
        records.append((rec["_updated"], rec))
    first, last = {}, {}
    for t in activity.tickets:
        first.setdefault(t.person, t.created_ts)
        last[t.person] = t.created_ts
    for person, uid in ids.user.items():
        c = COUNTRIES[world.col("persons", "country")[person]]
        lang = world.col("persons", "lang")[person]
        email = world.col("persons", "zd_email")[person]
        created = first[person] - int(rng.integers(5, 600))
        rec = _user(
            uid,
            world.col("persons", "zd_name")[person],
            email,
            world.col("persons", "zd_phone")[person],
            "end-user",
            ids.org[int(world.col("persons", "account")[person])],
            LOCALE.get(lang, c["locale"]),
            c["zd_tz"],
            c["iana"],
            True,
            created,
            last[person] + int(rng.integers(5, 600)),
        )
        if rng.random() < 0.1:
            rec["external_id"] = world.col("persons", "sf_id")[person]
        records.append((rec["_updated"], rec))
    records.sort(key=lambda r: (r[0], r[1]["id"]))
    out = []
    for _, rec in records:
        del rec["_updated"]
        out.append(rec)
    return _with_bad_copies(world.seed, "zd_bad_users", out, "created_at")


def _user(
    uid: int,
    name: str,
    email: str | None,
    phone: str | None,
    role: str,
    org: int | None,
    locale: str,
    tz: str,
    iana: str,
    active: bool,
    created: int,
    updated: int,
) -> dict:
    return {
        "id": uid,
        "url": f"{API}/users/{uid}.json",
        "name": name,
        "email": email,
        "phone": phone,
        "role": role,
        "role_type": None,
        "custom_role_id": None,
        "organization_id": org,
        "external_id": None,
        "alias": None,
        "locale": locale,
        "time_zone": tz,
        "iana_time_zone": iana,
        "active": active,
        "verified": role == "agent",
        "suspended": False,
        "shared": False,
        "shared_agent": False,
        "restricted_agent": False,
        "moderator": False,
        "only_private_comments": False,
        "ticket_restriction": "requested" if role == "end-user" else None,
        "tags": [],
        "user_fields": {},
        "notes": "",
        "details": "",
        "signature": None,
        "photo": None,
        "last_login_at": _iso(updated) if role == "agent" else None,
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "_updated": updated,
    }


def _org_records(world: World, activity: Activity, ids: ZendeskIds) -> list[dict]:
    """One organization per account with tickets; ~90% carry the Salesforce Account Id."""
    rng = rng_for(world.seed, "zd_orgs")
    first: dict[int, int] = {}
    for t in activity.tickets:
        first.setdefault(t.account, t.created_ts)
    out = []
    for acct, oid in sorted(ids.org.items(), key=lambda kv: (first[kv[0]], kv[1])):
        created = first[acct] - int(rng.integers(1, 30)) * DAY
        updated = min(world.as_of_ts - HOUR, created + int(rng.integers(1, 400)) * DAY)
        out.append(
            {
                "url": f"{API}/organizations/{oid}.json",
                "id": oid,
                "name": org_name_variant(rng, str(world.col("accounts", "name")[acct])),
                "shared_tickets": False,
                "shared_comments": False,
                "external_id": str(world.col("accounts", "sf_id")[acct])
                if rng.random() < 0.9
                else None,
                "created_at": _iso(created),
                "updated_at": _iso(updated),
                "domain_names": [str(world.col("accounts", "domain")[acct])],
                "details": "",
                "notes": "",
                "group_id": None,
                "tags": [str(world.col("accounts", "plan")[acct]).lower()],
                "organization_fields": {},
                "_updated": updated,
            }
        )
    out.sort(key=lambda o: (o["_updated"], o["id"]))
    for o in out:
        del o["_updated"]
    return out


def org_name_variant(rng: np.random.Generator, name: str) -> str:
    """The CRM name as a helpdesk admin typed it: `Acme Logistics Inc.` -> `ACME Logistics, Inc`."""
    u = rng.random()
    if u < 0.55:
        return name
    head, suffix = name.rsplit(" ", 1)
    if u < 0.7:
        first, rest = head.split(" ", 1)
        return f"{first.upper()} {rest}, {suffix.rstrip('.')}"
    if u < 0.85:
        return head
    return f"{head}, {suffix}"


# --- ticket events ---------------------------------------------------------------------------


AUDIT_ID_BASE, AUDIT_ID_STRIDE = 370000000000, 10  # children take the ids after their audit


def _event_records(world: World, activity: Activity, ids: ZendeskIds) -> LazyRecords:
    """One Audit per ticket update (with comment_events), ordered by time, built per page."""
    audits: list[tuple[int, int, int, Ticket, Step]] = []
    for t in activity.tickets:
        for k, s in enumerate(t.steps):
            audits.append((s.ts, t.zendesk_id, k, t, s))
    audits.sort(key=lambda x: (x[0], x[1], x[2]))

    def build(i: int) -> dict:
        _, _, _, t, s = audits[i]
        return _audit(world, t, s, ids, AUDIT_ID_BASE + i * AUDIT_ID_STRIDE)

    return LazyRecords([a[0] for a in audits], build)


class LazyRecords:
    """Records made on demand (ticket events are too many to hold as dicts at large scales)."""

    def __init__(self, stamps: list[int], build: Callable[[int], dict]) -> None:
        self.stamps, self.build = stamps, build

    @classmethod
    def of(cls, records: list[dict], world: World) -> LazyRecords:
        return cls([_stamp(r, world) for r in records], records.__getitem__)


def _audit(world: World, t: Ticket, s: Step, ids: ZendeskIds, audit_id: int) -> dict:
    """The audit for one ticket update; child events get the ids after the audit's own."""
    updater = (
        ids.user[t.person]
        if s.actor == "requester"
        else int(ids.agent[t.agent])
        if s.actor == "agent"
        else -1
    )
    via = (
        VIA_NAME[t.channel]
        if s.actor == "requester"
        else "Web form"
        if s.actor == "agent"
        else "Rule"
    )
    payloads: list[dict] = []
    if s.comment:
        payloads.append(
            {
                "type": "Comment",
                "author_id": updater,
                "body": s.comment,
                "html_body": _html_body(s.comment),
                "public": True,
                "attachments": [],
                "audit_id": audit_id,
                "created_at": _iso(s.ts),
                "event_type": "Comment",
            }
        )
    if s.kind == "create":
        payloads += [
            {"status": "new", "event_type": "Create"},
            {"priority": t.priority, "event_type": "Create"},
            {"type": t.type, "event_type": "Create"},
            {"requester_id": updater, "event_type": "Create"},
        ]
    elif s.kind == "assign":
        payloads.append(
            {"assignee_id": int(ids.agent[t.agent]), "previous_value": None, "event_type": "Change"}
        )
    elif s.kind == "rating":
        payloads.append(
            {
                "type": "SatisfactionRating",
                "score": t.rating,
                "assignee_id": int(ids.agent[t.agent]),
                "body": t.rating_comment or "",
                "event_type": "SatisfactionRating",
            }
        )
    elif s.kind == "tags":
        payloads.append(
            {
                "tags": _tags_after(world, t),
                "added_tags": ["reviewed"],
                "removed_tags": [],
                "event_type": "Change",
            }
        )
    if s.status and s.kind != "create":
        payloads.append(
            {"status": s.status[1], "previous_value": s.status[0], "event_type": "Change"}
        )
    children = [
        {"id": audit_id + 1 + k, "via": via, "via_reference_id": None, **payload}
        for k, payload in enumerate(payloads)
    ]
    return {
        "id": audit_id,
        "ticket_id": t.zendesk_id,
        "timestamp": int(s.ts),
        "created_at": _iso(s.ts),
        "updater_id": updater,
        "via": via,
        "system": {},
        "metadata": {},
        "event_type": "Audit",
        "merged_ticket_ids": [],
        "child_events": children,
    }


@functools.lru_cache(maxsize=4096)
def _html_body(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _tags_after(world: World, t: Ticket) -> list[str]:
    topic = texts.TICKET_TOPICS[t.topic][0]
    vip = ["vip"] if world.col("accounts", "plan")[t.account] == "Enterprise" else []
    return [topic, t.priority, *vip, "reviewed"]


# --- satisfaction ratings --------------------------------------------------------------------


def _rating_records(world: World, activity: Activity, ids: ZendeskIds) -> list[dict]:
    """Received ratings (good/bad), newest last, consistent with the tickets' ratings."""
    out = []
    for t in activity.tickets:
        if not t.rating or t.rating_ts is None:
            continue
        rid = _rating_id(t)
        reason, code = t.rating_reason or ("No reason provided", 0)
        topic = texts.TICKET_TOPICS[t.topic][0]
        out.append(
            {
                "url": f"{API}/satisfaction_ratings/{rid}.json",
                "id": rid,
                "assignee_id": int(ids.agent[t.agent]),
                "group_id": GROUPS[TOPIC_GROUP.get(topic, "support")],
                "requester_id": ids.user[t.person],
                "ticket_id": t.zendesk_id,
                "score": t.rating,
                "comment": t.rating_comment,
                "reason": reason,
                "reason_code": code,
                "created_at": _iso(t.rating_ts),
                "updated_at": _iso(t.rating_ts),
            }
        )
    out.sort(key=lambda r: (r["created_at"], r["id"]))
    return _with_bad_copies(world.seed, "zd_bad_ratings", out, "created_at")


def _write_rating_pages(folder: Path, records: list[dict]) -> int:
    """Cursor-paginated list pages: `meta.has_more`, `meta.after_cursor`, `links.next`."""
    pages = [records[i : i + RATINGS_PAGE] for i in range(0, len(records), RATINGS_PAGE)] or [[]]
    for k, chunk in enumerate(pages, start=1):
        after = base64.b64encode(f"r{k * RATINGS_PAGE}".encode()).decode()
        before = base64.b64encode(f"r{(k - 1) * RATINGS_PAGE + 1}".encode()).decode()
        more = k < len(pages)
        base = f"{API}/satisfaction_ratings.json?page%5Bsize%5D={RATINGS_PAGE}"
        write_json(
            folder / f"{folder.name}-{k:04d}.json",
            {
                "satisfaction_ratings": chunk,
                "meta": {"has_more": more, "after_cursor": after, "before_cursor": before},
                "links": {
                    "prev": f"{base}&page%5Bbefore%5D={before}" if k > 1 else None,
                    "next": f"{base}&page%5Bafter%5D={after}" if more else None,
                },
            },
        )
    return len(records)


# --- shared ----------------------------------------------------------------------------------


def _write_time_pages(
    world: World,
    folder: Path,
    key: str,
    records: LazyRecords,
    size: int,
    shard: tuple[int, int] = (0, 1),
) -> int:
    """Time-based envelopes; each page after the first repeats 1-3 records of the previous.

    Only pages k (from 0) with k % shard[1] == shard[0] are written; returns their records.
    """
    rng = rng_for(world.seed, f"zd_pages_{key}")
    n = len(records.stamps)
    pages: list[tuple[int, int]] = []
    start = 0
    while True:
        pages.append((start, min(start + size, n)))
        if start + size >= n:
            break
        start = start + size - int(rng.integers(1, 4))
    written = 0
    for k, (lo, hi) in enumerate(pages, start=1):
        if (k - 1) % shard[1] != shard[0]:
            continue
        chunk = [records.build(i) for i in range(lo, hi)]
        end_time = max(records.stamps[lo:hi], default=world.as_of_ts)
        last = k == len(pages)
        next_page = None if last else f"{API}/incremental/{key}.json?start_time={end_time}"
        write_json(
            folder / f"{folder.name}-{k:04d}.json",
            {
                key: chunk,
                "count": len(chunk),
                "end_time": end_time,
                "next_page": next_page,
                "end_of_stream": last,
            },
        )
        written += len(chunk)
    return written


def _stamp(record: dict, world: World) -> int:
    """The record's export time (epoch): `timestamp` for events, else `updated_at`."""
    if isinstance(record.get("timestamp"), int):
        return record["timestamp"]
    stamp = record.get("updated_at")
    if isinstance(stamp, str) and len(stamp) == 20 and stamp[:4].isdigit():
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    return world.as_of_ts


def _with_bad_copies(seed: int, part: str, records: list[dict], field: str) -> list[dict]:
    """Insert ~1% corrupted copies: a null id, or an unparseable date in `field`."""
    rng = rng_for(seed, part)
    bad = set(pick_bad_rows(rng, len(records)).tolist())
    out = []
    for i, rec in enumerate(records):
        out.append(rec)
        if i in bad:
            copy = dict(rec)
            if field == "id":
                copy["id"] = None
            else:
                copy[field] = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
            out.append(copy)
    return out


def _iso(ts: int) -> str:
    """Epoch seconds as Zendesk writes them, `2026-11-01T09:30:00Z` (the same text as
    `time.strftime` of `time.gmtime`, 3x faster: ~280k a scale-1 generation)."""
    days, seconds = divmod(int(ts), 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_iso_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z"


@functools.lru_cache(maxsize=8192)
def _iso_day(days: int) -> str:
    """The date `days` after 1970-01-01, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86400))
