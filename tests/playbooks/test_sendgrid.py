"""SendGrid through the official client against a local v3 mail/send server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from cxloop.playbooks.channels import SendGridChannel
from cxloop.playbooks.engine import run_playbooks
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import load_playbooks

ROOT = Path(__file__).resolve().parents[2] / "playbooks"
PERSONAL = ("ana@acme.example", "Ana", "omar@acme.example", "عمر", "sara@globex.example")


def send(
    warehouse: Path, ctx: PlanContext, server: Any, sleeps: list[float] | None = None, **kw: Any
) -> dict[str, Any]:
    channel = SendGridChannel(
        "SG.test-key",
        base_url=server.url,
        email_from="cx@vendor.example",
        email_from_name="CX Team",
        unsubscribe_group=4242,
        max_attempts=3,
        sleep=(sleeps if sleeps is not None else []).append,
    )
    con = duckdb.connect(str(warehouse))
    try:
        return run_playbooks(
            con,
            load_playbooks(ROOT, ["detractor_followup"]),
            renderer=TemplateRenderer(ROOT / "templates"),
            channel=channel,
            ctx=ctx,
            gate_ok=True,
            **kw,
        )["detractor_followup"]
    finally:
        con.close()


def email_rows(warehouse: Path) -> dict[str, tuple[Any, ...]]:
    con = duckdb.connect(str(warehouse))
    rows = con.execute(
        "select action_key, action_id, status, attempts, provider_message_id, error "
        "from ops.playbook_actions where channel = 'email'"
    ).fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def test_request_body_batches_personalizations(warehouse, ctx, fake_sendgrid) -> None:
    result = send(warehouse, ctx, fake_sendgrid)
    assert result["sent"] == 3 + 4 and result["channel"] == "sendgrid"
    # one request per language shape (en, ar, fa): each message differs only by substitutions
    assert len(fake_sendgrid.requests) == 3
    request = fake_sendgrid.requests[0]
    assert request["path"] == "/v3/mail/send"
    assert request["headers"]["Authorization"] == "Bearer SG.test-key"
    rows = email_rows(warehouse)
    for body in fake_sendgrid.bodies():
        assert body["asm"] == {"group_id": 4242}
        assert body["from"] == {"email": "cx@vendor.example", "name": "CX Team"}
        assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
        for p in body["personalizations"]:
            assert set(p["custom_args"]) == {"cxloop_action_id"}
            assert not any(x in str(p["custom_args"]) for x in PERSONAL)
            assert p["headers"]["X-Cxloop-Action-Id"] == p["custom_args"]["cxloop_action_id"]
        assert not any(name in body["content"][0]["value"] for name in ("Ana", "عمر", "سارا"))
    by_id = {v[0]: v for v in rows.values()}
    ar_body = next(b for b in fake_sendgrid.bodies() if 'lang="ar"' in b["content"][1]["value"])
    (p,) = ar_body["personalizations"]
    assert p["to"] == [{"email": "omar@acme.example"}]
    assert "عمر" in p["substitutions"].values()
    assert by_id[p["custom_args"]["cxloop_action_id"]][1:4] == ("sent", 1, "msg0002")


def test_two_recipients_with_the_same_template_share_one_request(
    warehouse, ctx, fake_sendgrid
) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.fct_survey_responses set language = 'en', open_text = 'Too slow'")
    con.close()
    send(warehouse, ctx, fake_sendgrid)
    (body,) = fake_sendgrid.bodies()
    assert sorted(p["to"][0]["email"] for p in body["personalizations"]) == [
        "ana@acme.example",
        "omar@acme.example",
        "sara@globex.example",
    ]
    ids = {p["custom_args"]["cxloop_action_id"] for p in body["personalizations"]}
    assert len(ids) == 3


def test_running_twice_sends_once(warehouse, ctx, fake_sendgrid) -> None:
    send(warehouse, ctx, fake_sendgrid)
    sent_before = len(fake_sendgrid.requests)
    again = send(warehouse, ctx, fake_sendgrid)
    assert again["sent"] == 0 and len(fake_sendgrid.requests) == sent_before


def test_429_and_500_are_retried_honouring_retry_after(warehouse, ctx, fake_sendgrid) -> None:
    fake_sendgrid.script = [
        (429, {"Retry-After": "7"}, {"errors": [{"message": "too many requests"}]}),
        (500, {}, {"errors": [{"message": "internal"}]}),
    ]
    sleeps: list[float] = []
    result = send(warehouse, ctx, fake_sendgrid, sleeps)
    assert sleeps == [7.0, 2.0]  # Retry-After, then exponential backoff
    assert result["sent"] == 7 and result["failed"] == 0
    assert all(
        r[1] == "sent" and r[2] == 1
        for k, r in email_rows(warehouse).items()
        if not k.endswith("R4:email")
    )


def test_rate_limit_reset_header_is_honoured(warehouse, ctx, fake_sendgrid) -> None:
    import time

    fake_sendgrid.script = [(429, {"X-RateLimit-Reset": str(int(time.time()) + 30)}, None)]
    sleeps: list[float] = []
    send(warehouse, ctx, fake_sendgrid, sleeps)
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


def test_persistent_5xx_gives_up_after_bounded_attempts(warehouse, ctx, fake_sendgrid) -> None:
    fake_sendgrid.script = [(503, {}, None)] * 3
    sleeps: list[float] = []
    result = send(warehouse, ctx, fake_sendgrid, sleeps)
    assert len(sleeps) == 2 and result["failed"] >= 1
    failed = [r for r in email_rows(warehouse).values() if r[1] == "failed"]
    assert failed and all("HTTP 503" in r[4] for r in failed)


def test_400_is_recorded_failed_with_sendgrids_message(warehouse, ctx, fake_sendgrid) -> None:
    fake_sendgrid.script = [
        (
            400,
            {},
            {
                "errors": [
                    {
                        "message": "The from address does not match a verified Sender Identity.",
                        "field": "from",
                        "help": None,
                    }
                ]
            },
        )
    ]
    sleeps: list[float] = []
    result = send(warehouse, ctx, fake_sendgrid, sleeps)
    assert sleeps == [] and result["failed"] == 1
    (failed,) = [r for r in email_rows(warehouse).values() if r[1] == "failed"]
    assert failed[4] == ("HTTP 400: The from address does not match a verified Sender Identity.")
    assert send(warehouse, ctx, fake_sendgrid)["sent"] == 0  # a failed key is not retried


def test_crash_between_send_and_record_leaves_unknown_and_nothing_is_resent(
    warehouse, ctx, fake_sendgrid
) -> None:
    def crash(results: Any) -> None:
        raise RuntimeError("killed after the HTTP call")

    with pytest.raises(RuntimeError):
        send(warehouse, ctx, fake_sendgrid, after_send=crash)
    # one request per shape (3), each marked sending on its own: the crash follows the first
    assert len(fake_sendgrid.requests) == 1
    sent_ids = {
        p["custom_args"]["cxloop_action_id"]
        for b in fake_sendgrid.bodies()
        for p in b["personalizations"]
    }
    result = send(warehouse, ctx, fake_sendgrid)
    assert result["unknown"] == 1 and set(result["unknown_action_ids"]) == sent_ids
    assert result["sent"] == 2 + 4  # the two requests never made, and the callbacks
    assert len(fake_sendgrid.requests) == 3  # nothing resent
    statuses = sorted(r[1] for r in email_rows(warehouse).values())
    assert statuses == ["sent", "sent", "suppressed", "unknown"]
    assert all("do not resend" in r[4] for r in email_rows(warehouse).values() if r[1] == "unknown")
    again = send(warehouse, ctx, fake_sendgrid)
    assert again["unknown"] == 0 and len(fake_sendgrid.requests) == 3  # reported once, left alone
