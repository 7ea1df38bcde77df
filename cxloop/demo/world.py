"""The true world behind the demo exports: staff, accounts, people, subscriptions and churn.

Each account has a latent monthly experience `badness` (0 = typical, higher = worse). It drives
tickets and survey scores (see `activity.py`) and, at each renewal, the churn decision:
logit = base (plan, size) + BETA * mean badness of the 6 months before the term ends.

Over 400 lines on purpose: the demo's latent world is one model; splitting it would spread
its parameters over files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from cxloop.demo import texts
from cxloop.demo.common import (
    COUNTRIES,
    DAY,
    REGION_COUNTRIES,
    add_months,
    e164,
    epoch,
    phone_nsn,
    rng_for,
    sf_ids,
    sigmoid,
)

HISTORY_MONTHS = 36
WINDOW_MONTHS = 18
PLANS = ("Starter", "Growth", "Enterprise")
PLAN_SHARE = (0.5, 0.35, 0.15)
PLAN_PRICE = {"Starter": 240.0, "Growth": 480.0, "Enterprise": 900.0}
PLAN_SEATS = {"Starter": (5, 30), "Growth": (20, 150), "Enterprise": (100, 800)}
PLAN_LOGIT = {"Starter": 0.35, "Growth": 0.0, "Enterprise": -0.45}
REGIONS = ("NA", "EMEA", "MENA", "APAC", "LATAM")
REGION_SHARE = (0.35, 0.25, 0.2, 0.12, 0.08)
CHURN_INTERCEPT = -2.3
CHURN_BETA = 1.7
RENEWAL_LEAD_DAYS = 120


@dataclass
class World:
    """Everything that is true, before any source system writes it down."""

    as_of: date
    seed: int
    scale: float
    month_starts: np.ndarray  # epoch seconds of the first day of each simulated month
    badness: np.ndarray  # (accounts, months) latent experience, higher = worse
    csms: pd.DataFrame
    sf_other_users: pd.DataFrame
    agents: pd.DataFrame
    accounts: pd.DataFrame
    persons: pd.DataFrame
    opportunities: list[dict] = field(default_factory=list)
    decisions: list[tuple[int, date, float, bool]] = field(default_factory=list)
    _columns: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)

    def col(self, table: str, name: str) -> np.ndarray:
        """A column of `accounts` or `persons` as a cached numpy array (fast row access)."""
        key = (table, name)
        if key not in self._columns:
            self._columns[key] = getattr(self, table)[name].to_numpy()
        return self._columns[key]

    @property
    def base_logit(self) -> np.ndarray:
        return self.accounts["base_logit"].to_numpy()

    @cached_property
    def as_of_ts(self) -> int:
        return epoch(self.as_of)

    @cached_property
    def window_start_ts(self) -> int:
        return epoch(add_months(self.as_of, -WINDOW_MONTHS))

    def month_index(self, ts: np.ndarray | int) -> np.ndarray:
        """Index of the simulated month that contains each timestamp."""
        return np.clip(
            np.searchsorted(self.month_starts, ts, side="right") - 1, 0, len(self.month_starts) - 1
        )

    def recent_badness(self, account: int, end_ts: int, months: int = 6) -> float:
        """Mean latent badness of the `months` months before `end_ts` (the churn driver)."""
        m = int(self.month_index(end_ts))
        return float(self.badness[account, max(0, m - months) : max(1, m)].mean())


def build_world(scale: float, seed: int, as_of: date) -> World:
    """Simulate staff, accounts, people, experience and subscriptions."""
    first_month = add_months(as_of.replace(day=1), -HISTORY_MONTHS)
    month_starts = np.array([epoch(add_months(first_month, k)) for k in range(HISTORY_MONTHS + 1)])
    n_accounts = max(20, int(round(2000 * scale)))
    csms = _staff(seed, "csms", max(3, int(round(20 * scale))), as_of)
    agents = _staff(seed, "agents", max(4, int(round(40 * scale))), as_of)
    other = _staff(seed, "sf_other", 3, as_of)
    accounts = _accounts(seed, n_accounts, as_of, csms)
    badness = _experience(seed, accounts, len(month_starts))
    persons = _persons(seed, accounts, as_of)
    world = World(as_of, seed, scale, month_starts, badness, csms, other, agents, accounts, persons)
    _subscriptions(world)
    return world


def _staff(seed: int, kind: str, n: int, as_of: date) -> pd.DataFrame:
    """Internal staff: CSMs and other Salesforce users, or Zendesk agents."""
    rng = rng_for(seed, kind)
    first = rng.choice(texts.EN_FIRST, n)
    last = rng.choice(texts.EN_LAST, n)
    region = np.array([REGIONS[i % len(REGIONS)] for i in range(n)])
    country = np.array([REGION_COUNTRIES[r][0] for r in region])
    emails = [
        f"{f.lower()}.{ln.lower()}{i + 1}@cxloop-demo.com"
        for i, (f, ln) in enumerate(zip(first, last, strict=True))
    ]
    created = epoch(add_months(as_of, -48)) + rng.integers(0, 365 * DAY, n)
    return pd.DataFrame(
        {
            "first": first,
            "last": last,
            "email": emails,
            "region": region,
            "country": country,
            "created_ts": created,
            "active": rng.random(n) > 0.05,
        }
    )


def _company_names(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct company names like `Blue Harbor Logistics Inc.`."""
    a, b, c = len(texts.COMPANY_FIRST), len(texts.COMPANY_SECOND), len(texts.COMPANY_SUFFIX)
    picks = rng.choice(a * b * c, size=n, replace=False)
    return [
        f"{texts.COMPANY_FIRST[p // (b * c)]} {texts.COMPANY_SECOND[(p // c) % b]} "
        f"{texts.COMPANY_SUFFIX[p % c]}"
        for p in picks
    ]


