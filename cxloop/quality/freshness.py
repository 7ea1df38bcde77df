"""Source freshness as rows of ops.quality_results (stage `freshness`), and the stale-source gate.

Freshness is what `dbt source freshness` reports, computed in SQL on the warehouse from the
dbt project's source definitions (cxloop.quality.freshness_sources): the age of the source's
newest delivery (a file landed or an unchanged export delivered again, wall clock;
macros/freshness.sql) against its `warn_after` / `error_after` (cxloop.yaml `freshness_hours`);
a source past `error_after` is stale and `enforce_freshness` raises `StaleSourcesError` naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from cxloop.errors import QualityGateError
from cxloop.quality.freshness_sources import FreshnessSource, freshness_sources
from cxloop.quality.results import insert_rows, result_frame, utc_now
from cxloop.sources.landing import ensure_raw_tables
from cxloop.warehouse import reader, writer


class StaleSourcesError(QualityGateError):
    """One or more sources are past their freshness `error_after`: the gate stays closed."""


@dataclass(frozen=True)
class SourceFreshness:
    """The freshness of one source table."""

    source: str  # <source>.<table>, as dbt names it
    relation: str  # schema.identifier in the warehouse
    status: str  # pass / warn / error / runtime error / empty
    max_loaded_at: datetime | None
    age_hours: float | None
    message: str = ""

    @property
    def is_stale(self) -> bool:
        return self.status in {"error", "runtime error"}


# dbt's collect_freshness_custom_sql, with dbt-duckdb's current_timestamp() taken as UTC
FRESHNESS_SQL = """
with source_query as (
{query}
)
select (select * from source_query) as max_loaded_at, timezone('UTC', now()) as snapshotted_at
"""
NEVER = datetime(1, 1, 1)  # dbt's "infinitely long ago" for a source with no loaded-at value


def _naive_utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a timestamp from the loaded-at query, got {value!r}")
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _measure(con: duckdb.DuckDBPyConnection, spec: FreshnessSource) -> SourceFreshness:
    """One source table's freshness, as `dbt source freshness` reports it."""
    try:
        loaded, now = con.execute(FRESHNESS_SQL.format(query=spec.loaded_at_sql)).fetchone()
        max_loaded_at = NEVER if loaded is None else _naive_utc(loaded)
    except (duckdb.Error, TypeError) as exc:
        message = f"{spec.relation}: {str(exc).splitlines()[0]}"
        return SourceFreshness(spec.source, spec.relation, "runtime error", None, None, message)
    age = (now - max_loaded_at).total_seconds()
    return SourceFreshness(
        source=spec.source,
        relation=spec.relation,
        status=spec.status(age),
        max_loaded_at=max_loaded_at,
        age_hours=round(age / 3600, 2),
    )


def run_source_freshness(
    warehouse: Path, dbt_vars: dict[str, object] | None = None
) -> list[SourceFreshness]:
    """Source freshness in SQL: one result per source table with freshness, as dbt gives it.

    The sources, their loaded-at queries and thresholds come from the dbt project's source
    YAML (cxloop.quality.freshness_sources); no dbt invocation, so no parse.
    """
    specs = freshness_sources(dbt_vars)
    with reader(warehouse) as con:
        return [_measure(con, spec) for spec in specs]


def freshness_rows(rows: list[SourceFreshness], run_id: str, checked_at: datetime) -> pd.DataFrame:
    """ops.quality_results rows (stage 'freshness') for source freshness results."""
    return result_frame(
        [
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "stage": "freshness",
                "dataset": r.relation,
                "check_name": "source_freshness",
                "column_name": "delivered_at",
                "severity": "critical" if r.is_stale else "warning",
                "success": r.status in {"pass", "empty"},
                "element_count": None,
                "unexpected_count": None,
                "unexpected_percent": None,
                "details": json.dumps(
                    {
                        "source": r.source,
                        "status": r.status,
                        "max_loaded_at": r.max_loaded_at,
                        "age_hours": r.age_hours,
                        "message": r.message,
                    },
                    default=str,
                ),
            }
            for r in rows
        ]
    )


