"""Write a small, deterministic raw layer (source fields as text) for developing dbt models.

Usage: python -m cxloop.demo.sample_raw WAREHOUSE.duckdb [--accounts N]
The tables follow the raw contracts in docs/architecture.md; the flows' ingest writes the real ones.

Over 400 lines on purpose: one writer per raw contract, in one file that mirrors the table
contracts of docs/architecture.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from cxloop.tables import ensure_warehouse, raw_definition

START = date(2023, 1, 1)
AS_OF = datetime(2025, 6, 30, 18, 0, 0)
LOADED_AT = datetime(2025, 7, 1, 2, 0, 0)
PLANS = ["Starter", "Growth", "Enterprise", ""]
REGIONS = ["NA", "EMEA", "APAC", "LATAM", ""]
INDUSTRIES = ["Technology", "Retail", "Healthcare", "Finance", ""]
TIME_ZONES = ["America/Denver", "Z", "UTC", "Europe/Berlin", "Asia/Dubai"]
LANGUAGES = ["EN", "EN", "EN", "AR", "FA", "PT-BR", "DE", ""]
CHANNELS = ["email", "web", "chat", "api"]
PRIORITIES = ["low", "normal", "normal", "high", "urgent", None]


def sf_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce-like id."""
    return f"{prefix}{number:012d}AAA"