def _accounts(seed: int, n: int, as_of: date, csms: pd.DataFrame) -> pd.DataFrame:
    """Customer accounts with plan, size, country, owner CSM and first subscription start."""
    rng = rng_for(seed, "accounts")
    names = _company_names(rng, n)
    region = rng.choice(REGIONS, n, p=REGION_SHARE)
    country = np.array(
        [REGION_COUNTRIES[r][int(rng.integers(0, len(REGION_COUNTRIES[r])))] for r in region]
    )
    plan = rng.choice(PLANS, n, p=PLAN_SHARE)
    lo = np.array([PLAN_SEATS[p][0] for p in plan])
    hi = np.array([PLAN_SEATS[p][1] for p in plan])
    seats = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi)))).astype(int)
    as_of_ts = epoch(as_of)
    first_start_ts = as_of_ts - rng.integers(20, 3 * 365, n) * DAY
    created_ts = first_start_ts - rng.integers(10 * DAY, 90 * DAY, n)
    domains, seen = [], set()
    for name, ctry in zip(names, country, strict=True):
        stem = "".join(ch for ch in name.rsplit(" ", 1)[0].lower() if ch.isalnum())
        dom = f"{stem}.{COUNTRIES[ctry]['tld']}"
        k = 2
        while dom in seen:
            dom, k = f"{stem}{k}.{COUNTRIES[ctry]['tld']}", k + 1
        seen.add(dom)
        domains.append(dom)
    csm_of = np.array([_pick_csm(rng, csms, r) for r in region])
    size_logit = -0.15 * np.log(seats / 50.0)
    return pd.DataFrame(
        {
            "sf_id": sf_ids("001", n, rng),
            "name": names,
            "domain": domains,
            "industry": rng.choice(texts.INDUSTRIES, n),
            "region": region,
            "country": country,
            "plan": plan,
            "seats": seats,
            "channel": rng.random(n) < 0.15,
            "phone_nsn": [phone_nsn(c, False, rng) for c in country],
            "csm": csm_of,
            "created_ts": created_ts,
            "first_start_ts": first_start_ts,
            "quality": rng.normal(0, 1, n),
            "base_logit": CHURN_INTERCEPT + np.array([PLAN_LOGIT[p] for p in plan]) + size_logit,
            "lm_ts": np.minimum(as_of_ts - DAY, created_ts + rng.integers(1, 900, n) * DAY),
        }
    )


def _pick_csm(rng: np.random.Generator, csms: pd.DataFrame, region: str) -> int:
    """A CSM of the account's region (any CSM when the region has none)."""
    idx = np.flatnonzero(csms["region"].to_numpy() == region)
    if len(idx) == 0:
        idx = np.arange(len(csms))
    return int(idx[rng.integers(0, len(idx))])


