"""What happens to the world's accounts inside the export window: tickets and survey answers.

Everything is driven by the latent monthly `badness` of the account (see `world.py`): worse
experience -> more tickets, slower replies, more reopens, bad ratings, lower scores.

Over 400 lines on purpose: tickets and survey answers are driven by the same monthly badness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from cxloop.demo import texts
from cxloop.demo.common import COUNTRIES, DAY, HOUR, add_months, epoch, national, rng_for, sigmoid
from cxloop.demo.world import WINDOW_MONTHS, World

TICKET_RATE = {"Starter": 0.45, "Growth": 0.75, "Enterprise": 1.3}
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_SHARE = (0.2, 0.55, 0.18, 0.07)
PRIORITY_REPLY_SHIFT = {"low": 0.4, "normal": 0.0, "high": -0.5, "urgent": -1.0}
CHANNELS = ("email", "web", "chat", "api")
CHANNEL_SHARE = (0.5, 0.35, 0.1, 0.05)
TICKET_TYPES = ("question", "incident", "problem", "task")
TYPE_SHARE = (0.5, 0.35, 0.1, 0.05)
CLOSE_AFTER = 4 * DAY
BACKLOG_SHARE = 0.05
QUALTRICS_NATIVE_NAME_SHARE = 0.3


@dataclass
class Step:
    """One ticket update: who did it, the comment (if any) and the status change (if any)."""

    ts: int
    actor: str  # requester | agent | system
    comment: str | None = None
    status: tuple[str, str] | None = None  # (previous, new)
    kind: str = "update"  # create | assign | update | rating | close | tags


@dataclass
class Ticket:
    """A support ticket's true history up to as_of."""

    account: int
    person: int
    agent: int
    created_ts: int
    priority: str
    type: str
    channel: str
    topic: int
    native_description: bool
    badness: float
    steps: list[Step] = field(default_factory=list)
    status: str = "new"
    solved_ts: int | None = None
    reopens: int = 0
    rating: str | None = None  # good | bad | None
    rating_ts: int | None = None
    rating_comment: str | None = None
    rating_reason: tuple[str, int] | None = None
    offered: bool = False
    late_update_ts: int | None = None
    zendesk_id: int = 0

    @property
    def updated_ts(self) -> int:
        return self.steps[-1].ts


@dataclass
class Response:
    """One survey answer: who, when, the score and the optional comment."""

    survey: str  # nps | csat | ces
    person: int
    account: int
    ts: int
    score: int
    text: str
    text_lang: str
    duration: int
    ticket: int | None = None  # index into tickets (csat)
    touchpoint: str = ""
    quarter: str = ""


@dataclass
class Activity:
    """All tickets and survey responses in the window."""

    tickets: list[Ticket]
    responses: list[Response]


def simulate_activity(world: World) -> Activity:
    """Tickets, then surveys that follow from them and from the accounts' experience."""
    add_messy_identities(world)
    tickets = _tickets(world)
    responses = _nps(world) + _csat(world, tickets) + _ces(world, tickets)
    return Activity(tickets, responses)


def add_messy_identities(world: World) -> None:
    """How each person appears in Zendesk and Qualtrics: e-mail, phone and name variants."""
    rng = rng_for(world.seed, "identity")
    p = world.persons
    p["zd_email"] = [
        _email_variant(rng, e, f, ln)
        for e, f, ln in zip(p["email"], p["first"], p["last"], strict=True)
    ]
    p["q_email"] = [
        _email_variant(rng, e, f, ln)
        for e, f, ln in zip(p["email"], p["first"], p["last"], strict=True)
    ]
    u = rng.random(len(p))
    nsn = [ph[1 + len(_cc(c)) :] for ph, c in zip(p["phone"], p["country"], strict=True)]
    p["zd_phone"] = pd.Series(
        [  # object dtype: a missing phone stays None, not NaN
            None if x < 0.25 else (ph if x < 0.4 else national(c, n, compact=x > 0.85))
            for x, ph, c, n in zip(u, p["phone"], p["country"], nsn, strict=True)
        ],
        index=p.index,
        dtype=object,
    )
    p["zd_name"] = [f"{f} {ln}" for f, ln in zip(p["first_alt"], p["last_alt"], strict=True)]
    native = (p["lang"] != "en").to_numpy() & (rng.random(len(p)) < QUALTRICS_NATIVE_NAME_SHARE)
    p["q_first"] = np.where(native, p["first_native"], p["first"])
    p["q_last"] = np.where(native, p["last_native"], p["last"])


