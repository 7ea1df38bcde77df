"""`mf query` (dbt-metricflow) on a copy of a built warehouse gives the marts' numbers."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from cxloop.dbt import DBT_PROJECT_DIR

MF = Path(os.sys.executable).parent / "mf"
DBT = Path(os.sys.executable).parent / "dbt"


@pytest.fixture(scope="module")
def mf_project(built_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A copy of the dbt project parsed against a copy of the warehouse (mf cannot share a lock)."""
    root = tmp_path_factory.mktemp("mf")
    project = root / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    copy = root / "copy" / "cx.duckdb"  # same file name: the manifest names the database by it
    copy.parent.mkdir()
    shutil.copy(built_home / "warehouse" / "cx.duckdb", copy)
    env = {**os.environ, "CXLOOP_WAREHOUSE": str(copy), "DBT_PROFILES_DIR": str(project)}
    env["DBT_LOG_PATH"] = str(root / "logs")
    subprocess.run([str(DBT), "parse", "--quiet"], cwd=project, env=env, check=True)
    return {"project": project, "env": env, "warehouse": copy}


def mf_query(mf_project: dict[str, object], metrics: str, group_by: str) -> list[dict[str, str]]:
    """Run `mf query` and return its CSV rows."""
    out = Path(str(mf_project["project"])) / f"{metrics.replace(',', '_')}.csv"
    proc = subprocess.run(
        [str(MF), "query", "--metrics", metrics, "--group-by", group_by, "--order", group_by,
         "--csv", str(out)],
        cwd=mf_project["project"], env=mf_project["env"], capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0 and out.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    with out.open() as fh:
        return list(csv.DictReader(fh))


def mart_rows(mf_project: dict[str, object], sql: str) -> dict[str, tuple]:
    con = duckdb.connect(str(mf_project["warehouse"]), read_only=True)
    try:
        return {str(r[0])[:10]: r[1:] for r in con.execute(sql).fetchall()}
    finally:
        con.close()


def num(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def test_nps_csat_ces_by_day_match_the_marts(mf_project: dict[str, object]) -> None:
    rows = mf_query(mf_project, "nps,csat,ces,nps_responses", "metric_time__day")
    marts = mart_rows(
        mf_project,
        "select n.date_day, n.nps, n.responses, c.csat, e.ces_mean from marts.mart_nps n "
        "join marts.mart_csat c using (date_day, segment_type, segment_value) "
        "join marts.mart_ces e using (date_day, segment_type, segment_value) "
        "where n.segment_type = 'all'",
    )
    assert len(rows) >= 30 and len(rows) == len(marts)
    for row in rows:
        nps, responses, csat, ces = marts[row["metric_time__day"][:10]]
        assert int(float(row["nps_responses"])) == responses
        for mf_value, mart_value in ((row["nps"], nps), (row["csat"], csat), (row["ces"], ces)):
            if mart_value is None:
                assert num(mf_value) is None
            else:
                assert num(mf_value) == pytest.approx(float(mart_value), abs=0.005)


def test_churn_rate_by_month_matches_mart_churn(mf_project: dict[str, object]) -> None:
    rows = mf_query(mf_project, "churn_rate", "metric_time__month")
    marts = mart_rows(
        mf_project,
        "select month_start_date, logo_churn_rate from marts.mart_churn where cohort = 'all'",
    )
    assert rows and len(rows) == len(marts)
    assert any(float(marts[r["metric_time__month"][:10]][0] or 0) > 0 for r in rows)
    for row in rows:
        (rate,) = marts[row["metric_time__month"][:10]]
        if rate is None:  # no active account at the month's start: no rate
            assert num(row["churn_rate"]) is None
        else:
            assert num(row["churn_rate"]) == pytest.approx(float(rate), abs=0.005)


def test_first_reply_time_by_day_matches_mart_ticket_kpis(mf_project: dict[str, object]) -> None:
    rows = mf_query(mf_project, "first_reply_time", "metric_time__day")
    marts = mart_rows(
        mf_project,
        "select date_day, avg_first_reply_time_calendar_minutes from marts.mart_ticket_kpis "
        "where segment_type = 'all'",
    )
    compared = [r for r in rows if num(r["first_reply_time"]) is not None]
    assert len(compared) >= 30
    for row in compared:
        (minutes,) = marts[row["metric_time__day"][:10]]
        assert num(row["first_reply_time"]) == pytest.approx(float(minutes), abs=0.005)
