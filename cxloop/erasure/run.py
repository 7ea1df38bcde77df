"""The steps of an erasure, as the `erase` flow runs them (flows/erase.py).

0. `sources_folder`: the sources folder whose pulled and received files are cleaned (given,
   else the folder of cxloop.yaml), found before anything is removed.
1. `remove_person`: resolve the person, delete them from the warehouse (raw, quarantine,
   identity, ledger, ops) and write their tombstones, in one transaction.
2. `remove_files`: drop their rows from the lake, from the files `cxloop pull` wrote (holding
   each source's pull lock) and from those `cxloop serve-webhooks` wrote (received.py), and
   delete their outbox messages.
3. the flow rebuilds the marts (the `build` flow), checks them and republishes the snapshot.
4. `finish`, always, also when step 2 or 3 failed (then the snapshot is withdrawn): remove
   older snapshot versions, scrub every other file under CXLOOP_HOME, write the erasure log,
   rewrite the warehouse file, and search it for anything left. A failed erasure run again
   finds the person in `marts.dim_customers` (raw and identity are already gone) and completes.

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

from cxloop.config import ProjectConfig, find_config
from cxloop.connectors.store import PullStore
from cxloop.erasure import files, received, store
from cxloop.erasure.identifiers import identifier_hash
from cxloop.erasure.subject import Subject, resolve
from cxloop.erasure.tombstones import check_salt, erasure_salt, registered_hashes
from cxloop.errors import ConfigError, CxloopError
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
    scanned: list[str] = field(default_factory=list)  # the file areas searched, for the report
    outbox_paths: list[str] = field(default_factory=list)


# How long an erasure waits for a running `cxloop pull` of a source to finish.
PULL_LOCK_WAIT_SECONDS = 900.0


def sources_folder(
    sources_dir: str | Path | None, config_path: str | Path | None, config: ProjectConfig | None
) -> Path | None:
    """Step 0: the folder the configured sources' paths are relative to (see the docstring).

    Given (`--sources`), else the folder of the cxloop.yaml in use (as `cxloop run` finds it at
    `<sources>/cxloop.yaml`). None only when no cxloop.yaml configures a source (no pulled or
    received files can exist). Raises ErasureError rather than skip pulled files silently.
    """
    if config is None or not config.sources:
        return Path(sources_dir) if sources_dir else None
    if sources_dir:
        folder = Path(sources_dir)
    else:
        try:
            folder = find_config(explicit=Path(config_path) if config_path else None).parent
        except ConfigError:
            folder = None
    if folder is None or not any((folder / s.path).is_dir() for s in config.sources.values()):
        where = f"under {folder}" if folder is not None else "(no cxloop.yaml found)"
        raise ErasureError(
            f"erase: no source folder of cxloop.yaml {where}; give --sources FOLDER (the "
            "folder `cxloop run --sources` reads) so pulled and received files are cleaned"
        )
    return folder


def remove_person(paths: Paths, key: str) -> Erasure:
    """Step 1 (see the module docstring); raises ErasureError when nothing matches at all."""
    salt = erasure_salt()
    kind, _, value = key.partition(":")
    erasure_id = str(uuid.uuid4())
    con = connect(paths.warehouse)
    try:
        check_salt(con, salt)  # before resolving: another salt finds no one by e-mail hash
        if kind == "email-sha256":
            subject = resolve(con, salt, email_hash=value)
            subject_hash = value
        elif kind == "customer":
            subject = resolve(con, salt, customer_id=value)
            if not (subject.records or subject.emails or subject.ids):
                raise ErasureError(
                    f"erase: no customer '{value}' in intermediate.identity_clusters "
                    "or marts.dim_customers"
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
    return Erasure(erasure_id, subject_hash, subject, removed, outbox_paths=outbox_paths)


def remove_files(
    paths: Paths, erasure: Erasure, config: ProjectConfig | None, sources_dir: Path | None
) -> Erasure:
    """Step 2 (see the module docstring); `erasure.scanned` names every file area searched."""
    salt = erasure_salt()
    hashes = erasure.subject.hashes(salt)
    for entity, n in files.rewrite_lake(paths.lake, hashes, salt).items():
        erasure.removed[f"lake.{entity}"] = n
    erasure.scanned.append(f"lake {paths.lake}")
    gone = files.remove_outbox_files(paths.outbox, erasure.outbox_paths, erasure.subject.needles())
    if gone:
        erasure.removed["outbox files"] = gone
    erasure.scanned.append(f"outbox {paths.outbox}")
    if config is not None and config.sources and sources_dir is not None:
        erasure.removed.update(rewrite_pulled(config, sources_dir, hashes, salt))
        erasure.removed.update(received.rewrite_received(config, sources_dir, hashes, salt))
        erasure.scanned.append(f"pulled and received files under {sources_dir}")
    else:
        erasure.scanned.append("pulled and received files: none (no source in cxloop.yaml)")
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
                if adapter is None or not files.pulled_files(folder):
                    continue
                # a pull writing this folder now would race the rewrite: wait for it
                with PullStore.locked(folder, wait_seconds=PULL_LOCK_WAIT_SECONDS):
                    pulled = {p.resolve() for p in files.pulled_files(folder)}
                    for entity, paths in adapter.find_files(folder, source).items():
                        for path in (p for p in paths if p.resolve() in pulled):
                            batch = adapter.read_file(
                                entity, path, path.relative_to(sources_dir).as_posix(), source
                            )
                            table = f"{source.kind}__{entity}"
                            drop = files.matching_rows(con, table, batch.rows)
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
    with contextlib.closing(connect(paths.warehouse, read_only=True)) as con:
        residual = store.residual_mentions(con, subject.needles())
    return {
        "erasure_id": erasure.erasure_id,
        "identifiers": len(subject.identifiers()),
        "customers": len(subject.customer_ids),
        "removed": dict(sorted(removed.items())),
        "snapshot": "republished"
        if published
        else "withdrawn (not rebuilt, checked and published)",
        "scanned": [*erasure.scanned, f"every other file under {paths.home}"],
        "warehouse_bytes": size,
        "residual": residual,
    }