def _cc(country: str) -> str:
    return COUNTRIES[country]["cc"]


def _email_variant(rng: np.random.Generator, email: str, first: str, last: str) -> str:
    """The CRM e-mail as another system has it: same, other case, padded, or personal."""
    u = rng.random()
    if u < 0.72:
        return email
    local, domain = email.split("@")
    if u < 0.84:
        return ".".join(w.capitalize() for w in local.split(".")) + "@" + domain.capitalize()
    if u < 0.90:
        return (
            " "
            + ".".join(w.capitalize() for w in local.split("."))
            + "@"
            + domain.capitalize()
            + " "
        )
    if u < 0.95:
        return email.upper()
    provider = ("gmail.com", "outlook.com", "yahoo.com", "hotmail.com")[int(rng.integers(0, 4))]
    slug = "".join(ch for ch in (first + last).lower() if ch.isascii() and ch.isalnum())
    return f"{slug}{int(rng.integers(1, 99))}@{provider}"


def _tickets(world: World) -> list[Ticket]:
    """Tickets per active account-month (Poisson), each with its update history."""
    rng = rng_for(world.seed, "tickets")
    acc = world.accounts
    ms = world.month_starts
    first_m = len(ms) - 1 - WINDOW_MONTHS
    starts = acc["first_start_ts"].to_numpy()
    until = np.minimum(acc["active_until_ts"].to_numpy(), world.as_of_ts)
    rate = acc["plan"].map(TICKET_RATE).to_numpy()
    prone = _prone_persons(world)
    where: list[tuple[int, int, int]] = []  # (account, month, created)
    for m in range(first_m, len(ms) - 1):
        lo = np.maximum(starts, ms[m])
        hi = np.minimum(until, ms[m + 1])
        frac = np.clip((hi - lo) / (ms[m + 1] - ms[m]), 0, 1)
        counts = rng.poisson(rate * np.exp(0.55 * world.badness[:, m]) * frac)
        for a in np.flatnonzero(counts):
            span = max(1, int(hi[a] - lo[a] - HOUR))
            for off in rng.integers(0, span, size=counts[a]):
                where.append((int(a), m, int(lo[a] + off)))
    tickets = _new_tickets(world, rng, where, prone)
    tickets.sort(key=lambda t: (t.created_ts, t.account, t.person))
    lang = world.persons["lang"].to_numpy()
    for i, t in enumerate(tickets):
        t.zendesk_id = 1001 + i
        _history(world, rng, t, str(lang[t.person]))
    return tickets


def _prone_persons(world: World) -> list[np.ndarray]:
    """Per account, the people who open tickets (~70% of contacts ever do)."""
    p = world.persons
    out: list[np.ndarray] = [np.array([], dtype=int)] * len(world.accounts)
    for a, grp in p.groupby("account", sort=True):
        idx = grp.index.to_numpy()
        pr = idx[grp["ticket_prone"].to_numpy()]
        out[int(a)] = pr if len(pr) else idx
    return out


