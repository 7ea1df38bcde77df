"""Who is being erased: every record id, e-mail, phone and name that belongs to the person.

Resolved from the warehouse, from a salted hash of an e-mail (the flow never takes the address
in clear: Prefect stores flow parameters) or a customer id: the identity tables
(`intermediate.identity_clusters`, `marts.dim_customers`) give the customer's source records,
and the raw rows those records and e-mails match give the rest (their tickets, the phones and
names as recorded). An e-mail that matches no customer still finds every raw row carrying it.
When raw and identity no longer hold the person (an erasure whose rebuild failed, run again),
`marts.dim_customers` (by e-mail or customer_id) still names them, so the re-run completes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from cxloop.erasure.identifiers import (
    EMAIL_RE,
    PERSON_COLUMNS,
    RECORD_KINDS,
    identifier_hash,
    normalise,
    phone_variants,
    row_match_sql,
)
from cxloop.erasure.tombstones import registered_hashes
from cxloop.sqlnames import quoted

_EMAIL_COLUMNS = ("email", "recipientemail")
_PHONE_COLUMNS = ("phone", "mobilephone")
_NAME_COLUMNS = (
    ("firstname", "lastname"),
    ("first_name", "last_name"),
    ("recipientfirstname", "recipientlastname"),
)


@dataclass
class Subject:
    """The person: identifiers (clear, in memory only) and what belongs to them."""

    customer_ids: set[str] = field(default_factory=set)
    records: set[tuple[str, str]] = field(default_factory=set)  # (source, source_record_id)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # digit forms (identifiers.phone_variants)
    phone_texts: set[str] = field(default_factory=set)  # as written, for searching text
    names: set[str] = field(default_factory=set)  # full names only they have
    ids: set[tuple[str, str]] = field(default_factory=set)  # (kind, id): records, tickets, ...

    def identifiers(self) -> list[tuple[str, str]]:
        """(kind, value) of every tombstoned identifier."""
        return sorted(
            {("email", e) for e in self.emails} | {("phone", p) for p in self.phones} | self.ids
        )

    def hashes(self, salt: str) -> dict[str, str]:
        """identifier hash -> kind."""
        out: dict[str, str] = {}
        for kind, value in self.identifiers():
            h = identifier_hash(salt, kind, value)
            if h:
                out[h] = kind
        return out

    def needles(self) -> list[str]:
        """Strings whose presence in a text or file is a trace of the person."""
        long_ids = {v for k, v in self.ids if len(v) >= 8 and k != "zendesk_ticket"}
        texts = self.emails | self.phone_texts | self.names | long_ids | self.customer_ids
        texts |= {p for p in self.phones if len(p) >= 8}
        return sorted(t for t in texts if t and len(t) >= 5)

    def is_empty(self) -> bool:
        return not (self.emails or self.customer_ids or self.ids)


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_name, column_name from duckdb_columns() "
        "where schema_name = ? and database_name = current_database() order by column_index",
        [schema],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return table in _tables(con, schema)


def emails_by_hash(con: duckdb.DuckDBPyConnection, email_hash: str, salt: str) -> set[str]:
    """The clear e-mail(s) whose salted hash is `email_hash`, in raw or the identity tables."""
    found: set[str] = set()
    sources = [
        (f'raw."{t}"', [c for c in cols if not c.startswith("_")])
        for t, cols in _tables(con, "raw").items()
    ]
    if _exists(con, "intermediate", "identity_clusters"):
        sources.append(("intermediate.identity_clusters", ["email_normalized"]))
    customers = _tables(con, "marts").get("dim_customers", [])
    if {"email", "email_as_recorded"} & set(customers):
        columns = [c for c in ("email", "email_as_recorded") if c in customers]
        sources.append(("marts.dim_customers", columns))
    for relation, columns in sources:
        if not columns:
            continue
        text = " || ' ' || ".join(f"coalesce(cast({quoted(c)} as varchar), '')" for c in columns)
        rows = con.execute(
            f"select distinct e from (select unnest(regexp_extract_all(lower({text}), "
            f"'{EMAIL_RE}')) as e from {relation}) "
            "where sha256(? || ':email:' || e) = ?",
            [salt, email_hash],
        ).fetchall()
        found |= {e for (e,) in rows}
    return found


def resolve(
    con: duckdb.DuckDBPyConnection,
    salt: str,
    *,
    email_hash: str | None = None,
    customer_id: str | None = None,
) -> Subject:
    """Everything of the person the warehouse knows (see the module docstring)."""
    subject = Subject()
    if email_hash:
        subject.emails |= emails_by_hash(con, email_hash, salt)
    if customer_id:
        subject.customer_ids.add(customer_id)
    for _ in range(4):  # until nothing new: records give e-mails, e-mails give tickets...
        before = (len(subject.identifiers()), len(subject.customer_ids), len(subject.records))
        _from_identity(con, subject)
        _from_raw(con, subject, salt)
        if before == (len(subject.identifiers()), len(subject.customer_ids), len(subject.records)):
            break
    _from_ledger(con, subject)
    _drop_shared_phones(con, subject)
    _unique_names(con, subject)
    return subject


def _in(values: Iterable[str]) -> tuple[str, list[str]]:
    values = sorted(values)
    return (", ".join("?" for _ in values) or "null"), values


def _from_identity(con: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    if _exists(con, "intermediate", "identity_clusters"):
        marks, emails = _in(subject.emails)
        ids, customers = _in(subject.customer_ids)
        rows = con.execute(
            "select distinct customer_id from intermediate.identity_clusters "
            f"where email_normalized in ({marks}) or customer_id in ({ids})",
            [*emails, *customers],
        ).fetchall()
        subject.customer_ids |= {c for (c,) in rows}
        ids, customers = _in(subject.customer_ids)
        for source, record_id, email, phone in con.execute(
            "select source, source_record_id, email_normalized, phone_e164 "
            f"from intermediate.identity_clusters where customer_id in ({ids})",
            customers,
        ).fetchall():
            subject.records.add((source, record_id))
            if source in RECORD_KINDS:
                subject.ids.add((RECORD_KINDS[source], record_id))
            if email:
                subject.emails.add(email.lower())
            if phone:
                subject.phone_texts.add(phone)
                subject.phones |= phone_variants(phone, phone)
    if _exists(con, "marts", "dim_customers"):  # also when identity no longer holds them
        marks, emails = _in(subject.emails)
        rows = con.execute(
            "select distinct customer_id from marts.dim_customers "
            f"where lower(trim(email)) in ({marks}) or lower(trim(email_as_recorded)) in ({marks})",
            [*emails, *emails],
        ).fetchall()
        subject.customer_ids |= {c for (c,) in rows if c}
        ids, customers = _in(subject.customer_ids)
        for email, recorded, phone, contact_id, zendesk_id in con.execute(
            "select email, email_as_recorded, phone_e164, salesforce_contact_id, zendesk_user_id "
            f"from marts.dim_customers where customer_id in ({ids})",
            customers,
        ).fetchall():
            subject.emails |= {e.lower().strip() for e in (email, recorded) if e}
            if phone:
                subject.phone_texts.add(phone)
                subject.phones |= phone_variants(phone, phone)
            if contact_id:
                subject.ids.add(("salesforce_contact", contact_id))
            if zendesk_id is not None:
                subject.ids.add(("zendesk_user", str(zendesk_id)))


def _from_raw(con: duckdb.DuckDBPyConnection, subject: Subject, salt: str) -> None:
    """The raw rows the identifiers so far match: their ids, e-mails, phones and names."""
    with registered_hashes(con, subject.hashes(salt), salt):
        for table, columns in _tables(con, "raw").items():
            rules = PERSON_COLUMNS.get(table)
            if not rules:
                continue
            lower = {c.lower(): c for c in columns}
            cursor = con.execute(
                f'select * from raw."{table}" where {row_match_sql(table, columns)}'
            )
            names = [d[0].lower() for d in cursor.description]
            for row in cursor.fetchall():
                _collect(subject, table, dict(zip(names, row, strict=True)), rules, lower)


_OWN_IDS = ("id", "responseid", "token", "response_id")  # a person table's own record id


def _collect(
    subject: Subject, table: str, row: dict[str, object], rules: dict[str, str], lower: dict
) -> None:
    """Add what a raw row of the person holds: its own id, e-mails, phones and names."""
    for column, kind in rules.items():
        if column not in lower or row.get(column) is None:
            continue
        if kind == "email" or column in _EMAIL_COLUMNS:
            value = normalise("email", row[column])
            if value:
                subject.emails.add(value)
        elif kind == "phone":
            subject.phone_texts.add(str(row[column]).strip())
            subject.phones |= phone_variants(row[column])
        elif column in _OWN_IDS:
            value = normalise(kind, row[column])
            if value:
                subject.ids.add((kind, value))
    for first, last in _NAME_COLUMNS:
        full = " ".join(str(row[c]).strip() for c in (first, last) if row.get(c))
        if full:
            subject.names.add(full)
    if table == "zendesk__users" and row.get("name"):
        subject.names.add(str(row["name"]).strip())
    if row.get("full_name"):
        subject.names.add(str(row["full_name"]).strip())


def _from_ledger(con: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    """The playbook actions about the person: to their e-mail, or naming their customer id or
    one of their records in the key or payload."""
    if not _exists(con, "ops", "playbook_actions"):
        return
    rows = con.execute(
        "select action_id, lower(trim(recipient)), action_key, cast(payload as varchar) "
        "from ops.playbook_actions"
    ).fetchall()
    marks = subject.customer_ids | {v for k, v in subject.ids if len(v) >= 8}
    for action_id, recipient, key, payload in rows:
        text = f"{key} {payload or ''}"
        if recipient in subject.emails or any(m in text for m in marks):
            subject.ids.add(("playbook_action", action_id))
    if _exists(con, "ops", "callback_tasks"):
        ids, customers = _in(subject.customer_ids)
        for (action_id,) in con.execute(
            f"select action_id from ops.callback_tasks where customer_id in ({ids})", customers
        ).fetchall():
            subject.ids.add(("playbook_action", action_id))


def _drop_shared_phones(con: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    """A phone another customer also has (a switchboard) is not a tombstone: it would erase them."""
    if not subject.phones or not _exists(con, "intermediate", "identity_clusters"):
        return
    ids, customers = _in(subject.customer_ids)
    others = con.execute(
        "select distinct phone_e164 from intermediate.identity_clusters "
        f"where phone_e164 is not null and customer_id not in ({ids})",
        customers,
    ).fetchall()
    shared: set[str] = set()
    for (phone,) in others:
        shared |= phone_variants(phone, phone)
    subject.phones -= shared


def _unique_names(con: duckdb.DuckDBPyConnection, subject: Subject) -> None:
    """Keep as search needles only the full names no other customer has."""
    if not subject.names or not _exists(con, "marts", "dim_customers"):
        return
    ids, customers = _in(subject.customer_ids)
    names = {n.lower() for n in subject.names}
    marks, values = _in(names)
    shared = {
        n
        for (n,) in con.execute(
            "select distinct lower(full_name) from marts.dim_customers "
            f"where lower(full_name) in ({marks}) and customer_id not in ({ids})",
            [*values, *customers],
        ).fetchall()
    }
    subject.names = {n for n in subject.names if n.lower() not in shared}


def describe(subject: Subject) -> str:
    """Counts only (for logs): never the identifiers themselves."""
    return json.dumps(
        {
            "customers": len(subject.customer_ids),
            "records": len(subject.records),
            "emails": len(subject.emails),
            "phones": len(subject.phones),
            "ids": len(subject.ids),
        }
    )