def sf_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def zd_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Builder:
    """Accumulates rows per raw table; every value is text or None."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: dict[str, list[dict[str, str | None]]] = {}

    def add(self, table: str, row: dict[str, object]) -> None:
        text_row = {k: (None if v is None else str(v)) for k, v in row.items()}
        self.tables.setdefault(table, []).append(text_row)

    def moment(self, low: date, high: datetime) -> datetime:
        span = int((high - datetime.combine(low, datetime.min.time())).total_seconds())
        offset = self.rng.randint(0, max(span, 1))
        return datetime.combine(low, datetime.min.time()) + timedelta(seconds=offset)


def build(builder: Builder, accounts: int) -> None:
    """Generate every source table for the given number of accounts."""
    rng = builder.rng
    csms = [sf_id("005", n) for n in range(1, 6)]
    for n, user_id in enumerate(csms, start=1):
        builder.add(
            "salesforce__user",
            {
                "Id": user_id,
                "Username": f"csm{n}@vendor.example",
                "Email": f"CSM{n}@Vendor.example",
                "FirstName": f"Casey{n}",
                "LastName": "Manager",
                "Name": f"Casey{n} Manager",
                "IsActive": "true",
                "TimeZoneSidKey": ["America/New_York", "Europe/London"][n % 2],
                "LocaleSidKey": "en_US",
                "Title": "CSM",
            },
        )
    agents = list(range(9001, 9005))
    for agent_id in agents:
        builder.add(
            "zendesk__users",
            zendesk_user(agent_id, f"agent{agent_id}@vendor.example", "agent", None, None),
        )
    ticket_number = 1000
    for number in range(1, accounts + 1):
        ticket_number = build_account(builder, number, rng.choice(csms), agents, ticket_number)


def zendesk_user(
    user_id: int, email: str | None, role: str, org_id: int | None, external_id: str | None
) -> dict[str, object]:
    return {
        "id": user_id,
        "name": f"User {user_id}",
        "email": email,
        "phone": None,
        "role": role,
        "organization_id": org_id,
        "external_id": external_id,
        "locale": "en-US",
        "time_zone": "Eastern Time (US & Canada)",
        "iana_time_zone": "America/New_York",
        "active": "true",
        "created_at": zd_time(datetime(2023, 1, 1)),
        "updated_at": zd_time(datetime(2023, 1, 2)),
    }


def build_account(
    builder: Builder, number: int, csm: str, agents: list[int], ticket_number: int
) -> int:
    """One account with its contacts, subscription terms, helpdesk history and survey responses."""
    rng = builder.rng
    account_id = sf_id("001", number)
    domain = f"acme{number}.example"
    created = builder.moment(START - timedelta(days=400), datetime(2024, 6, 1))
    builder.add(
        "salesforce__account",
        {
            "Id": account_id,
            "Name": f"Acme {number}",
            "Type": "Customer - Direct",
            "Industry": rng.choice(INDUSTRIES),
            "BillingCountry": rng.choice(["United States", "Germany", "Brazil", ""]),
            "Website": rng.choice([f"https://www.{domain}/", f"http://{domain}", domain, ""]),
            "Phone": "",
            "OwnerId": csm,
            "CreatedDate": sf_time(created),
            "LastModifiedDate": sf_time(created + timedelta(days=5)),
            "Plan__c": rng.choice(PLANS),
            "Region__c": rng.choice(REGIONS),
        },
    )
    build_terms(builder, number, account_id, created.date())
    org_id = None
    if rng.random() < 0.85:
        org_id = 50000 + number
        by_external_id = rng.random() < 0.6
        builder.add(
            "zendesk__organizations",
            {
                "id": org_id,
                "name": f"Acme {number} Inc",
                "domain_names": json.dumps([] if by_external_id else [domain]),
                "external_id": account_id if by_external_id else None,
                "created_at": zd_time(datetime(2023, 1, 1)),
                "updated_at": zd_time(datetime(2023, 1, 1)),
            },
        )
    requesters: list[tuple[int, str | None]] = []
    for contact_n in range(rng.randint(1, 4)):
        contact_id = sf_id("003", number * 10 + contact_n)
        email = f"Person{contact_n}.Acme{number}@{domain}"
        builder.add(
            "salesforce__contact",
            {
                "Id": contact_id,
                "AccountId": account_id,
                "FirstName": f"Person{contact_n}",
                "LastName": f"Acme{number}",
                "Email": f" {email} " if contact_n == 1 else email,
                "Phone": rng.choice(["+1 (555) 010-1234", "0049 30 1234567", "", "555-0100"]),
                "MobilePhone": "",
                "Title": "Buyer",
                "MailingCountry": "United States",
                "HasOptedOutOfEmail": rng.choice(["true", "false", "false"]),
                "Preferred_Language__c": rng.choice(["en", "de", "ar", ""]),
                "CreatedDate": sf_time(created),
                "LastModifiedDate": sf_time(created),
            },
        )
        if rng.random() < 0.7:
            user_id = 100000 + number * 10 + contact_n
            external = contact_id if rng.random() < 0.4 else None
            builder.add(
                "zendesk__users", zendesk_user(user_id, email.upper(), "end-user", org_id, external)
            )
            requesters.append((user_id, contact_id))
        build_responses(builder, number * 10 + contact_n, contact_id, account_id, email, created)
    stranger_id = 200000 + number
    builder.add(
        "zendesk__users",
        zendesk_user(stranger_id, f"someone{number}@gmail.example", "end-user", org_id, None),
    )
    requesters.append((stranger_id, None))
    for _ in range(rng.randint(0, 6)):
        ticket_number += 1
        build_ticket(builder, ticket_number, rng.choice(requesters)[0], org_id, agents)
    return ticket_number


def build_terms(builder: Builder, number: int, account_id: str, created: date) -> None:
    """Closed Won yearly terms renewed with probability 0.8, plus lost and open opportunities.

    Both churn methods see the same history: each term carries the term fields, and its Type
    says new business or renewal; a term not renewed is followed by a Closed Lost renewal on
    its end date (churn) or, when that date is still to come, an open renewal.
    """
    rng = builder.rng
    start = max(created, START) + timedelta(days=rng.randint(0, 300))
    amount = rng.choice([6000, 12000, 24000, 60000])
    seats = rng.choice([5, 10, 25, 100])
    term, previous = 0, amount
    while start <= AS_OF.date():
        end = date(start.year + 1, start.month, min(start.day, 28)) - timedelta(days=1)
        term += 1
        opportunity(
            builder,
            sf_id("006", number * 100 + term),
            account_id,
            "Closed Won",
            start,
            end,
            amount,
            seats,
            type_=renewal_type(term, amount, previous),
        )
        if rng.random() > 0.8:
            renewal_stage = "Closed Lost" if end <= AS_OF.date() else "Negotiation/Review"
            opportunity(
                builder,
                sf_id("006", number * 100 + 97),
                account_id,
                renewal_stage,
                None,
                None,
                amount,
                None,
                type_="Existing Customer - Replacement",
                close=end,
            )
            break
        start = end + timedelta(days=1)
        previous, amount = amount, int(amount * rng.choice([1.0, 1.0, 1.2, 0.8]))
    opportunity(
        builder, sf_id("006", number * 100 + 99), account_id, "Closed Lost", None, None, 1000, None
    )
    opportunity(
        builder, sf_id("006", number * 100 + 98), account_id, "Prospecting", None, None, None, None
    )


def renewal_type(term: int, amount: int, previous: int) -> str:
    """The standard Opportunity Type of a yearly term: new business first, then by amount."""
    if term == 1:
        return "New Customer"
    if amount > previous:
        return "Existing Customer - Upgrade"
    if amount < previous:
        return "Existing Customer - Downgrade"
    return "Existing Customer - Replacement"


def opportunity(
    builder: Builder,
    opp_id: str,
    account_id: str,
    stage: str,
    start: date | None,
    end: date | None,
    amount: int | None,
    seats: int | None,
    type_: str = "New Customer",
    close: date | None = None,
) -> None:
    closed = stage.startswith("Closed")
    builder.add(
        "salesforce__opportunity",
        {
            "Id": opp_id,
            "AccountId": account_id,
            "Name": f"Opp {opp_id}",
            "Type": type_,
            "StageName": stage,
            "Amount": "" if amount is None else f"{amount}.0",
            "CloseDate": (close or start or date(2024, 1, 1)).isoformat(),
            "IsClosed": "true" if closed else "false",
            "IsWon": "true" if stage == "Closed Won" else "false",
            "OwnerId": sf_id("005", 1),
            "CreatedDate": sf_time(datetime(2023, 1, 1)),
            "LastModifiedDate": sf_time(datetime(2023, 1, 2)),
            "Subscription_Start_Date__c": start.isoformat() if start else "",
            "Subscription_End_Date__c": end.isoformat() if end else "",
            "Seats__c": "" if seats is None else str(seats),
            "Product__c": "Platform",
        },
    )


def build_ticket(
    builder: Builder, ticket_id: int, requester: int, org_id: int | None, agents: list[int]
) -> None:
    """A ticket in two versions, its audit events (comments, status changes) and maybe a rating."""
    rng = builder.rng
    created = builder.moment(START, AS_OF - timedelta(days=3))
    agent = rng.choice(agents)
    events: list[tuple[datetime, int, list[dict[str, object]]]] = [
        (
            created,
            requester,
            [
                {
                    "id": ticket_id * 100 + 1,
                    "event_type": "Comment",
                    "type": "Comment",
                    "author_id": requester,
                    "public": True,
                    "body": "help",
                },
                {"id": ticket_id * 100 + 2, "event_type": "Create", "status": "new"},
            ],
        )
    ]
    moment = created + timedelta(minutes=rng.randint(5, 3000))
    events.append(
        (
            moment,
            agent,
            [
                {
                    "id": ticket_id * 100 + 3,
                    "event_type": "Comment",
                    "type": "Comment",
                    "author_id": agent,
                    "public": False,
                    "body": "internal",
                },
                {
                    "id": ticket_id * 100 + 4,
                    "event_type": "Change",
                    "status": "open",
                    "previous_value": "new",
                },
            ],
        )
    )
    moment += timedelta(minutes=rng.randint(1, 600))
    events.append(
        (
            moment,
            agent,
            [
                {
                    "id": ticket_id * 100 + 5,
                    "event_type": "Comment",
                    "type": "Comment",
                    "author_id": agent,
                    "public": True,
                    "body": "answer",
                },
            ],
        )
    )
    status = "open"
    if rng.random() < 0.8:
        moment += timedelta(minutes=rng.randint(10, 5000))
        events.append(
            (
                moment,
                agent,
                [
                    {
                        "id": ticket_id * 100 + 6,
                        "event_type": "Change",
                        "status": "solved",
                        "previous_value": "open",
                    }
                ],
            )
        )
        status = "solved"
        if rng.random() < 0.2:
            moment += timedelta(hours=rng.randint(1, 48))
            events.append(
                (
                    moment,
                    requester,
                    [
                        {
                            "id": ticket_id * 100 + 7,
                            "event_type": "Change",
                            "status": "open",
                            "previous_value": "solved",
                        }
                    ],
                )
            )
            moment += timedelta(hours=rng.randint(1, 48))
            events.append(
                (
                    moment,
                    agent,
                    [
                        {
                            "id": ticket_id * 100 + 8,
                            "event_type": "Comment",
                            "type": "Comment",
                            "author_id": agent,
                            "public": True,
                            "body": "again",
                        },
                        {
                            "id": ticket_id * 100 + 9,
                            "event_type": "Change",
                            "status": "solved",
                            "previous_value": "open",
                        },
                    ],
                )
            )
    events = [event for event in events if event[0] <= AS_OF]
    last_update = events[-1][0]
    score = (
        rng.choice(["good", "bad", "offered", "unoffered"]) if status == "solved" else "unoffered"
    )
    base = {
        "id": ticket_id,
        "url": f"https://acme.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "external_id": None,
        "created_at": zd_time(created),
        "type": "question",
        "subject": "Help",
        "description": "help",
        "priority": rng.choice(PRIORITIES),
        "requester_id": requester,
        "submitter_id": requester,
        "assignee_id": agent,
        "organization_id": org_id,
        "group_id": 300,
        "tags": json.dumps(["demo"]),
        "custom_fields": json.dumps([{"id": 1, "value": None}]),
        "via": json.dumps({"channel": rng.choice(CHANNELS), "source": {"rel": None}}),
    }
    builder.add(
        "zendesk__tickets",
        base
        | {
            "updated_at": zd_time(created),
            "status": "new",
            "satisfaction_rating": json.dumps({"score": "unoffered"}),
        },
    )
    final_status = status if not (status == "solved" and events[-1][0] > AS_OF) else "open"
    builder.add(
        "zendesk__tickets",
        base
        | {
            "updated_at": zd_time(last_update),
            "status": final_status,
            "satisfaction_rating": json.dumps({"score": score}),
        },
    )
    for index, (moment, updater, children) in enumerate(events):
        builder.add(
            "zendesk__ticket_events",
            {
                "id": ticket_id * 100 + index,
                "ticket_id": ticket_id,
                "timestamp": int(moment.timestamp()),
                "created_at": zd_time(moment),
                "updater_id": updater,
                "via": json.dumps({"channel": "web"}),
                "event_type": "Audit",
                "child_events": json.dumps(
                    [child | {"created_at": zd_time(moment)} for child in children]
                ),
            },
        )
    if score in ("good", "bad"):
        builder.add(
            "zendesk__satisfaction_ratings",
            {
                "id": ticket_id + 70000,
                "url": "",
                "assignee_id": agent,
                "group_id": 300,
                "requester_id": requester,
                "ticket_id": ticket_id,
                "score": score,
                "comment": None,
                "reason": None,
                "created_at": zd_time(last_update),
                "updated_at": zd_time(last_update + timedelta(hours=2)),
            },
        )


def build_responses(
    builder: Builder, person: int, contact_id: str, account_id: str, email: str, since: datetime
) -> None:
    """Quarterly relational NPS responses, sometimes a CES/CSAT transactional one."""
    rng = builder.rng
    for wave in range(rng.randint(0, 6)):
        recorded = builder.moment(max(since.date(), START), AS_OF - timedelta(days=1))
        zone = rng.choice(TIME_ZONES)
        kind = rng.choice(["relational", "relational", "transactional"])
        nps = rng.randint(0, 10) if kind == "relational" else None
        linked = rng.random()
        builder.add(
            "qualtrics__responses",
            {
                "StartDate": recorded.strftime("%Y-%m-%d %H:%M:%S"),
                "EndDate": recorded.strftime("%Y-%m-%d %H:%M:%S"),
                "Status": "0",
                "Progress": "100",
                "Finished": "1",
                "RecordedDate": recorded.strftime("%Y-%m-%d %H:%M:%S"),
                "ResponseId": f"R_{person:09d}w{wave:05d}",
                "RecipientLastName": "",
                "RecipientFirstName": "",
                "RecipientEmail": email.lower() if linked < 0.9 else "",
                "ExternalReference": contact_id if linked < 0.5 else "",
                "DistributionChannel": "email",
                "UserLanguage": rng.choice(LANGUAGES),
                "survey_id": "SV_rel" if kind == "relational" else "SV_txn",
                "survey_kind": kind,
                "touchpoint": "quarterly" if kind == "relational" else "support",
                "channel": "email",
                "time_zone": zone,
                "nps": None if nps is None else str(nps),
                "nps_group": None if nps is None else str(1 if nps <= 6 else 2 if nps <= 8 else 3),
                "csat": None if kind == "relational" else str(rng.randint(1, 5)),
                "ces": None if kind == "relational" else str(rng.randint(1, 7)),
                "open_text": "ok",
                "ticket_id": None,
                "contact_id": None,
                "account_id": account_id if linked < 0.3 else None,
                "language": None,
                "answers": json.dumps({"QID1": nps}),
            },
        )


def write(builder: Builder, warehouse: Path) -> None:
    """Replace the raw tables with the built rows plus landing metadata; ensure every other table.

    The other Python-written tables (empty raw tables of entities not sampled, identity, scores,
    ops, the playbook ledger) come from cxloop.tables, so dbt reads plain `source()` here too.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists raw")
        for table, rows in builder.tables.items():
            source, entity = table.split("__", 1)
            columns = list(dict.fromkeys(key for row in rows for key in row))
            definition = raw_definition(source, entity, columns)
            con.execute(f"drop table if exists {definition.sql_name}")
            con.execute(definition.ddl)
            batch, file = f"{table}-sample", f"{table}.sample"
            records = []
            for number, row in enumerate(rows, start=1):
                values = [row.get(name) for name in columns]
                digest = hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()
                records.append([*values, batch, LOADED_AT, source, file, number, digest])
            con.executemany(definition.insert_sql, records)
        ensure_warehouse(con)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--accounts", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    builder = Builder(args.seed)
    build(builder, args.accounts)
    write(builder, args.warehouse)
    print({table: len(rows) for table, rows in builder.tables.items()})


if __name__ == "__main__":
    main()
