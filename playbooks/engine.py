"""Run playbooks: recover, plan, write the plan, then send, committing around every send.

The caller (the `act` flow) passes the connection, the channel, the run's context and the
quality-gate status; this package never reads settings or the environment itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import duckdb

from cxloop.playbooks import ledger
from cxloop.playbooks.channels import EmailChannel, OutgoingEmail, SendResult, write_callback_tasks
from cxloop.playbooks.notify import Mirror
from cxloop.playbooks.plan import PlanContext, plan_playbook
from cxloop.playbooks.render import Shape, TemplateRenderer
from cxloop.playbooks.spec import LoadedPlaybook

STATUSES = ("planned", "sent", "suppressed", "failed", "unknown", "skipped_by_guardrail")
AfterSend = Callable[[Sequence[SendResult]], None]


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One committed unit of ledger work."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise


def run_playbooks(
    con: duckdb.DuckDBPyConnection,
    playbooks: Sequence[LoadedPlaybook],
    *,
    renderer: TemplateRenderer,
    channel: EmailChannel,
    ctx: PlanContext,
    gate_ok: bool,
    dry_run: bool = False,
    after_send: AfterSend | None = None,
    mirrors: Sequence[Mirror] = (),
    source: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Counts per playbook and status; interrupted sends from earlier runs become unknown.

    `source` replaces the playbooks' trigger table (the in-the-moment path's received rows).
    """
    recovered: dict[str, list[str]] = {}
    if not dry_run:
        with transaction(con):
            ledger.ensure_tables(con)
            for playbook, action_id in ledger.mark_interrupted_unknown(
                con, [lp.spec.name for lp in playbooks], ctx.now_utc
            ):
                recovered.setdefault(playbook, []).append(action_id)
    return {
        lp.spec.name: run_playbook(
            con,
            lp,
            renderer=renderer,
            channel=channel,
            ctx=ctx,
            gate_ok=gate_ok,
            dry_run=dry_run,
            after_send=after_send,
            recovered=recovered.get(lp.spec.name, []),
            mirrors=mirrors,
            source=source,
        )
        for lp in playbooks
    }


def run_playbook(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedPlaybook,
    *,
    renderer: TemplateRenderer,
    channel: EmailChannel,
    ctx: PlanContext,
    gate_ok: bool,
    dry_run: bool = False,
    after_send: AfterSend | None = None,
    recovered: Sequence[str] = (),
    mirrors: Sequence[Mirror] = (),
    source: str | None = None,
) -> dict[str, Any]:
    """Plan one playbook, write its plan, then carry out every planned action."""
    counts: dict[str, Any] = dict.fromkeys(STATUSES, 0)
    counts.update(unknown=len(recovered), unknown_action_ids=list(recovered))
    counts.update(gate_blocked=False, dry_run=dry_run, channel=channel.name)
    if loaded.spec.guardrails.require_quality_gate and not gate_ok:
        counts["gate_blocked"] = True
        return counts
    plan = plan_playbook(con, loaded, renderer, ctx, source)
    plan.actions += mirrored_actions(plan.actions, mirrors)
    for action in plan.actions:
        counts[action.status] += 1
    counts["skipped_by_guardrail"] = plan.skipped_by_guardrail
    counts["skipped"] = dict(plan.skipped)
    if dry_run:
        counts["plan"] = [_summary(a) for a in plan.actions]
        return counts
    with transaction(con):
        ledger.insert_actions(con, plan.actions, ctx.now_utc)
    _send_emails(con, loaded.spec.name, channel, ctx, after_send, counts)
    _create_callbacks(con, loaded.spec.name, ctx, counts)
    for mirror in mirrors:
        _send_mirror(con, loaded.spec.name, mirror, ctx, counts)
    return counts


def mirrored_actions(
    actions: Sequence[ledger.PlannedAction], mirrors: Sequence[Mirror]
) -> list[ledger.PlannedAction]:
    """One extra ledger action per action a mirror wants (`<key>:<mirror name>`)."""
    extra = []
    for mirror in mirrors:
        for action in actions:
            if mirror.wants(action):
                key = f"{action.action_key}:{mirror.name}"
                extra.append(
                    ledger.PlannedAction(
                        ledger.action_id_for(key),
                        action.playbook,
                        key,
                        mirror.name,
                        action.recipient,
                        "planned",
                        mirror.payload(action),
                    )
                )
    return extra


