"""What changed since a stage last ran: fingerprints of each stage's inputs (ops.stage_inputs).

The pipeline skips a stage whose inputs are what they were when it last succeeded (issue #12):
a run with nothing new rebuilds no model and re-checks no table. A fingerprint is a sha256
over a small JSON of facts read in milliseconds: per raw table its row count, newest landing
and an order-free hash of its rows' `_content_hash`; cxloop.yaml; the code and dbt project that
would run. A stage records its fingerprint only after it succeeded, so a failed or interrupted
stage runs again. Nothing is copied: the facts are aggregates of tables already there.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from cxloop.config import ProjectConfig
from cxloop.models.registry import current_version
from cxloop.models.sentiment import FAMILY as SENTIMENT_FAMILY
from cxloop.package_data import package_dir
from cxloop.quality.gate import gate_state, latest_build
from cxloop.quality.results import utc_now
from cxloop.tables import BUILDS, GATE_VERDICTS, STAGE_INPUTS, ensure_tables
from cxloop.warehouse import reader, table_exists, writer

# The packages whose files decide what a stage computes (a new release rebuilds). In an
# editable install cxloop.flows and cxloop.playbooks are folders outside cxloop/.
CODE_PACKAGES = (
    "cxloop",
    "cxloop.flows",
    "cxloop.playbooks",
    "cxloop.dbt_project",
    "cxloop.expectations",
    "cxloop.models",
)
# The distributions whose version decides what dbt builds (a dbt or DuckDB upgrade rebuilds).
CODE_DISTRIBUTIONS = ("dbt-core", "dbt-duckdb", "duckdb")
CODE_SUFFIXES = frozenset({".py", ".sql", ".yml", ".yaml", ".csv", ".md"})
FEATURES = "ml.account_snapshots"  # what the churn model scores
VOICE_TEXTS = "ml.voice_texts"  # what the voice stage scores and tags


def fingerprint(facts: dict[str, Any]) -> str:
    """sha256 of the facts as canonical JSON."""
    text = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def distribution_version(name: str) -> str:
    """The installed version of a distribution, or "" when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


@cache
def code_fingerprint() -> str:
    """sha256 over the installed code, flows, dbt project, suites and dbt/DuckDB versions.

    Computed once per process.
    """
    digest = hashlib.sha256()
    for name in CODE_DISTRIBUTIONS:
        digest.update(f"{name}=={distribution_version(name)}\n".encode())
    for name in CODE_PACKAGES:
        root = package_dir(name)
        for path in sorted(root.rglob("*")):
            skip = {"target", "logs", "__pycache__", "dbt_packages"} & set(path.parts)
            if path.suffix in CODE_SUFFIXES and path.is_file() and not skip:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def config_facts(config: ProjectConfig | None) -> Any:
    """cxloop.yaml as data (None: the defaults)."""
    return config.model_dump(mode="json") if config is not None else None


CONTENT_XOR = "bit_xor(hash(_content_hash))"  # an order-free hash of a raw table's rows


def raw_table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The name of every table of the raw schema."""
    return [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'raw' order by 1"
        ).fetchall()
    ]


def raw_facts(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    """Per raw table: rows, newest `_loaded_at`, order-free hash of the rows' content hashes."""
    facts: dict[str, list[Any]] = {}
    for table in raw_table_names(con):
        columns = {r[0] for r in con.execute(f'describe raw."{table}"').fetchall()}
        if {"_loaded_at", "_content_hash"} <= columns:
            sql = f'select count(*), max(_loaded_at), {CONTENT_XOR} from raw."{table}"'
        else:  # a table loaded by another tool: its size stands for its state
            sql = f'select count(*), null, null from raw."{table}"'
        row = con.execute(sql).fetchone()
        if row and row[0]:  # an empty table (a system not landed yet) is the same as none
            facts[table] = list(row)
    return facts


def raw_table_facts(warehouse: Path) -> dict[str, list[Any]]:
    """`raw_facts` of the warehouse: read once after ingest, every raw-derived input uses it."""
    with reader(warehouse) as con:
        return raw_facts(con)


