"""Point-in-time: no feature in ml.account_snapshots may use data from after its snapshot.

Build the snapshots on a sample raw layer; then take away everything the sources record after a
cutoff date (rows created, events, ratings and survey answers after it), add made-up activity
just after it, and build again. Every feature of every snapshot at or before the cutoff must be
identical in both builds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cxloop.build import run_dbt_build
from cxloop.models.features import CHURN_SPEC

SAMPLE = ("-m", "cxloop.demo.sample_raw")  # the sample raw layer dbt tests build on
CUTOFF = "2024-12-31"  # a month end inside the sample's history (2023-01 .. 2025-06)

# (raw table, the text column that dates the row): rows dated after the cutoff are removed.
LATER_ROWS = (
    ("salesforce__account", "CreatedDate"),
    ("salesforce__contact", "CreatedDate"),
    ("salesforce__opportunity", "CreatedDate"),
    ("salesforce__opportunity", "CloseDate"),
    ("zendesk__organizations", "created_at"),
    ("zendesk__users", "created_at"),
    ("zendesk__tickets", "created_at"),
    ("zendesk__ticket_events", "created_at"),
    ("zendesk__satisfaction_ratings", "created_at"),
    ("zendesk__satisfaction_ratings", "updated_at"),
    ("qualtrics__responses", "RecordedDate"),
)


def remove_later_rows(warehouse: Path, cutoff: str) -> int:
    """Delete every raw row dated after the end of `cutoff`; returns how many went."""
    con = duckdb.connect(str(warehouse))
    removed = 0
    try:
        for table, column in LATER_ROWS:
            stamp = f"try_cast(left(replace(\"{column}\", 'T', ' '), 19) as timestamp)"
            removed += con.execute(
                f'delete from raw."{table}" where {stamp} >= cast(? as date) + interval 1 day',
                [cutoff],
            ).fetchone()[0]
    finally:
        con.close()
    return removed


def snapshot_features(warehouse: Path) -> pd.DataFrame:
    """The features of every snapshot, in key order (the label is left out on purpose)."""
    columns = ", ".join(["snapshot_id", "snapshot_date", *CHURN_SPEC.features])
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"select {columns} from ml.account_snapshots order by snapshot_id").df()
    finally:
        con.close()


def add_later_rows(warehouse: Path, cutoff: str) -> int:
    """Copy recent activity to just after the cutoff: reopens, tickets, survey answers.

    Deleting later rows only tests the few events that happen to follow the cutoff closely;
    these copies put later data right where a missing upper bound would pick it up.
    """
    after = f"{cutoff}T00:00:00Z"
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            """insert into raw.zendesk__ticket_events by name
            select * replace (
                cast(cast(id as bigint) + 1000000000 as varchar) as id,
                strftime(cast(? as date) + interval 3 day, '%Y-%m-%dT12:00:00Z') as created_at,
                null as "timestamp",
                regexp_replace(child_events, '"created_at": "[^"]*"',
                    '"created_at": "' || strftime(cast(? as date) + interval 3 day,
                    '%Y-%m-%dT12:00:00Z') || '"', 'g') as child_events)
            from raw.zendesk__ticket_events
            where child_events like '%"previous_value": "solved"%'""",
            [cutoff, cutoff],
        )
        con.execute(
            """insert into raw.zendesk__tickets by name
            select * replace (
                cast(cast(id as bigint) + 1000000000 as varchar) as id,
                strftime(cast(? as date) + interval 5 day, '%Y-%m-%dT09:00:00Z') as created_at,
                strftime(cast(? as date) + interval 5 day, '%Y-%m-%dT09:00:00Z') as updated_at)
            from raw.zendesk__tickets
            where created_at > strftime(cast(? as date) - interval 90 day, '%Y-%m-%dT')""",
            [cutoff, cutoff, cutoff],
        )
        con.execute(
            """insert into raw.qualtrics__responses by name
            select * replace (
                'R_late' || "ResponseId" as "ResponseId",
                strftime(cast(? as date) + interval 10 day, '%Y-%m-%d 10:00:00') as "RecordedDate",
                strftime(cast(? as date) + interval 10 day, '%Y-%m-%d 10:00:00') as "StartDate",
                strftime(cast(? as date) + interval 10 day, '%Y-%m-%d 10:00:00') as "EndDate")
            from raw.qualtrics__responses""",
            [cutoff, cutoff, cutoff],
        )
        added = con.execute(
            "select count(*) from raw.zendesk__tickets where created_at > ?", [after]
        ).fetchone()[0]
    finally:
        con.close()
    return int(added)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(features from all data, features with the later data replaced, rows removed)."""
    tmp = tmp_path_factory.mktemp("leakage")
    full, cut = tmp / "full.duckdb", tmp / "cut.duckdb"
    subprocess.run([sys.executable, *SAMPLE, str(full), "--accounts", "60"], check=True)
    shutil.copy(full, cut)
    removed = remove_later_rows(cut, CUTOFF)
    assert add_later_rows(cut, CUTOFF) > 0
    for warehouse in (full, cut):
        run_dbt_build(
            ["run", "--select", "+account_snapshots"], warehouse, tmp, None, "test-run"
        ).report()
    return snapshot_features(full), snapshot_features(cut), removed


def test_features_at_or_before_the_cutoff_ignore_later_data(builds: tuple) -> None:
    full, cut, removed = builds
    cutoff = pd.Timestamp(CUTOFF)
    before_full = full[full["snapshot_date"] <= cutoff].reset_index(drop=True)
    before_cut = cut[cut["snapshot_date"] <= cutoff].reset_index(drop=True)
    assert removed > 100 and len(before_full) > 300  # the comparison is not vacuous
    assert before_full["snapshot_id"].tolist() == before_cut["snapshot_id"].tolist()
    for feature in CHURN_SPEC.features:
        differs = ~(
            (before_full[feature] == before_cut[feature])
            | (before_full[feature].isna() & before_cut[feature].isna())
        )
        assert not differs.any(), (
            f"feature {feature!r} changed when data after {CUTOFF} was removed, e.g. "
            f"{before_full.loc[differs, 'snapshot_id'].iloc[0]}: "
            f"{before_full.loc[differs, feature].iloc[0]!r} -> "
            f"{before_cut.loc[differs, feature].iloc[0]!r}"
        )


def test_the_removed_data_does_change_later_snapshots(builds: tuple) -> None:
    """The removal bites: snapshots after the cutoff see fewer tickets and survey answers."""
    full, cut, _ = builds
    later = full[full["snapshot_date"] > pd.Timestamp(CUTOFF)].merge(
        cut, on="snapshot_id", how="left", suffixes=("", "_cut")
    )
    assert len(later) > 0
    assert (later["tickets_90d"] != later["tickets_90d_cut"]).any()
    assert (later["survey_responses_365d"] != later["survey_responses_365d_cut"]).any()