def _experience(seed: int, accounts: pd.DataFrame, months: int) -> np.ndarray:
    """Latent monthly badness: a stable account part plus a slowly drifting AR(1) part."""
    rng = rng_for(seed, "experience")
    n = len(accounts)
    drift = np.zeros((n, months))
    drift[:, 0] = rng.normal(0, 1, n)
    shocks = rng.normal(0, np.sqrt(1 - 0.85**2), (n, months))
    for m in range(1, months):
        drift[:, m] = 0.85 * drift[:, m - 1] + shocks[:, m]
    return 0.6 * accounts["quality"].to_numpy()[:, None] + 0.8 * drift


def _persons(seed: int, accounts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Contacts of each account: names in three spellings, e-mail, phones, language."""
    rng = rng_for(seed, "persons")
    per_account = 2 + rng.poisson(
        np.where(
            accounts["plan"] == "Enterprise", 5.0, np.where(accounts["plan"] == "Growth", 3.3, 2.3)
        )
    )
    acct = np.repeat(np.arange(len(accounts)), per_account)
    n = len(acct)
    mena = accounts["region"].to_numpy()[acct] == "MENA"
    u = rng.random(n)
    lang = np.where(
        mena,
        np.where(u < 0.4, "en", np.where(u < 0.85, "ar", "fa")),
        np.where(u < 0.78, "en", np.where(u < 0.86, "ar", "fa")),
    )
    rows = [_name_row(rng, lg) for lg in lang]
    names = pd.DataFrame(
        rows, columns=["first", "last", "first_alt", "last_alt", "first_native", "last_native"]
    )
    country = accounts["country"].to_numpy()[acct]
    domains = accounts["domain"].to_numpy()[acct]
    emails, seen = [], set()
    for f, ln, dom in zip(names["first"], names["last"], domains, strict=True):
        local = f"{_ascii_slug(f)}.{_ascii_slug(ln)}"
        email, k = f"{local}@{dom}", 2
        while email in seen:
            email, k = f"{local}{k}@{dom}", k + 1
        seen.add(email)
        emails.append(email)
    acct_created = accounts["created_ts"].to_numpy()[acct]
    as_of_ts = epoch(as_of)
    created = np.minimum(as_of_ts - DAY, acct_created + rng.integers(0, 400, n) * DAY)
    mobile = [e164(c, phone_nsn(c, True, rng)) for c in country]
    company_phone = rng.random(n) < 0.3
    direct = [e164(c, phone_nsn(c, False, rng)) for c in country]
    acct_phone = [
        e164(c, p) for c, p in zip(country, accounts["phone_nsn"].to_numpy()[acct], strict=True)
    ]
    phone = np.where(company_phone, acct_phone, direct)
    df = pd.DataFrame(
        {
            "person_id": [f"P{i + 1:07d}" for i in range(n)],
            "account": acct,
            "lang": lang,
            "country": country,
            "email": emails,
            "phone": phone,
            "mobile": mobile,
            "title": rng.choice(texts.TITLES, n),
            "opted_out": rng.random(n) < 0.06,
            "created_ts": created,
            "lm_ts": np.minimum(as_of_ts - DAY, created + rng.integers(0, 500, n) * DAY),
            "ticket_prone": rng.random(n) < 0.95,
            "mood": rng.normal(0, 0.6, n),
        }
    )
    df = pd.concat([df, names], axis=1)
    df["sf_id"] = sf_ids("003", n, rng)
    return df


def _name_row(rng: np.random.Generator, lang: str) -> tuple[str, str, str, str, str, str]:
    """(first, last) as the CRM, the helpdesk and the native script spell them."""
    if lang == "en":
        f = texts.EN_FIRST[int(rng.integers(0, len(texts.EN_FIRST)))]
        ln = texts.EN_LAST[int(rng.integers(0, len(texts.EN_LAST)))]
        return f, ln, f, ln, f, ln
    firsts, lasts = (
        (texts.AR_FIRST, texts.AR_LAST) if lang == "ar" else (texts.FA_FIRST, texts.FA_LAST)
    )
    f = firsts[int(rng.integers(0, len(firsts)))]
    ln = lasts[int(rng.integers(0, len(lasts)))]
    return f[0], ln[0], f[1], ln[1], f[2], ln[2]


def _ascii_slug(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isascii() and ch.isalnum())


def _subscriptions(world: World) -> None:
    """Annual terms, upgrades and renewal decisions; sets churn truth on the accounts."""
    rng = rng_for(world.seed, "subscriptions")
    acc = world.accounts
    n = len(acc)
    churned = np.zeros(n, dtype=bool)
    churn_date: list[date | None] = [None] * n
    propensity = np.zeros(n)
    decision: list[date | None] = [None] * n
    opps: list[dict] = []
    as_of = world.as_of
    first_start, seats0 = acc["first_start_ts"].to_numpy(), acc["seats"].to_numpy()
    plan, created_ts = acc["plan"].to_numpy(), acc["created_ts"].to_numpy()
    for a in range(n):
        start = _to_date(int(first_start[a]))
        seats = int(seats0[a])
        price = PLAN_PRICE[str(plan[a])]
        opps.append(
            _opp(
                a,
                "New Customer",
                "Closed Won",
                start,
                seats,
                price,
                close=start - timedelta(days=int(rng.integers(0, 10))),
                created=_to_date(int(created_ts[a])) + timedelta(days=2),
            )
        )
        while True:
            end = add_months(start, 12) - timedelta(days=1)
            if rng.random() < 0.14:
                up_day = start + timedelta(days=int(rng.integers(60, 300)))
                if up_day < as_of and up_day < end:
                    seats = int(np.ceil(seats * rng.uniform(1.1, 1.5)))
                    opps.append(
                        _opp(
                            a,
                            "Existing Customer - Upgrade",
                            "Closed Won",
                            up_day,
                            seats,
                            price,
                            close=up_day - timedelta(days=3),
                            created=up_day - timedelta(days=30),
                            end=end,
                        )
                    )
            if end >= as_of:
                if (end - as_of).days <= RENEWAL_LEAD_DAYS:
                    opps.append(
                        _opp(
                            a,
                            "Renewal",
                            "Negotiation/Review",
                            end + timedelta(days=1),
                            seats,
                            price,
                            close=end,
                            created=end - timedelta(days=RENEWAL_LEAD_DAYS),
                        )
                    )
                if decision[a] is None:
                    propensity[a] = _propensity(world, a, world.as_of_ts)
                break
            p = _propensity(world, a, epoch(end))
            propensity[a], decision[a] = p, end
            close = end - timedelta(days=int(rng.integers(0, 25)))
            lost = bool(rng.random() < p)
            world.decisions.append((a, end, p, lost))
            if lost:
                opps.append(
                    _opp(
                        a,
                        "Renewal",
                        "Closed Lost",
                        end + timedelta(days=1),
                        seats,
                        price,
                        close=close,
                        created=end - timedelta(days=90),
                    )
                )
                churned[a], churn_date[a] = True, end
                break
            seats = max(1, int(round(seats * rng.uniform(0.9, 1.15))))
            start = end + timedelta(days=1)
            opps.append(
                _opp(
                    a,
                    "Renewal",
                    "Closed Won",
                    start,
                    seats,
                    price,
                    close=close,
                    created=end - timedelta(days=90),
                )
            )
    acc["churned"] = churned
    acc["churn_date"] = churn_date
    acc["propensity"] = propensity
    acc["decision_date"] = decision
    acc["active_until_ts"] = [epoch(d) + DAY if d else world.as_of_ts + DAY for d in churn_date]
    world.opportunities = opps


def _propensity(world: World, account: int, end_ts: int) -> float:
    """True churn probability at a renewal decision, from plan/size and recent experience."""
    logit = world.base_logit[account] + CHURN_BETA * world.recent_badness(account, end_ts)
    return float(sigmoid(np.array(logit)))


def _opp(
    account: int,
    kind: str,
    stage: str,
    start: date,
    seats: int,
    price: float,
    *,
    close: date,
    created: date,
    end: date | None = None,
) -> dict:
    """One opportunity as a plain record (ids and text are added by the writer)."""
    return {
        "account": account,
        "type": kind,
        "stage": stage,
        "start": start,
        "end": end or add_months(start, 12) - timedelta(days=1),
        "seats": seats,
        "amount": round(seats * price, 2),
        "close": close,
        "created": min(created, close),
    }


def _to_date(ts: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ts // DAY)