def source_inputs(
    warehouse: Path, config: ProjectConfig | None, raw: dict[str, list[Any]] | None = None
) -> str:
    """What the raw checks and the build read: the raw layer (`raw`: its facts, read when not
    given), cxloop.yaml and the code."""
    raw = raw_table_facts(warehouse) if raw is None else raw
    return fingerprint({"raw": raw, "config": config_facts(config), "code": code_fingerprint()})


# What the marts read from the ops tables the playbooks and callbacks write: per table, the
# columns whose change a mart shows. Each is summarised as rows and an order-free hash of the
# rows (bit_xor of per-row hashes), so a status-only change under a pinned clock (`--now`, the
# demo's clock) still changes the fingerprint, as an updated `updated_at` alone would not.
LEDGER_FACTS = {
    "playbook_actions": ("action_id", "status", "updated_at"),
    "callback_tasks": ("task_id", "status", "due_at", "assignee_email", "owner_source"),
    "callback_events": ("event_id", "status", "occurred_at"),
}


def ledger_table_facts(con: duckdb.DuckDBPyConnection, table: str) -> list[Any] | None:
    """Rows and an order-free hash of the ledger columns of ops.`table`; None: no table."""
    if not table_exists(con, "ops", table):
        return None
    parts = " || '|' || ".join(f"coalesce({c}::varchar, '')" for c in LEDGER_FACTS[table])
    row = con.execute(f"select count(*), bit_xor(hash({parts})) from ops.{table}").fetchone()
    return list(row) if row else None


def ledger_inputs(warehouse: Path) -> str:
    """What the marts read from the playbook ledger and the callback tables.

    Sent e-mails become touchpoints; callback tasks and their events feed mart_callbacks.
    """
    with reader(warehouse) as con:
        facts = {table: ledger_table_facts(con, table) for table in LEDGER_FACTS}
    return fingerprint({"ledger": facts, "code": code_fingerprint()})


def raw_table_inputs(
    warehouse: Path, config: ProjectConfig | None, raw: dict[str, list[Any]] | None = None
) -> dict[str, str]:
    """Per non-empty raw table (`raw.<name>`): what its raw check reads (rows, config, code);
    `raw`: the tables' facts (`raw_table_facts`), read when not given."""
    raw = raw_table_facts(warehouse) if raw is None else raw
    shared = {"config": config_facts(config), "code": code_fingerprint()}
    return {f"raw.{table}": fingerprint({"table": facts, **shared}) for table, facts in raw.items()}


# A raw check validates only the rows landed since the last one that passed under the same
# checks (docs/quality.md "How much is validated"): per raw table, what that check covered, as
# `check_raw_through:<table>` = "<rules>|<newest _loaded_at>|<rows>|<hash>": the table's
# `raw_facts` when the check started. A table whose rows up to that time are no longer those (a
# row written behind the window by another loader or a clock set back, an erasure) has no
# window and is read as before. The incremental models' builds record the same under
# `build_through:<table>` (cxloop.incremental: such a table makes the next build refresh fully).
RAW_THROUGH = "check_raw_through:"
BUILD_THROUGH = "build_through:"


def raw_check_rules(config: ProjectConfig | None) -> str:
    """What decides how a raw row is checked: cxloop.yaml and the code (the suites in it)."""
    return fingerprint({"config": config_facts(config), "code": code_fingerprint()})


def raw_check_windows(warehouse: Path, datasets: list[str], rules: str) -> dict[str, datetime]:
    """Per raw dataset, the newest `_loaded_at` its last passing check under `rules` covered,
    when its rows up to that time are still the ones that check saw: its next check reads
    only the rows landed after it. Any other dataset (never checked under these rules: new
    checks, cxloop.yaml changed, a first run; or rows changed behind the window) has none
    and is read as before."""
    windows = covered_windows(warehouse, RAW_THROUGH, datasets, rules)
    return {dataset: end for dataset, end in windows.items() if end is not None}


