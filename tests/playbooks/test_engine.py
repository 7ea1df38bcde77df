"""The engine with the outbox: exactly-once, every guardrail, callback tasks, broken templates."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.engine import run_playbooks
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import LoadedPlaybook, load_playbook, load_playbooks

ROOT = Path(__file__).resolve().parents[2] / "playbooks"


def specs(folder: Path | None = None, **guardrails: Any) -> list[LoadedPlaybook]:
    """The shipped detractor playbook; with guardrails, rewritten into `folder` with them changed
    and validated again."""
    if not guardrails:
        return load_playbooks(ROOT, ["detractor_followup"])
    assert folder is not None, "a playbook with changed guardrails is written into a folder"
    data = yaml.safe_load((ROOT / "detractor_followup.yaml").read_text(encoding="utf-8"))
    data["guardrails"].update(guardrails)
    path = folder / "detractor_followup.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return [load_playbook(path, ROOT / "templates")]


def run(
    warehouse: Path,
    ctx: PlanContext,
    outbox: Path,
    playbooks: list[LoadedPlaybook] | None = None,
    templates: Path = ROOT / "templates",
    **kw: Any,
) -> dict[str, Any]:
    con = duckdb.connect(str(warehouse))
    try:
        result = run_playbooks(
            con,
            playbooks or specs(),
            renderer=TemplateRenderer(templates),
            channel=OutboxChannel(outbox, "cx@vendor.example", "CX Team"),
            ctx=ctx,
            **{"gate_ok": True, **kw},
        )
    finally:
        con.close()
    return result["detractor_followup"] if len(result) == 1 else result


def ledger(warehouse: Path) -> dict[str, tuple[str, str | None]]:
    con = duckdb.connect(str(warehouse))
    rows = con.execute(
        "select action_key, status, error from ops.playbook_actions order by action_key"
    ).fetchall()
    con.close()
    return {k: (s, e) for k, s, e in rows}


def emails_sent_to(outbox: Path) -> list[str]:
    return sorted(
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]
        for p in outbox.glob("*.eml")
    )


def test_detractors_get_one_email_each_and_a_callback_once(warehouse, ctx, tmp_path) -> None:
    outbox = tmp_path / "outbox"
    first = run(warehouse, ctx, outbox)
    # R1-R4 are recent detractors, R5 a promoter, R0 too old; R4 opted out
    assert (first["planned"], first["sent"], first["suppressed"], first["failed"]) == (7, 7, 1, 0)
    assert emails_sent_to(outbox) == [
        "ana@acme.example",
        "omar@acme.example",
        "sara@globex.example",
    ]
    second = run(warehouse, ctx, outbox)
    assert (second["planned"], second["sent"]) == (0, 0)
    assert len(list(outbox.glob("*.eml"))) == 3
    con = duckdb.connect(str(warehouse))
    tasks = con.execute(
        "select customer_id, assignee_email, due_date, status from ops.callback_tasks order by 1"
    ).fetchall()
    outbox_rows = con.execute("select count(*) from ops.outbox").fetchall()[0][0]
    con.close()
    # planned on Wednesday 2024-06-05: two business days later is Friday
    assert tasks == [
        ("C1", "carla@vendor.example", date(2024, 6, 7), "open"),
        ("C2", "carla@vendor.example", date(2024, 6, 7), "open"),
        ("C3", "dan@vendor.example", date(2024, 6, 7), "open"),
        ("C4", "dan@vendor.example", date(2024, 6, 7), "open"),
    ]
    assert outbox_rows == 3


def test_eml_is_a_proper_multipart_message(warehouse, ctx, tmp_path) -> None:
    outbox = tmp_path / "outbox"
    run(warehouse, ctx, outbox)
    con = duckdb.connect(str(warehouse))
    action_id, path = con.execute(
        "select action_id, path from ops.outbox where recipient = 'omar@acme.example'"
    ).fetchall()[0]
    con.close()
    msg = email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["X-Cxloop-Action-Id"] == action_id
    assert msg["List-Unsubscribe"] == f"<https://cx.example/unsub?c={action_id}>"
    assert msg["From"] == "CX Team <cx@vendor.example>" and msg["Message-ID"] and msg["Date"]
    assert msg["Subject"].startswith("عمر")
    html = msg.get_body(("html",)).get_content()
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    assert "مرحبًا" in msg.get_body(("plain",)).get_content()
    assert not list(outbox.glob("*.tmp"))


def ops_tables(warehouse: Path) -> list[tuple[str]]:
    con = duckdb.connect(str(warehouse))
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = 'ops' order by 1"
    ).fetchall()
    con.close()
    return tables


def test_dry_run_plans_and_writes_nothing(warehouse, ctx, tmp_path) -> None:
    before = ops_tables(warehouse)  # the gate's state (tests/gate_state.py), no ledger
    result = run(warehouse, ctx, tmp_path / "outbox", dry_run=True)
    assert result["planned"] == 7 and result["sent"] == 0
    assert {a["recipient"] for a in result["plan"] if a["channel"] == "email"} >= {
        "ana@acme.example"
    }
    assert ops_tables(warehouse) == before and ("playbook_actions",) not in before
    assert not (tmp_path / "outbox").exists()


def test_failed_quality_gate_sends_nothing(warehouse, ctx, tmp_path) -> None:
    result = run(warehouse, ctx, tmp_path / "outbox", gate_ok=False)
    assert result["gate_blocked"] and result["planned"] == 0 and result["sent"] == 0
    assert ledger(warehouse) == {}
    assert not (tmp_path / "outbox").exists()


def test_suppression_list_is_respected(warehouse, ctx, tmp_path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create table ops.suppressions (email varchar, reason varchar, source varchar, "
        "created_at timestamp)"
    )
    con.execute(
        "insert into ops.suppressions values ('ANA@acme.example', 'unsubscribe', 'sendgrid', now())"
    )
    con.close()
    result = run(warehouse, ctx, tmp_path / "outbox")
    assert result["suppressed"] == 2  # Ana (list) and Olga (opted out)
    assert ledger(warehouse)["detractor_followup:R1:email"] == (
        "suppressed",
        "address is on the suppression list",
    )
    assert "ana@acme.example" not in emails_sent_to(tmp_path / "outbox")
    # the callback still happens: a person should still call a detractor
    assert ledger(warehouse)["detractor_followup:R1:callback_task"][0] == "sent"


def test_max_per_run_defers_the_rest_to_the_next_run(warehouse, ctx, tmp_path) -> None:
    outbox = tmp_path / "outbox"
    first = run(warehouse, ctx, outbox, specs(tmp_path, max_per_run=2))
    assert first["skipped_by_guardrail"] == 1 and first["skipped"] == {"max_per_run": 1}
    assert len(emails_sent_to(outbox)) == 2
    second = run(warehouse, ctx, outbox, specs(tmp_path, max_per_run=2))
    assert second["skipped_by_guardrail"] == 0
    assert len(emails_sent_to(outbox)) == 3


def test_cooldown_per_recipient(warehouse, ctx, tmp_path) -> None:
    outbox = tmp_path / "outbox"
    run(warehouse, ctx, outbox)
    con = duckdb.connect(str(warehouse))  # Ana answers again, an hour later: still a detractor
    con.execute(
        "insert into marts.fct_survey_responses values ('R6', 'C1', 'A1', 4, "
        "'detractor', 'en', 'ana@acme.example', '2024-06-05 12:00', 'still slow')"
    )
    con.close()
    later = dataclasses.replace(ctx, now=ctx.now + timedelta(hours=1))
    result = run(warehouse, later, outbox)
    assert result["skipped"] == {"cooldown": 1} and result["sent"] == 0
    after_cooldown = dataclasses.replace(ctx, now=ctx.now + timedelta(hours=73))
    result = run(warehouse, after_cooldown, outbox)
    assert result["sent"] == 2  # the e-mail and its callback task
    assert emails_sent_to(outbox).count("ana@acme.example") == 2


def test_quiet_hours_use_the_recipients_time_zone(warehouse, ctx, tmp_path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute(
        "update marts.dim_customers set time_zone = case customer_id "
        "when 'C1' then 'Asia/Tokyo' else 'Europe/London' end"
    )
    con.close()
    (lp,) = specs()  # the shipped playbook: quiet hours in dim_customers.time_zone
    # 14:00 UTC is 23:00 in Tokyo (quiet) and 15:00 in London
    result = run(warehouse, ctx, tmp_path / "outbox", [lp])
    assert result["skipped"] == {"quiet_hours": 1}
    assert "ana@acme.example" not in emails_sent_to(tmp_path / "outbox")
    assert "detractor_followup:R1:email" not in ledger(warehouse)
    morning_in_tokyo = dataclasses.replace(ctx, now=ctx.now + timedelta(hours=10))
    run(warehouse, morning_in_tokyo, tmp_path / "outbox", [lp])
    assert "ana@acme.example" in emails_sent_to(tmp_path / "outbox")


def test_broken_template_stops_only_its_action(warehouse, ctx, tmp_path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "detractor_followup" / "fa" / "body.txt").write_text(
        "{{ no_such_column }}", encoding="utf-8"
    )
    result = run(warehouse, ctx, tmp_path / "outbox", templates=templates)
    status, error = ledger(warehouse)["detractor_followup:R3:email"]
    assert status == "failed" and "fa/body.txt" in error and "no_such_column" in error
    assert result["failed"] == 1
    assert "sara@globex.example" not in emails_sent_to(tmp_path / "outbox")
    assert ledger(warehouse)["detractor_followup:R1:email"][0] == "sent"


def test_leftover_planned_rows_are_sent_and_sending_rows_become_unknown(
    warehouse, ctx, tmp_path
) -> None:
    outbox = tmp_path / "outbox"

    def crash(results: Any) -> None:
        raise RuntimeError("power cut after the send")

    with pytest.raises(RuntimeError):
        run(warehouse, ctx, outbox, after_send=crash)
    assert {s for k, (s, _) in ledger(warehouse).items() if k.endswith(":email")} == {
        "sending",
        "suppressed",
    }
    assert len(list(outbox.glob("*.eml"))) == 3
    con = duckdb.connect(str(warehouse))  # a planned row that was never attempted
    con.execute(
        "update ops.playbook_actions set status = 'planned' "
        "where action_key = 'detractor_followup:R1:email'"
    )
    con.execute("delete from ops.outbox")
    r1_key = "detractor_followup:R1:email"
    query = "select action_id from ops.playbook_actions where action_key = ?"
    (outbox / f"{con.execute(query, [r1_key]).fetchall()[0][0]}.eml").unlink()
    con.close()
    result = run(warehouse, ctx, outbox)
    assert result["unknown"] == 2 and len(result["unknown_action_ids"]) == 2
    assert result["sent"] == 1 + 4  # R1's e-mail resumed, and the four callback tasks
    assert ledger(warehouse)["detractor_followup:R2:email"][0] == "unknown"
    assert ledger(warehouse)["detractor_followup:R1:email"][0] == "sent"
    assert len(list(outbox.glob("*.eml"))) == 3  # nothing resent
