"""The at-risk digest (one e-mail per CSM per run) and the `act` flow end to end with the outbox."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from pathlib import Path

import duckdb
import pytest

from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.engine import run_playbooks
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import load_playbooks
from cxloop.quality.gate import MartsNotCheckedError, recorded_build

ROOT = Path(__file__).resolve().parents[2] / "playbooks"


def digest_run(warehouse: Path, ctx, outbox: Path) -> dict:
    con = duckdb.connect(str(warehouse))
    try:
        return run_playbooks(
            con,
            load_playbooks(ROOT, ["at_risk_alert"]),
            renderer=TemplateRenderer(ROOT / "templates"),
            channel=OutboxChannel(outbox, "cx@vendor.example", "CX"),
            ctx=ctx,
            gate_ok=True,
        )["at_risk_alert"]
    finally:
        con.close()


def read(outbox: Path) -> dict[str, email.message.EmailMessage]:
    msgs = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in outbox.glob("*.eml")
    ]
    return {m["To"]: m for m in msgs}


def test_one_digest_per_csm_with_each_account_once(warehouse, ctx, tmp_path) -> None:
    high = dataclasses.replace(ctx, params={"high_threshold": 0.5})
    result = digest_run(warehouse, high, tmp_path / "outbox")
    assert result["sent"] == 2
    msgs = read(tmp_path / "outbox")
    assert set(msgs) == {"carla@vendor.example", "dan@vendor.example"}
    carla = msgs["carla@vendor.example"].get_body(("plain",)).get_content()
    # A1: high (0.72, up from 0.30), one open ticket, last NPS 5 (R2 is A1's latest answer)
    assert "Acme & Sons: churn probability 72% (+42 points" in carla
    assert "Last NPS: 5. Open tickets: 1" in carla and "open tickets with support" in carla
    dan = msgs["dan@vendor.example"].get_body(("plain",)).get_content()
    assert "Globex: churn probability 35% (+25 points" in dan  # rose by >= 0.2
    assert digest_run(warehouse, high, tmp_path / "outbox")["sent"] == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_high_threshold_from_config_changes_who_is_alerted(warehouse, ctx, tmp_path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("update ml.churn_scores set churn_probability = 0.3 where account_id = 'A2'")
    con.execute(
        "update ml.churn_scores set churn_probability = 0.7 "
        "where account_id = 'A1' and scored_at < '2024-06-01'"
    )  # no steep rise
    con.close()
    strict = dataclasses.replace(ctx, params={"high_threshold": 0.8})
    assert digest_run(warehouse, strict, tmp_path / "outbox")["sent"] == 0
    assert (
        digest_run(
            warehouse, dataclasses.replace(ctx, params={"high_threshold": 0.7}), tmp_path / "outbox"
        )["sent"]
        == 1
    )


def test_digest_waits_for_the_csms_working_hours(warehouse, ctx, tmp_path) -> None:
    # 05:00 UTC: 07:00 in Berlin (Carla's day starts), 01:00 in New York (Dan sleeps)
    night_in_new_york = dataclasses.replace(ctx, now=ctx.now.replace(hour=5))
    result = digest_run(warehouse, night_in_new_york, tmp_path / "outbox")
    assert set(read(tmp_path / "outbox")) == {"carla@vendor.example"}
    assert result["skipped"] == {"quiet_hours": 1}


@pytest.mark.usefixtures("prefect_harness")
def test_act_flow_runs_playbooks_into_the_outbox(warehouse, ctx, cx_home, monkeypatch) -> None:
    from cxloop.flows.act import act

    monkeypatch.setenv("CXLOOP_CONFIG", str(cx_home / "missing.yaml"))
    dry = act(warehouse=str(warehouse), dry_run=True, now=ctx.now)
    assert dry["detractor_followup"]["planned"] == 7 and not (cx_home / "outbox").exists()
    cfg = cx_home / "cxloop.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("sources: {}\nplaybooks: {postal_address: 'Flow Test Street 9'}\n")
    result = act(warehouse=str(warehouse), now=ctx.now, config=str(cfg))
    assert result["detractor_followup"]["sent"] == 7 and result["at_risk_alert"]["sent"] == 2
    texts = [m.get_body(("plain",)).get_content() for m in read(cx_home / "outbox").values()]
    assert len(texts) == 5 and all("Flow Test Street 9" in t for t in texts)
    with recorded_build(warehouse, "unchecked-build", None) as changed:
        changed.append("marts.fct_survey_responses")  # rebuilt, not yet checked
    with pytest.raises(MartsNotCheckedError, match="changed by build unchecked-build"):
        act(warehouse=str(warehouse), playbooks=["detractor_followup"], now=ctx.now)