def covered_windows(
    warehouse: Path, prefix: str, datasets: list[str], tag: str
) -> dict[str, datetime | None]:
    """Per raw dataset with a `covered_through` entry under `prefix` recorded with `tag`: the
    newest `_loaded_at` it covered while the dataset's rows up to then are still the ones
    recorded, else None (rows written behind it, or deleted)."""
    recorded = latest_inputs(warehouse, [f"{prefix}{d}" for d in datasets])
    windows: dict[str, datetime | None] = {}
    with reader(warehouse) as con:
        for dataset in datasets:
            parts = recorded.get(f"{prefix}{dataset}", "").split("|")
            if len(parts) != 4 or parts[0] != tag:
                continue
            end = datetime.fromisoformat(parts[1])
            schema, table = dataset.split(".", 1)
            covered = con.execute(
                f'select count(*), {CONTENT_XOR} from {schema}."{table}" where _loaded_at <= ?',
                [end],
            ).fetchone()
            same = covered is not None and [str(v) for v in covered] == parts[2:]
            windows[dataset] = end if same else None
    return windows


def raw_checked_through(
    raw: dict[str, list[Any]], datasets: list[str], rules: str
) -> dict[str, str]:
    """The `record_many` entries saying a passing raw check under `rules` covered each of
    `datasets` as its `raw_facts` (`raw`, read before the check) found it: a row landed
    meanwhile is read again next time, never skipped. Tables without landing metadata get none."""
    return covered_through(RAW_THROUGH, raw, datasets, rules)


def covered_through(
    prefix: str, raw: dict[str, list[Any]], datasets: list[str], tag: str
) -> dict[str, str]:
    """The `record_many` entries under `prefix` saying each of `datasets` was covered, under
    `tag`, as its `raw_facts` (`raw`) found it (`covered_windows` reads them back)."""
    entries = {}
    for dataset in datasets:
        rows, newest, content = raw.get(dataset.split(".", 1)[1], [None, None, None])
        if newest is not None:
            entries[f"{prefix}{dataset}"] = f"{tag}|{newest.isoformat()}|{rows}|{content}"
    return entries


def changed_datasets(warehouse: Path, stage: str, inputs: dict[str, str]) -> list[str]:
    """The datasets whose inputs differ from those `stage` last succeeded on (per dataset)."""
    last = latest_inputs(warehouse, [f"{stage}:{d}" for d in inputs])
    return sorted(d for d, fp in inputs.items() if last.get(f"{stage}:{d}") != fp)


def latest_build_id(con: duckdb.DuckDBPyConnection, dataset: str | None = None) -> str | None:
    """The most recently started build that succeeded (and changed `dataset`, when given)."""
    if not table_exists(con, "ops", "builds"):
        return None
    where = "status = 'succeeded'"
    if dataset:
        where += f" and (datasets is null or list_contains(datasets, '{dataset}'))"
    row = con.execute(
        f"select build_id from {BUILDS.qualified} where {where} order by started_at desc limit 1"
    ).fetchone()
    return row[0] if row else None


def current_model_version(models_dir: Path) -> str | None:
    """The registered current churn model version (its name only; nothing is loaded)."""
    return current_version(models_dir)


def score_inputs(warehouse: Path, model_version: str | None, config: ProjectConfig | None) -> str:
    """What scoring reads: the model version, the features' build, cxloop.yaml, the code."""
    with reader(warehouse) as con:
        features_build = latest_build_id(con, FEATURES)
    return fingerprint(
        {
            "model": model_version,
            "features_build": features_build,
            "config": config_facts(config),
            "code": code_fingerprint(),
        }
    )


def voice_inputs(warehouse: Path, config: ProjectConfig | None, models_dir: Path) -> str:
    """What the voice stage reads: the texts' content, the sentiment model, cxloop.yaml, code.

    The texts are summarised by their count and an order-free hash of their rows (milliseconds
    at 44k texts), not by the build that last wrote ml.voice_texts: a build that rewrote the
    table with the same texts does not run voice again."""
    with reader(warehouse) as con:
        texts = (
            con.execute(f"select count(*), bit_xor(hash(v)) from {VOICE_TEXTS} v").fetchone()
            if table_exists(con, *VOICE_TEXTS.split("."))
            else None
        )
    return fingerprint(
        {
            "texts": list(texts) if texts else None,
            "sentiment_model": current_version(models_dir, SENTIMENT_FAMILY),
            "config": config_facts(config),
            "code": code_fingerprint(),
        }
    )


