"""Salesforce Bulk API 2.0 query results: User, Account, Contact and Opportunity CSVs.

By default a standard org: Opportunity has only standard fields (Type says new business or
renewal, TotalOpportunityQuantity the seats) plus Product__c; with `term_fields` it also has
the custom Subscription_Start_Date__c / Subscription_End_Date__c / Seats__c.

Every value double-quoted, LF line endings, null = "", booleans true/false, datetimes
`2025-03-27T22:52:16.000Z`, dates `YYYY-MM-DD`, currency as plain decimals (`12500.0`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxloop.demo.common import (
    BAD_DATES,
    COUNTRIES,
    DAY,
    atomic_write_bytes,
    csv_text,
    e164,
    epoch,
    iso_ms_z,
    pick_bad_rows,
    rng_for,
    sf_ids,
)
from cxloop.demo.world import World

USER_FIELDS = [
    "Id",
    "Username",
    "Email",
    "FirstName",
    "LastName",
    "Name",
    "IsActive",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "Title",
    "Department",
    "CreatedDate",
    "LastModifiedDate",
]
ACCOUNT_FIELDS = [
    "Id",
    "Name",
    "Type",
    "Industry",
    "Website",
    "Phone",
    "BillingCity",
    "BillingCountry",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
    "Plan__c",
    "Region__c",
]
CONTACT_FIELDS = [
    "Id",
    "AccountId",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "Title",
    "MailingCountry",
    "HasOptedOutOfEmail",
    "Preferred_Language__c",
    "CreatedDate",
    "LastModifiedDate",
]
OPPORTUNITY_FIELDS = [
    "Id",
    "AccountId",
    "Name",
    "Type",
    "StageName",
    "Amount",
    "CloseDate",
    "Probability",
    "IsClosed",
    "IsWon",
    "TotalOpportunityQuantity",
    "OwnerId",
    "CreatedDate",
    "LastModifiedDate",
    "Product__c",
]
TERM_FIELDS = ["Subscription_Start_Date__c", "Subscription_End_Date__c", "Seats__c"]
CITIES = {
    "US": "New York",
    "CA": "Toronto",
    "GB": "London",
    "DE": "Berlin",
    "AE": "Dubai",
    "SA": "Riyadh",
    "AU": "Sydney",
    "SG": "Singapore",
    "MX": "Mexico City",
    "BR": "São Paulo",
}
STAFF_LOCALE = {
    "US": "en_US",
    "GB": "en_GB",
    "AE": "en_AE",
    "AU": "en_AU",
    "MX": "es_MX",
    "CA": "en_CA",
    "DE": "de_DE",
    "SA": "ar_SA",
    "SG": "en_SG",
    "BR": "pt_BR",
}
STAGE = {
    "Closed Won": ("100", "true", "true"),
    "Closed Lost": ("0", "true", "false"),
    "Negotiation/Review": ("90", "false", "false"),
}


def write_salesforce(world: World, out: Path, term_fields: bool = False) -> dict[str, int]:
    """Write the four CSVs under OUT/salesforce; returns data rows per object.

    `term_fields`: Opportunity carries the custom term fields (churn method term_fields).
    """
    users = _users(world)
    accounts = _accounts(world)
    contacts = _contacts(world)
    opportunity_fields = OPPORTUNITY_FIELDS + (TERM_FIELDS if term_fields else [])
    opportunities = [[record[f] for f in opportunity_fields] for record in _opportunities(world)]
    counts = {}
    for name, header, rows in (
        ("User", USER_FIELDS, users),
        ("Account", ACCOUNT_FIELDS, accounts),
        ("Contact", CONTACT_FIELDS, contacts),
        ("Opportunity", opportunity_fields, opportunities),
    ):
        if name != "User":
            rows = _with_bad_rows(world.seed, name, header, rows)
        text = csv_text([header, *rows], quote_all=True, lineterminator="\n")
        atomic_write_bytes(out / "salesforce" / f"{name}.csv", text.encode("utf-8"))
        counts[f"salesforce.{name.lower()}"] = len(rows)
    return counts


def staff_ids(world: World) -> tuple[list[str], list[str]]:
    """Salesforce User ids of the CSMs and of the other users (stable per seed)."""
    ids = sf_ids("005", len(world.csms) + len(world.sf_other_users), rng_for(world.seed, "sf_user"))
    return ids[: len(world.csms)], ids[len(world.csms) :]


def _users(world: World) -> list[list[str]]:
    csm_ids, other_ids = staff_ids(world)
    rows = []
    for frame, ids, titles in (
        (world.csms, csm_ids, None),
        (
            world.sf_other_users,
            other_ids,
            ("Account Executive", "Account Executive", "Salesforce Administrator"),
        ),
    ):
        created = iso_ms_z(frame["created_ts"].to_numpy())
        modified = iso_ms_z(
            np.minimum(frame["created_ts"].to_numpy() + 200 * DAY, world.as_of_ts - DAY)
        )
        for i, r in enumerate(frame.itertuples(index=False)):
            title = "Customer Success Manager" if titles is None else titles[i % len(titles)]
            dept = (
                "Customer Success"
                if titles is None
                else ("Sales" if "Executive" in title else "IT")
            )
            rows.append(
                [
                    ids[i],
                    r.email,
                    r.email,
                    r.first,
                    r.last,
                    f"{r.first} {r.last}",
                    _bool(bool(r.active)),
                    COUNTRIES[r.country]["iana"],
                    STAFF_LOCALE[r.country],
                    title,
                    dept,
                    created[i],
                    modified[i],
                ]
            )
    return rows


def _accounts(world: World) -> list[list[str]]:
    a = world.accounts
    csm_ids, _ = staff_ids(world)
    created = iso_ms_z(a["created_ts"].to_numpy())
    modified = iso_ms_z(a["lm_ts"].to_numpy())
    rows = []
    for i, r in enumerate(a.itertuples(index=False)):
        rows.append(
            [
                r.sf_id,
                r.name,
                "Customer - Channel" if r.channel else "Customer - Direct",
                r.industry,
                f"https://www.{r.domain}" if i % 3 else f"www.{r.domain}",
                e164(r.country, r.phone_nsn),
                CITIES[r.country],
                COUNTRIES[r.country]["name"],
                csm_ids[r.csm],
                created[i],
                modified[i],
                r.plan,
                r.region,
            ]
        )
    return rows


def _contacts(world: World) -> list[list[str]]:
    p = world.persons
    acct_ids = world.accounts["sf_id"].to_numpy()
    rng = rng_for(world.seed, "sf_contact_times")
    created = iso_ms_z(p["created_ts"].to_numpy() + rng.integers(8 * 3600, 18 * 3600, len(p)))
    modified = iso_ms_z(p["lm_ts"].to_numpy() + rng.integers(8 * 3600, 18 * 3600, len(p)))
    rows = []
    for i, r in enumerate(p.itertuples(index=False)):
        rows.append(
            [
                r.sf_id,
                acct_ids[r.account],
                r.first,
                r.last,
                r.email,
                r.phone,
                r.mobile,
                r.title,
                COUNTRIES[r.country]["name"],
                _bool(bool(r.opted_out)),
                r.lang,
                created[i],
                modified[i],
            ]
        )
    return rows


def _opportunities(world: World) -> list[dict[str, str]]:
    a = world.accounts
    csm_ids, other_ids = staff_ids(world)
    rng = rng_for(world.seed, "sf_opportunities")
    opps = sorted(world.opportunities, key=lambda o: (o["created"], o["account"], o["start"]))
    ids = sf_ids("006", len(opps), rng)
    names, plans, csms = a["name"].to_numpy(), a["plan"].to_numpy(), a["csm"].to_numpy()
    acct_ids = a["sf_id"].to_numpy()
    created_ts = np.array([epoch(o["created"]) for o in opps]) + rng.integers(
        8 * 3600, 18 * 3600, len(opps)
    )
    closed_ts = np.array([epoch(o["close"]) for o in opps]) + rng.integers(
        8 * 3600, 20 * 3600, len(opps)
    )
    open_mod = world.as_of_ts - rng.integers(1, 20, len(opps)) * DAY
    created = iso_ms_z(np.minimum(created_ts, world.as_of_ts - DAY))
    modified = iso_ms_z(np.minimum(closed_ts, world.as_of_ts - 3600))
    modified_open = iso_ms_z(open_mod)
    rows = []
    for i, o in enumerate(opps):
        acct = o["account"]
        prob, is_closed, is_won = STAGE[o["stage"]]
        owner = other_ids[acct % 2] if o["type"] == "New Customer" else csm_ids[csms[acct]]
        label = {
            "New Customer": "New Business",
            "Renewal": f"Renewal {o['start'].year}",
            "Existing Customer - Upgrade": "Seat Upgrade",
        }[o["type"]]
        rows.append(
            {
                "Id": ids[i],
                "AccountId": acct_ids[acct],
                "Name": f"{names[acct]} - {label}",
                "Type": o["type"],
                "StageName": o["stage"],
                "Amount": repr(float(o["amount"])),
                "CloseDate": o["close"].isoformat(),
                "Probability": prob,
                "IsClosed": is_closed,
                "IsWon": is_won,
                "TotalOpportunityQuantity": str(o["seats"]),
                "OwnerId": owner,
                "CreatedDate": created[i],
                "LastModifiedDate": modified[i] if is_closed == "true" else modified_open[i],
                "Product__c": f"cxloop {plans[acct]}",
                "Subscription_Start_Date__c": o["start"].isoformat(),
                "Subscription_End_Date__c": o["end"].isoformat(),
                "Seats__c": str(o["seats"]),
            }
        )
    return rows


def _with_bad_rows(
    seed: int, name: str, header: list[str], rows: list[list[str]]
) -> list[list[str]]:
    """Insert ~1% corrupted copies of real rows: blank Id or an unparseable date."""
    rng = rng_for(seed, f"sf_bad_{name}")
    bad_at = pick_bad_rows(rng, len(rows))
    date_col = header.index("CloseDate" if name == "Opportunity" else "CreatedDate")
    out: list[list[str]] = []
    bad = set(bad_at.tolist())
    for i, row in enumerate(rows):
        out.append(row)
        if i in bad:
            copy = list(row)
            if rng.random() < 0.5:
                copy[0] = ""
            else:
                copy[date_col] = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
            out.append(copy)
    return out


def _bool(v: bool) -> str:
    return "true" if v else "false"