def _new_tickets(
    world: World,
    rng: np.random.Generator,
    where: list[tuple[int, int, int]],
    prone: list[np.ndarray],
) -> list[Ticket]:
    """Ticket shells with their attributes drawn in bulk."""
    n = len(where)
    lang = world.persons["lang"].to_numpy()
    prio = rng.choice(PRIORITIES, n, p=PRIORITY_SHARE)
    kind = rng.choice(TICKET_TYPES, n, p=TYPE_SHARE)
    chan = rng.choice(CHANNELS, n, p=CHANNEL_SHARE)
    topic = rng.integers(0, len(texts.TICKET_TOPICS), n)
    agent = rng.integers(0, len(world.agents), n)
    pick = rng.random(n)
    native = rng.random(n) < 0.5
    noise = rng.normal(0, 0.4, n)
    out = []
    for k, (a, m, created) in enumerate(where):
        req = prone[a]
        person = int(req[int(pick[k] * len(req))])
        out.append(
            Ticket(
                account=a,
                person=person,
                agent=int(agent[k]),
                created_ts=created,
                priority=str(prio[k]),
                type=str(kind[k]),
                channel=str(chan[k]),
                topic=int(topic[k]),
                native_description=bool(lang[person] != "en" and native[k]),
                badness=float(world.badness[a, m] + noise[k]),
            )
        )
    return out


def _history(world: World, rng: np.random.Generator, t: Ticket, lang: str) -> None:
    """The ticket's updates: create, assign, replies, solve, maybe reopen, rating, close."""
    b = t.badness
    gap = lambda: int(HOUR * rng.lognormal(np.log(5) + 0.5 * b, 1.0)) + 60  # noqa: E731
    topic = texts.TICKET_TOPICS[t.topic]
    description = (
        texts.TICKET_DESCRIPTION_NATIVE[lang][int(rng.integers(0, 2))]
        if t.native_description
        else topic[2][int(rng.integers(0, 2))]
    )
    steps = [Step(t.created_ts, "requester", description, ("", "new"), "create")]
    first_reply = (
        int(60 * rng.lognormal(np.log(70) + 0.8 * b + PRIORITY_REPLY_SHIFT[t.priority], 0.9)) + 120
    )
    if rng.random() < BACKLOG_SHARE:  # sat unassigned in the queue for days
        first_reply += int(rng.integers(1, 4)) * DAY
    steps.append(
        Step(
            t.created_ts + int(first_reply * rng.uniform(0.05, 0.6)),
            "agent",
            None,
            ("new", "open"),
            "assign",
        )
    )
    ts = t.created_ts + first_reply
    steps.append(Step(ts, "agent", _pick(rng, texts.AGENT_REPLIES), ("open", "pending")))
    for _ in range(rng.poisson(0.3 + 0.5 * max(b, 0))):
        ts += gap()
        steps.append(
            Step(ts, "requester", _pick(rng, texts.REQUESTER_FOLLOWUPS), ("pending", "open"))
        )
        ts += gap()
        steps.append(Step(ts, "agent", _pick(rng, texts.AGENT_REPLIES), ("open", "pending")))
    ts += gap()
    steps.append(Step(ts, "agent", _pick(rng, texts.SOLVE_REPLIES), ("pending", "solved")))
    solved_first = ts
    if rng.random() < sigmoid(np.array(-2.6 + 0.9 * b)):
        ts += gap() + DAY
        steps.append(Step(ts, "requester", _pick(rng, texts.REOPEN_TEXTS), ("solved", "open")))
        ts += gap()
        steps.append(Step(ts, "agent", _pick(rng, texts.SOLVE_REPLIES), ("open", "solved")))
    solved_last = ts
    t.offered = bool(rng.random() < 0.85) and t.channel != "api"  # no survey for API tickets
    rated = t.offered and rng.random() < 0.33
    if rated:
        reopened = any(s.status == ("solved", "open") for s in steps)
        bad = rng.random() < sigmoid(np.array(-1.7 + 1.3 * b + 0.9 * reopened))
        t.rating = "bad" if bad else "good"
        t.rating_ts = solved_last + int(HOUR * rng.uniform(0.5, 48))
        if rng.random() < 0.5:
            t.rating_comment = _pick(rng, texts.RATING_COMMENTS[t.rating])
        if bad:
            t.rating_reason = texts.BAD_REASONS[int(rng.integers(0, len(texts.BAD_REASONS)))]
        steps.append(Step(t.rating_ts, "requester", None, None, "rating"))
    close_ts = max(solved_last + CLOSE_AFTER, (t.rating_ts or 0) + HOUR)
    steps.append(Step(close_ts, "system", None, ("solved", "closed"), "close"))
    if rng.random() < 0.03:
        t.late_update_ts = close_ts + int(rng.integers(20, 60)) * DAY
        steps.append(Step(t.late_update_ts, "agent", None, None, "tags"))
    _cut_at(world, rng, t, steps, solved_first)