MIRROR_BATCH = 50


def _send_mirror(
    con: duckdb.DuckDBPyConnection,
    playbook: str,
    mirror: Mirror,
    ctx: PlanContext,
    counts: dict[str, Any],
) -> None:
    """planned -> sending (commit) -> one POST each -> sent/failed/unknown (commit)."""
    todo = ledger.pending(con, playbook, mirror.name)
    per_status: dict[str, int] = counts.setdefault(mirror.name, {})
    for start in range(0, len(todo), MIRROR_BATCH):
        batch = todo[start : start + MIRROR_BATCH]
        with transaction(con):
            ledger.mark_sending(con, [action_id for action_id, _, _ in batch], ctx.now_utc)
        results = [mirror.send(action_id, payload) for action_id, _, payload in batch]
        with transaction(con):
            _record(con, results, ctx)
        for result in results:
            per_status[result.status] = per_status.get(result.status, 0) + 1
            if result.status == "unknown":
                counts["unknown"] += 1
                counts["unknown_action_ids"].append(result.action_id)


def _summary(action: ledger.PlannedAction) -> dict[str, Any]:
    return {
        "action_id": action.action_id,
        "action_key": action.action_key,
        "channel": action.channel,
        "recipient": action.recipient,
        "status": action.status,
        "error": action.error,
        "subject": action.payload.get("subject"),
    }


def _outgoing(playbook: str, action_id: str, payload: dict[str, Any]) -> OutgoingEmail:
    shape = Shape(**payload["shape"]) if payload.get("shape") else None
    return OutgoingEmail(
        action_id=action_id,
        to_email=payload["to"],
        subject=payload["subject"],
        text=payload["text"],
        html=payload["html"],
        unsubscribe_url=payload["unsubscribe_url"],
        category=playbook,
        shape=shape,
    )


def _send_emails(
    con: duckdb.DuckDBPyConnection,
    playbook: str,
    channel: EmailChannel,
    ctx: PlanContext,
    after_send: AfterSend | None,
    counts: dict[str, Any],
) -> None:
    """planned -> sending (commit) -> send -> sent/failed/unknown (commit), batch by batch.

    A batch is what the channel sends at once (SendGrid: one request), so a kill leaves in
    `sending`, and then `unknown`, only the messages that may be in flight.
    """
    todo = [_outgoing(playbook, i, p) for i, _, p in ledger.pending(con, playbook, "email")]
    for batch in channel.batches(todo):
        with transaction(con):
            ledger.mark_sending(con, [m.action_id for m in batch], ctx.now_utc)
        results = channel.send(batch)
        if after_send is not None:
            after_send(results)
        with transaction(con):
            _record(con, results, ctx)
        for result in results:
            counts[result.status] += 1
            if result.status == "unknown":
                counts["unknown_action_ids"].append(result.action_id)


def _record(
    con: duckdb.DuckDBPyConnection, results: Sequence[SendResult], ctx: PlanContext
) -> None:
    """One batch's outcomes and outbox rows, set-based (no statement per message)."""
    ledger.record_outcomes(
        con,
        [ledger.Outcome(r.action_id, r.status, r.provider_message_id, r.error) for r in results],
        ctx.now_utc,
    )
    written = [r for r in results if r.status == "sent" and r.outbox_path]
    if written:
        con.executemany(
            "insert into ops.outbox values (?, ?, ?, ?, ?, ?)",
            [
                [
                    r.action_id,
                    r.provider_message_id,
                    r.recipient,
                    r.subject,
                    r.outbox_path,
                    ctx.now_utc,
                ]
                for r in written
            ],
        )


def _create_callbacks(
    con: duckdb.DuckDBPyConnection, playbook: str, ctx: PlanContext, counts: dict[str, Any]
) -> None:
    """Callback tasks are rows in our own warehouse: task and ledger commit together."""
    todo = ledger.pending(con, playbook, "callback")
    if not todo:
        return
    with transaction(con):
        write_callback_tasks(con, todo, ctx.now_utc)
        ledger.record_outcomes(
            con, [ledger.Outcome(action_id, "sent") for action_id, _, _ in todo], ctx.now_utc
        )
    counts["sent"] += len(todo)
