"""The steps of an erasure, as the `erase` flow runs them (flows/erase.py).

1. `remove_person`: resolve the person, delete them from the warehouse (raw, quarantine,
   identity, ledger, ops), write their tombstones, drop their rows from the lake, from the
   files `cxloop pull` wrote and from those `cxloop serve-webhooks` wrote (received.py),
   delete their outbox messages.
2. the flow rebuilds the marts (the `build` flow), checks them and republishes the snapshot.
3. `finish`: remove older snapshot versions, scrub every other file under CXLOOP_HOME, write
   the erasure log, rewrite the warehouse file, and search it for anything left.

The clear identifiers live only in memory between the steps (`Erasure`); the flow's parameter
is a salted hash or a customer id, and logs and the report hold counts only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from cxloop.config import ProjectConfig
from cxloop.erasure import files, received, store
from cxloop.erasure.identifiers import identifier_hash
from cxloop.erasure.subject import Subject, resolve
from cxloop.erasure.tombstones import erasure_salt, registered_hashes
from cxloop.errors import CxloopError
from cxloop.settings import Paths
from cxloop.warehouse import connect


class ErasureError(CxloopError):
    """The person to erase cannot be named or found."""


def subject_key(email: str | None, customer_id: str | None) -> str:
    """What the flow is given: `email-sha256:<salted hash>` or `customer:<id>`, never an address."""
    if bool(email) == bool(customer_id):
        raise ErasureError("erase: give exactly one of --email ADDRESS or --customer-id ID")
    if email:
        if "@" not in email:
            raise ErasureError(f"erase: --email '{email}' is not an e-mail address")
        return f"email-sha256:{identifier_hash(erasure_salt(), 'email', email)}"
    return f"customer:{str(customer_id).strip()}"


@dataclass
class Erasure:
    """One erasure in progress: who (in memory only), and the counts so far."""

    erasure_id: str
    subject_hash: str
    subject: Subject
    removed: dict[str, int] = field(default_factory=dict)


def remove_person(
    paths: Paths, key: str, config: ProjectConfig | None, sources_dir: Path | None
) -> Erasure:
    """Step 1 (see the module docstring); raises ErasureError when nothing matches at all."""
    salt = erasure_salt()
    kind, _, value = key.partition(":")
    erasure_id = str(uuid.uuid4())
    con = connect(paths.warehouse)
    try:
        if kind == "email-sha256":
            subject = resolve(con, salt, email_hash=value)
            subject_hash = value
        elif kind == "customer":
            subject = resolve(con, salt, customer_id=value)
            if not subject.records:
                raise ErasureError(
                    f"erase: no customer '{value}' in intermediate.identity_clusters"
                )
            subject_hash = identifier_hash(salt, "customer", value) or ""
        else:
            raise ErasureError(f"erase: '{key}' names no person (email-sha256:... or customer:...)")
        if subject.is_empty():
            raise ErasureError("erase: the e-mail address is in no table of the warehouse")
        con.execute("begin transaction")
        removed, outbox_paths = store.remove_from_warehouse(con, subject, salt, erasure_id)
        con.execute("commit")
    finally:
        con.close()
    erasure = Erasure(erasure_id, subject_hash, subject, removed)
    hashes = subject.hashes(salt)
    for entity, n in files.rewrite_lake(paths.lake, hashes, salt).items():
        erasure.removed[f"lake.{entity}"] = n
    gone = files.remove_outbox_files(paths.outbox, outbox_paths, subject.needles())
    if gone:
        erasure.removed["outbox files"] = gone
    if config is not None and sources_dir is not None:
        erasure.removed.update(rewrite_pulled(config, sources_dir, hashes, salt))
        erasure.removed.update(received.rewrite_received(config, sources_dir, hashes, salt))
    return erasure


def rewrite_pulled(
    config: ProjectConfig, sources_dir: Path, hashes: dict[str, str], salt: str
) -> dict[str, int]:
    """Drop the person's rows from every file `cxloop pull` listed in a source folder's manifest.

    Files the user exported themselves (no manifest) are theirs, and left as they are.
    """
    from cxloop.sources import ADAPTERS

    removed: dict[str, int] = {}
    con = duckdb.connect()
    try:
        with registered_hashes(con, hashes, salt):
            for name, source in config.sources.items():
                adapter = ADAPTERS.get(source.kind)
                folder = Path(sources_dir) / source.path
                pulled = {p.resolve() for p in files.pulled_files(folder)}
                if adapter is None or not pulled:
                    continue
                for entity, paths in adapter.find_files(folder, source).items():
                    for path in (p for p in paths if p.resolve() in pulled):
                        batch = adapter.read_file(
                            entity, path, path.relative_to(sources_dir).as_posix(), source
                        )
                        drop = files.matching_rows(con, f"{source.kind}__{entity}", batch.rows)
                        n = files.rewrite_pulled_file(
                            path, drop, _header_rows(path, len(batch.rows))
                        )
                        if n:
                            key = f"pulled.{name}.{entity}"
                            removed[key] = removed.get(key, 0) + n
    finally:
        con.close()
    return removed


def _header_rows(path: Path, data_rows: int) -> int:
    """Records before the data in a CSV (1 for Salesforce, 3 for Qualtrics); 0 for JSON."""
    if path.suffix.lower() == ".json":
        return 0
    text = path.read_bytes().decode("utf-8-sig")
    return sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - data_rows


def finish(paths: Paths, erasure: Erasure, published: bool) -> dict[str, object]:
    """Step 3 (see the module docstring); returns the report (counts only)."""
    subject = erasure.subject
    removed = erasure.removed
    withdrawn = files.withdraw_old_snapshots(paths.bi, keep_current=published)
    if withdrawn:
        removed["bi old versions"] = withdrawn
    skip = [paths.warehouse, paths.lake, paths.bi, paths.demo]
    for place, n in files.scrub_files(paths.home, subject.needles(), skip).items():
        removed[f"files {place}"] = n
    con = connect(paths.warehouse)
    try:
        store.log_erasure(
            con, erasure.erasure_id, erasure.subject_hash, len(subject.identifiers()), removed
        )
    finally:
        con.close()
    size = store.compact(paths.warehouse)
    with contextlib.closing(duckdb.connect(str(paths.warehouse), read_only=True)) as con:
        residual = store.residual_mentions(con, subject.needles())
    return {
        "erasure_id": erasure.erasure_id,
        "identifiers": len(subject.identifiers()),
        "customers": len(subject.customer_ids),
        "removed": dict(sorted(removed.items())),
        "snapshot": "republished" if published else "withdrawn (the marts' check did not pass)",
        "warehouse_bytes": size,
        "residual": residual,
    }