def publish_inputs(warehouse: Path, config: ProjectConfig | None) -> str:
    """What publishing reads: the latest change to the marts, their latest verdict, config."""
    with reader(warehouse) as con:
        build = latest_build_id(con)
        checked = (
            con.execute(
                f"select max(checked_at) from {GATE_VERDICTS.qualified} where stage = 'marts'"
            ).fetchone()
            if table_exists(con, "ops", "gate_verdicts")
            else None
        )
    return fingerprint(
        {
            "build": build,
            "checked_at": checked[0] if checked else None,
            "config": config_facts(config),
            "code": code_fingerprint(),
        }
    )


def latest_inputs(warehouse: Path, stages: list[str]) -> dict[str, str]:
    """Per stage, the fingerprint it recorded when it last succeeded (absent: never), in one
    query (the raw checks ask for every raw table)."""
    if not stages or not Path(warehouse).is_file():
        return {}
    with reader(warehouse) as con:
        if not table_exists(con, STAGE_INPUTS.schema, STAGE_INPUTS.name):
            return {}
        rows = con.execute(
            f"select stage, inputs from {STAGE_INPUTS.qualified} where list_contains(?, stage) "
            "qualify row_number() over (partition by stage order by recorded_at desc) = 1",
            [stages],
        ).fetchall()
    return dict(rows)


def last_inputs(warehouse: Path, stage: str) -> str | None:
    """The fingerprint `stage` recorded when it last succeeded, or None."""
    return latest_inputs(warehouse, [stage]).get(stage)


def unchanged(warehouse: Path, stage: str, inputs: str) -> bool:
    """True when `stage` last succeeded on exactly these inputs (so it may be skipped)."""
    return Path(warehouse).is_file() and last_inputs(warehouse, stage) == inputs


def record_inputs(warehouse: Path, stage: str, inputs: str, run_id: str) -> None:
    """Remember that `stage` succeeded on these inputs."""
    record_many(warehouse, {stage: inputs}, run_id)


def record_many(warehouse: Path, inputs: dict[str, str], run_id: str) -> None:
    """Remember, in one transaction, the inputs each stage (key) succeeded on."""
    now = utc_now()
    rows = [
        STAGE_INPUTS.row({"stage": stage, "inputs": fp, "run_id": run_id, "recorded_at": now})
        for stage, fp in inputs.items()
    ]
    with writer(warehouse) as con:
        ensure_tables(con, [STAGE_INPUTS])
        if rows:
            con.executemany(STAGE_INPUTS.insert_sql, rows)


def last_build_succeeded(warehouse: Path) -> bool:
    """The most recent build (or scoring run) succeeded."""
    with reader(warehouse) as con:
        latest = latest_build(con)
    return latest is not None and latest[1] == "succeeded"


def build_unchanged(warehouse: Path, inputs: str) -> bool:
    """The build may be skipped: it last succeeded on these inputs and no build failed since."""
    return unchanged(warehouse, "build", inputs) and last_build_succeeded(warehouse)


def build_due(warehouse: Path) -> bool:
    """A build will run whatever ingest lands: none has succeeded yet, or the last one failed."""
    if not Path(warehouse).is_file() or last_inputs(warehouse, "build") is None:
        return True
    return not last_build_succeeded(warehouse)


def mark_deferred(warehouse: Path, pending: bool, run_id: str) -> None:
    """Record whether nodes a build deferred (`build(defer=...)`) wait for their build."""
    record_inputs(warehouse, "deferred", "pending" if pending else "built", run_id)


def build_changes(warehouse: Path, raw_in: dict[str, str], ledger_in: str) -> list[str] | None:
    """The source tables with new rows since the last build (`build(changed=...)` builds what
    they reach), or None (build everything) when the last build did not succeed or a run
    stopped before building what its build deferred: the identity step's skip (cxloop.reached)
    would then take that build's map as consumed by marts still built on the one before."""
    if not last_build_succeeded(warehouse) or last_inputs(warehouse, "deferred") == "pending":
        return None
    changed = changed_datasets(warehouse, "build", raw_in)
    if not unchanged(warehouse, "ledger", ledger_in):  # the last run's sends and callbacks
        changed += [f"ops.{table}" for table in LEDGER_FACTS]
    return changed


def gate_open(warehouse: Path) -> bool:
    """Every checked mart has a passing verdict on its latest state (nothing to re-check)."""
    with reader(warehouse) as con:
        return gate_state(con).passed