def stale_message(rows: list[SourceFreshness]) -> str | None:
    """One line naming every stale source and how old its data is; None when all are fresh."""
    stale = [r for r in rows if r.is_stale]
    if not stale:
        return None
    parts = [
        f"{r.source} (newest delivery {r.max_loaded_at}, {r.age_hours} h old)"
        if r.max_loaded_at
        else f"{r.source} ({r.message or r.status})"
        for r in stale
    ]
    return f"stale sources, past their freshness error_after: {', '.join(parts)}"


def enforce_freshness(rows: list[SourceFreshness]) -> None:
    """Raise StaleSourcesError naming the stale sources, if any."""
    message = stale_message(rows)
    if message:
        raise StaleSourcesError(message)


def empty_tables(warehouse: Path, relations: list[str]) -> frozenset[str]:
    """The relations (schema.table) with no rows: a system not landed yet, never 'stale'."""
    empty = set()
    with reader(warehouse) as con:
        for relation in relations:
            schema, table = relation.split(".", 1)
            if con.execute(f'select count(*) = 0 from "{schema}"."{table}"').fetchone()[0]:
                empty.add(relation)
    return frozenset(empty)


def check_freshness(
    warehouse: Path, home: Path, run_id: str, dbt_vars: dict[str, object] | None = None
) -> list[SourceFreshness]:
    """Measure source freshness, record its rows (stage 'freshness'); return the results.

    `dbt_vars` carries the thresholds from cxloop.yaml (cxloop.dbt.dbt_vars). Raw tables of a
    system nothing has landed from yet are created empty first (reported `empty`, not an error).
    `home` is unused since freshness no longer invokes dbt (kept: callers pass it).
    """
    with writer(warehouse) as con:
        ensure_raw_tables(con)
    rows = run_source_freshness(warehouse, dbt_vars)
    # an empty table has no loaded-at value: 0001-01-01, as dbt reports it (status error)
    unknown = [r.relation for r in rows if r.max_loaded_at is None or r.max_loaded_at.year == 1]
    empty = empty_tables(warehouse, unknown) if unknown else frozenset()
    rows = [
        SourceFreshness(r.source, r.relation, "empty", None, None, "no rows landed")
        if r.relation in empty
        else r
        for r in rows
    ]
    insert_rows(warehouse, freshness_rows(rows, run_id, utc_now()))
    return rows


LAST_FRESHNESS_SQL = """
select checked_at, json_extract_string(details, '$.source') as source,
       json_extract_string(details, '$.status') as status,
       try_cast(json_extract_string(details, '$.age_hours') as double) as age_hours
from ops.quality_results
where stage = 'freshness'
  and run_id = (select run_id from ops.quality_results where stage = 'freshness'
                order by checked_at desc limit 1)
"""


def freshness_unchanged(warehouse: Path, hours: dict[str, int], now: datetime) -> bool:
    """True when no source's freshness status can have changed since the last check.

    Used when nothing was landed since that check: a source's age only grows by the time
    passed (a delivery makes it younger), so a source that passed stays passing until its age
    reaches `warn_after` (half its `freshness_hours`, default 48, as the dbt sources say; at
    least 1 hour). Any other status, or a bound not met, means: run the check again.
    """
    with reader(warehouse) as con:
        rows = con.execute(LAST_FRESHNESS_SQL).fetchall()
    if not rows:
        return False
    for checked_at, source, status, age_hours in rows:
        if status == "empty":
            continue  # nothing landed since, so still empty
        kind = (source or "").split(".", 1)[0]
        warn_hours = max(1, hours.get(kind, 48) // 2)
        elapsed = (now - checked_at).total_seconds() / 3600
        if status != "pass" or age_hours is None or age_hours + elapsed >= warn_hours:
            return False
    return True
