"""Customer lifetime value (docs/metrics.md): the dbt unit test of the hand-worked examples runs
and passes, and on a sample warehouse with hand-set churn scores the marts agree with the
formula recomputed here, the CSM/segment mart adds up, and customers carry their account's."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from cxloop.build import phase_args, run_dbt_build
from cxloop.config import ClvConfig
from cxloop.identity import resolve_identities

SAMPLE = ("-m", "cxloop.demo.sample_raw")
UNIT_TEST = "test_account_value_worked_examples"


@pytest.fixture(scope="module")
def clv_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """The build's phases on sample raw data, hand-set scores on six accounts, a rebuild."""
    home = tmp_path_factory.mktemp("clv_home")
    warehouse = home / "cx.duckdb"
    subprocess.run([sys.executable, *SAMPLE, str(warehouse), "--accounts", "30"], check=True)
    run_dbt_build(phase_args("identity"), warehouse, home, None, "clv-1")
    resolve_identities(warehouse, None)
    run_dbt_build(phase_args("all"), warehouse, home, None, "clv-2")
    con = duckdb.connect(str(warehouse))
    try:
        accounts = con.execute(
            "select account_id from marts.dim_accounts where arr_amount > 0 order by account_id"
        ).fetchall()
        scored_at = datetime(2026, 1, 1)  # noqa: DTZ001 - stored as naive UTC
        for i, (account_id,) in enumerate(accounts[:6]):  # hand-set probabilities 0.1 .. 0.6
            p = round(0.1 * (i + 1), 1)
            band = "high" if p >= 0.5 else "medium" if p >= 0.25 else "low"
            con.execute(
                "insert into ml.churn_scores "
                "values (?, ?, 'v-test', ?, ?, '[]', date '2025-12-31')",
                [account_id, scored_at, p, band],
            )
    finally:
        con.close()
    rebuild = ["build", "--select", "stg_ml__churn_scores+", UNIT_TEST]
    run = run_dbt_build(rebuild, warehouse, home, None, "clv-3")
    return warehouse, run


def test_the_worked_examples_unit_test_ran_and_passed(clv_warehouse: tuple[Path, object]) -> None:
    _, run = clv_warehouse
    [node] = [n for n in run.nodes if n.unique_id.endswith(UNIT_TEST)]
    assert node.status == "pass", node


def test_dim_accounts_follow_the_formula(clv_warehouse: tuple[Path, object]) -> None:
    warehouse, _ = clv_warehouse
    clv = ClvConfig()
    per_period = clv.period_days / 365
    discount = [(1 + clv.annual_discount_rate) ** (-k * per_period) for k in range(1, 13)]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select arr_amount, churn_probability, clv_if_retained_amount, clv_predicted_amount, "
            "clv_at_risk_amount, clv_historical_amount, clv_amount "
            "from marts.dim_accounts where arr_amount is not null"
        ).fetchall()
    finally:
        con.close()
    scored = [r for r in rows if r[1] is not None and r[0] > 0]
    assert len(scored) == 6
    for arr, p, retained, predicted, at_risk, historical, total in rows:
        assert retained == pytest.approx(arr * per_period * sum(discount), abs=0.01)
        assert historical >= 0
        if arr == 0:
            assert (predicted, at_risk) == (0, 0)
        elif p is None:
            assert predicted is None and at_risk is None and total is None
        else:
            survival = (1 - p) ** (clv.period_days / 90)
            expected = arr * per_period * sum(survival**k * v for k, v in enumerate(discount, 1))
            assert predicted == pytest.approx(expected, abs=0.01)
            assert at_risk == pytest.approx(retained - predicted, abs=0.011)
            assert total == pytest.approx(historical + predicted, abs=0.01)
            assert 0 < predicted < retained


def test_clv_at_risk_per_segment_adds_up(clv_warehouse: tuple[Path, object]) -> None:
    warehouse, _ = clv_warehouse
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        direct = con.execute(
            "select count(*), sum(clv_at_risk_amount), count(churn_probability), "
            "sum(case when churn_risk_band = 'high' then clv_at_risk_amount else 0 end) "
            "from marts.dim_accounts where not is_churned and arr_amount > 0"
        ).fetchone()
        everyone = con.execute(
            "select accounts, clv_at_risk_amount, scored_accounts, high_risk_clv_at_risk_amount "
            "from marts.mart_clv_at_risk where segment_type = 'all'"
        ).fetchone()
        by_csm = con.execute(
            "select sum(accounts), sum(clv_at_risk_amount) from marts.mart_clv_at_risk "
            "where segment_type = 'csm'"
        ).fetchone()
        customers = con.execute(
            "select count(*) from marts.dim_customers as customers "
            "join marts.dim_accounts as accounts using (account_id) "
            "where customers.account_clv_at_risk_amount "
            "is distinct from accounts.clv_at_risk_amount "
            "or customers.account_clv_historical_amount "
            "is distinct from accounts.clv_historical_amount"
        ).fetchone()[0]
        valued = con.execute(
            "select count(*) from marts.dim_customers where account_clv_at_risk_amount > 0"
        ).fetchone()[0]
    finally:
        con.close()
    assert everyone[0] == direct[0] and everyone[2] == direct[2] == 6
    assert everyone[1] == pytest.approx(direct[1]) and everyone[3] == pytest.approx(direct[3])
    assert by_csm[0] == direct[0] and by_csm[1] == pytest.approx(direct[1])
    assert customers == 0 and valued > 0
