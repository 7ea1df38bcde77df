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


def lines(msg: email.message.EmailMessage) -> list[str]:
    return [line.strip() for line in msg.get_body(("plain",)).get_content().splitlines()]


def test_one_digest_per_csm_with_each_account_once(warehouse, ctx, tmp_path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute(
        "update marts.dim_accounts set clv_at_risk_amount = 4530.18 where account_id = 'A1'"
    )
    con.close()
    result = digest_run(warehouse, ctx, tmp_path / "outbox")
    assert result["sent"] == 2
    msgs = read(tmp_path / "outbox")
    assert set(msgs) == {"carla@vendor.example", "dan@vendor.example"}
    # A1: band medium (0.30, 05-01) -> high (0.72, 06-01); last NPS R2 (5, 06-04 11:00, no
    # comment) is later than R1; T1 is its one open ticket; drivers as scoring wrote them
    assert lines(msgs["carla@vendor.example"])[4:10] == [
        "* Acme & Sons: churn probability 72%, crossed into high risk; "
        "up 42 points since 2024-05-01, from 30% (medium)",
        "Why: 5 support tickets in the last 90 days; support's first reply took 4.5 hours on "
        "average (last 90 days); NPS changed by -4 points since the answer before",
        "Last NPS: 5 on 2024-06-04",
        "CLV at risk: 4530 (discounted revenue the churn risk takes away)",
        "Open tickets: 1: #T1 (high, opened 2024-05-30)",
        "Next step: go through the open tickets with support, then call your main contact "
        "this week.",
    ]
    # A2: still medium, but 0.10 -> 0.35 is a rise of 0.25 >= rise_threshold 0.2; last NPS is
    # Paul's 10 "Great" (R5); no open ticket (T3 closed); the driver is the renewal
    assert lines(msgs["dan@vendor.example"])[4:10] == [
        "* Globex: churn probability 35%, risk rose sharply; "
        "up 25 points since 2024-05-01, from 10% (low)",
        "Why: renewal due in 45 days",
        'Last NPS: 10 on 2024-06-04, "Great"',
        "CLV at risk: not computed yet",
        "Open tickets: 0",
        "Next step: the renewal is close: book a renewal conversation now.",
    ]
    html = msgs["carla@vendor.example"].get_body(("html",)).get_content()
    assert "#T1 (high, opened 2024-05-30)" in html and "4.5 hours" in html
    assert digest_run(warehouse, ctx, tmp_path / "outbox")["sent"] == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_an_account_already_high_is_not_alerted_again_unless_it_worsens(
    warehouse, ctx, tmp_path
) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute(  # A1 was already high at the previous scoring (0.60 -> 0.72: +12 points)
        "update ml.churn_scores set churn_probability = 0.6, risk_band = 'high' "
        "where account_id = 'A1' and scored_at < '2024-06-01'"
    )
    con.close()
    digest_run(warehouse, ctx, tmp_path / "outbox")
    assert set(read(tmp_path / "outbox")) == {"dan@vendor.example"}


def test_the_band_scoring_wrote_decides_so_relative_bands_alert(warehouse, ctx, tmp_path) -> None:
    con = duckdb.connect(str(warehouse))
    # relative bands at a 4% base rate: 0.08 is in the top decile, so scoring wrote 'high'
    con.execute(
        "update ml.churn_scores set churn_probability = case when scored_at < '2024-06-01' "
        "then 0.03 else 0.08 end, risk_band = case when scored_at < '2024-06-01' then 'low' "
        "else 'high' end where account_id = 'A2'"
    )
    con.close()
    digest_run(warehouse, ctx, tmp_path / "outbox")
    dan = lines(read(tmp_path / "outbox")["dan@vendor.example"])
    assert dan[4] == (
        "* Globex: churn probability 8%, crossed into high risk; "
        "up 5 points since 2024-05-01, from 3% (low)"
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
