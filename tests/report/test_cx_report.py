"""The CX report on a hand-made warehouse (numbers worked by hand below) and on empty ones."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cxloop.config import ProjectConfig
from cxloop.report import write_cx_report
from cxloop.report.data import read_report_data
from cxloop.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from report_warehouse import PLOTS, SECTIONS, write_report_warehouse  # noqa: E402


@pytest.fixture
def hand_warehouse(cx_home: Path) -> Path:
    paths = Settings().paths.ensure()
    return write_report_warehouse(paths.warehouse)


def read(warehouse: Path, show_csm_names: bool = False):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return read_report_data(con, show_csm_names)
    finally:
        con.close()


def test_monthly_trends_re_aggregate_the_daily_counts(hand_warehouse: Path) -> None:
    trends = read(hand_warehouse).trends.set_index(["metric", "month"])
    sept, octo = "2026-09-01", "2026-10-01"
    # NPS, September: P 11 + 9 = 20, D 4, n 30 -> 53.33; margin 196 * sqrt((0.8 - 0.5333^2) / 30)
    nps = trends.loc["nps"]
    assert nps.loc[sept, "value"] == pytest.approx(53.333, abs=0.001)
    assert nps.loc[sept, "margin"] == pytest.approx(25.694, abs=0.001)
    # October: P 9, D 15, n 30 -> -20; margin 196 * sqrt((0.8 - 0.04) / 30)
    assert nps.loc[octo, "value"] == pytest.approx(-20.0)
    assert nps.loc[octo, "margin"] == pytest.approx(31.196, abs=0.001)
    assert trends.loc["csat"].loc[octo, "value"] == pytest.approx(40.0)
    # CES, October: 7, 5 (one day) and 4 (the next): mean 16/3, s = sqrt(7/3), n 3
    ces = trends.loc["ces"]
    assert ces.loc[octo, "value"] == pytest.approx(16 / 3)
    assert ces.loc[octo, "margin"] == pytest.approx(1.96 * (7 / 3) ** 0.5 / 3**0.5)
    assert ces.loc[sept, "margin"] == pytest.approx(1.96 * (14 / 3) ** 0.5 / 2)


def test_significant_segments_follow_the_marts_tests(hand_warehouse: Path) -> None:
    significant = read(hand_warehouse).significant
    found = {(r.metric, r.segment_value): r.z for r in significant.itertuples()}
    # EMEA NPS 65 (se 14.62) -> -40 (se 17.89): z = -105 / sqrt(213.75 + 320) = -4.545
    assert found[("nps", "EMEA")] == pytest.approx(-4.545, abs=0.001)
    # EMEA CSAT 80% -> 40% of 25: pooled p 0.6, z = -0.4 / sqrt(0.24 * 0.08) = -2.887
    assert found[("csat", "EMEA")] == pytest.approx(-2.887, abs=0.001)
    # APAC NPS 30 -> 20 on 10 answers each: z = -0.27, not significant; 'all' is not a segment
    assert set(found) == {("nps", "EMEA"), ("csat", "EMEA")}


def test_journey_counts_touchpoints_in_the_30_days_before(hand_warehouse: Path) -> None:
    journey = read(hand_warehouse).journey
    shares = {(r.nps_category, r.touchpoint_type): r.share_pct for r in journey.itertuples()}
    # 5 detractors: c1 and c2 opened a ticket, c1 had a reply; 2 promoters: c6 a deal change
    # (its agent reply 43 days before is outside; c1's e-mail after the answer never counts)
    assert shares == {
        ("detractor", "ticket_opened"): pytest.approx(40.0),
        ("detractor", "agent_reply"): pytest.approx(20.0),
        ("promoter", "opportunity_change"): pytest.approx(50.0),
    }


def test_comments_are_masked_and_keep_their_language(hand_warehouse: Path) -> None:
    comments = read(hand_warehouse).comments
    assert list(comments["language"]) == ["en", "ar", "fa", "en"]  # newest first, 2 per language
    first = comments.iloc[0]["open_text"]
    assert "jane.doe" not in first and "[email]" in first and "[phone]" in first
    assert list(comments["sentiment_label"]) == ["negative", "negative", "negative", "neutral"]


def test_the_page_has_every_section_plot_and_rtl_comment(hand_warehouse: Path) -> None:
    result = write_cx_report(Settings().paths, None)
    html = Path(result["path"]).read_text(encoding="utf-8")
    assert result["sections"] == dict.fromkeys(SECTIONS, "ok")
    for section in SECTIONS:
        assert f'data-section="{section}"' in html
    for plot in PLOTS:
        assert re.search(rf'data-plot="{plot}"><svg', html), plot
    assert 'lang="ar" dir="rtl">الدعم بطيء جدا' in html
    assert 'lang="fa" dir="rtl">پشتیبانی خیلی کند' in html
    assert "jane.doe@example.com" not in html
    assert "<script" not in html and not re.search(r'(src|href)="https?:', html)  # offline
    assert "@media print" in html
    assert "10 detractors, 6 contacted, 5 loops closed (50%)" in html
    assert "first contact after 15.0 hours" in html  # (10 h x 3 + 20 h x 3) / 6
    # at-risk accounts by CLV at risk; the churned and the low-risk are left out; ids, not names
    table = html[html.index('data-table="at-risk-accounts"') :]
    assert table.index("Acme") < table.index("Beta") and "Delta" not in table
    assert "Gamma" not in table and "Ana Csm" not in html and "tickets open = 4" in table


def test_csm_names_only_when_publish_shows_them(hand_warehouse: Path) -> None:
    config = ProjectConfig.model_validate({"sources": {}, "publish": {"show_csm_names": True}})
    html = Path(write_cx_report(Settings().paths, config)["path"]).read_text(encoding="utf-8")
    assert "Ana Csm" in html


def test_without_the_voice_tables_the_section_says_so(cx_home: Path) -> None:
    paths = Settings().paths.ensure()
    write_report_warehouse(paths.warehouse, voice=False)
    html = Path(write_cx_report(paths, None)["path"]).read_text(encoding="utf-8")
    assert "No data yet: no sentiment scores" in html
    assert 'data-plot="sentiment"' not in html and 'lang="fa" dir="rtl"' in html


@pytest.mark.parametrize("kind", ["missing", "no tables", "empty tables"])
def test_an_empty_warehouse_says_no_data_yet(cx_home: Path, kind: str) -> None:
    paths = Settings().paths.ensure()
    if kind != "missing":
        duckdb.connect(str(paths.warehouse)).close()
    if kind == "empty tables":
        write_report_warehouse(paths.warehouse)
        con = duckdb.connect(str(paths.warehouse))
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall():
            con.execute(f"delete from {schema}.{table}")
        con.close()
    result = write_cx_report(paths, None)
    html = Path(result["path"]).read_text(encoding="utf-8")
    assert result["sections"] == dict.fromkeys(SECTIONS, "no data yet")
    assert html.count('class="no-data">No data yet') == len(SECTIONS)
    assert "Traceback" not in html and "<svg" not in html


def test_the_cli_writes_the_page(cx_home: Path) -> None:
    from cxloop.flows.cli import app

    result = CliRunner().invoke(app, ["report", "--json"])
    assert result.exit_code == 0, result.output
    assert (cx_home / "reports" / "cx-report.html").is_file()
    assert '"trends": "no data yet"' in result.output


def test_a_table_from_an_older_build_is_named_not_a_stack_trace(hand_warehouse: Path) -> None:
    con = duckdb.connect(str(hand_warehouse))
    con.execute("alter table marts.dim_accounts drop column clv_at_risk_amount")
    con.close()
    result = write_cx_report(Settings().paths, None)
    html = Path(result["path"]).read_text(encoding="utf-8")
    [problem] = result["problems"]  # the at-risk list; CLV per CSM reads mart_clv_at_risk
    assert problem.startswith("marts.dim_accounts: ") and "clv_at_risk_amount" in problem
    assert 'data-problems="1"' in html and 'data-plot="clv-at-risk"' in html
    assert result["sections"]["trends"] == "ok"