def _cut_at(
    world: World, rng: np.random.Generator, t: Ticket, steps: list[Step], solved_first: int
) -> None:
    """Keep what happened before as_of; the ticket's status is the last one reached."""
    limit = world.as_of_ts - 60
    kept = [s for s in steps if s.ts <= limit]
    status = "new"
    for s in kept:
        if s.status:
            status = s.status[1]
    if status == "open" and rng.random() < 0.25 and kept[-1].ts + HOUR <= limit:
        kept.append(Step(kept[-1].ts + HOUR, "agent", None, ("open", "hold")))
        status = "hold"
    t.steps, t.status = kept, status
    t.reopens = sum(1 for s in kept if s.status == ("solved", "open"))
    t.solved_ts = solved_first if solved_first <= limit else None
    if t.rating_ts is not None and t.rating_ts > limit:
        t.rating = t.rating_ts = t.rating_comment = t.rating_reason = None
    if t.late_update_ts is not None and t.late_update_ts > limit:
        t.late_update_ts = None


def _pick(rng: np.random.Generator, pool: tuple[str, ...]) -> str:
    return pool[int(rng.integers(0, len(pool)))]


def _open_text(rng: np.random.Generator, lang: str, sentiment: int) -> tuple[str, str]:
    """A comment in the person's language (sometimes English), or none (about 45%)."""
    if rng.random() < 0.45:
        return "", lang
    use = lang if lang == "en" or rng.random() < 0.8 else "en"
    return _pick(rng, texts.OPEN_TEXT[use][sentiment]), use


def _nps(world: World) -> list[Response]:
    """Relational NPS: each quarter ~25% of the contacts of active accounts answer."""
    rng = rng_for(world.seed, "nps")
    p, acc = world.persons, world.accounts
    lang, mood = p["lang"].to_numpy(), p["mood"].to_numpy()
    out: list[Response] = []
    for label, send_ts, end_ts in _quarters(world):
        acct = p["account"].to_numpy()
        active = (acc["first_start_ts"].to_numpy()[acct] <= send_ts) & (
            acc["active_until_ts"].to_numpy()[acct] > send_ts
        )
        who = np.flatnonzero(active & (rng.random(len(p)) < 0.25))
        m = int(world.month_index(send_ts))
        for i in who:
            a = int(acct[i])
            ts = min(send_ts + int(rng.exponential(3 * DAY)), end_ts - HOUR, world.as_of_ts - HOUR)
            latent = 8.2 - 1.7 * world.badness[a, m] + mood[i] + rng.normal(0, 1.2)
            score = int(np.clip(np.round(latent), 0, 10))
            sentiment = 0 if score <= 6 else (1 if score <= 8 else 2)
            text, tl = _open_text(rng, str(lang[i]), sentiment)
            out.append(
                Response(
                    "nps", int(i), a, ts, score, text, tl, int(rng.integers(25, 400)), quarter=label
                )
            )
    return out


def _quarters(world: World) -> list[tuple[str, int, int]]:
    """(`2025_Q3`, send time, quarter end) for each quarter whose survey went out in the window."""
    out = []
    first = world.window_start_ts
    q = date(world.as_of.year - 2, 1, 1)
    while epoch(q) < world.as_of_ts:
        send = epoch(q) + 20 * DAY  # the wave goes out three weeks into the quarter
        end = epoch(add_months(q, 3))
        if first <= send < world.as_of_ts:
            out.append((f"{q.year}_Q{(q.month - 1) // 3 + 1}", send, end))
        q = add_months(q, 3)
    return out


def _csat(world: World, tickets: list[Ticket]) -> list[Response]:
    """Transactional CSAT after ~25% of solved tickets."""
    rng = rng_for(world.seed, "csat")
    lang, mood = world.persons["lang"].to_numpy(), world.persons["mood"].to_numpy()
    out: list[Response] = []
    for k, t in enumerate(tickets):
        if t.solved_ts is None or rng.random() >= 0.25:
            continue
        ts = t.solved_ts + int(HOUR * rng.lognormal(np.log(6), 0.8))
        if ts > world.as_of_ts - HOUR:
            continue
        latent = 4.3 - 0.9 * t.badness - 0.6 * t.reopens + 0.5 * mood[t.person]
        score = int(np.clip(np.round(latent + rng.normal(0, 0.8)), 1, 5))
        sentiment = 0 if score <= 2 else (1 if score == 3 else 2)
        text, tl = _open_text(rng, str(lang[t.person]), sentiment)
        out.append(
            Response(
                "csat",
                t.person,
                t.account,
                ts,
                score,
                text,
                tl,
                int(rng.integers(15, 200)),
                ticket=k,
            )
        )
    return out


def _ces(world: World, tickets: list[Ticket]) -> list[Response]:
    """In-the-moment CES after onboarding, chats and calls."""
    rng = rng_for(world.seed, "ces")
    p, acc = world.persons, world.accounts
    events: list[tuple[int, int, str]] = []  # (person, ts, touchpoint)
    for t in tickets:
        if t.channel == "chat" and rng.random() < 0.4 and len(t.steps) > 2:
            events.append((t.person, t.steps[2].ts + 300, "chat"))
    by_account = p.groupby("account", sort=True).groups
    starts, untils = acc["first_start_ts"].to_numpy(), acc["active_until_ts"].to_numpy()
    ms = world.month_starts
    first_m = len(ms) - 1 - WINDOW_MONTHS
    for a in range(len(acc)):
        members = np.asarray(by_account.get(a, []))
        if len(members) == 0:
            continue
        start, until = starts[a], untils[a]
        if start >= world.window_start_ts:
            for i in rng.choice(members, size=min(2, len(members)), replace=False):
                events.append((int(i), int(start + rng.integers(5, 30) * DAY), "onboarding"))
        for m in range(first_m, len(ms) - 1):
            if ms[m] < start or ms[m] >= until or rng.random() >= 0.1:
                continue
            tp = ("billing_call", "renewal_call", "training_session")[int(rng.integers(0, 3))]
            events.append((int(rng.choice(members)), int(ms[m] + rng.integers(0, 28 * DAY)), tp))
    lang, mood = p["lang"].to_numpy(), p["mood"].to_numpy()
    account_of = p["account"].to_numpy()
    out: list[Response] = []
    for person, ts, tp in sorted(events, key=lambda e: (e[1], e[0], e[2])):
        ts += int(rng.integers(5, 120) * 60)
        if ts > world.as_of_ts - HOUR:
            continue
        a = int(account_of[person])
        latent = 5.4 - 1.0 * world.badness[a, int(world.month_index(ts))] + 0.6 * mood[person]
        score = int(np.clip(np.round(latent + rng.normal(0, 1.0)), 1, 7))
        sentiment = 0 if score <= 3 else (1 if score == 4 else 2)
        text, tl = _open_text(rng, str(lang[person]), sentiment)
        out.append(
            Response(
                "ces", person, a, ts, score, text, tl, int(rng.integers(10, 120)), touchpoint=tp
            )
        )
    return out
