"""Planning: run a playbook's trigger, apply its key and guardrails, render its messages.

Planning reads the warehouse and decides; it writes nothing (the engine writes the plan).

Over 400 lines on purpose: trigger, key, guardrails and rendering are one planning pass.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from cxloop.playbooks import ledger
from cxloop.playbooks.ledger import PlannedAction
from cxloop.playbooks.render import RenderError, TemplateRenderer
from cxloop.playbooks.spec import (
    CallbackTaskAction,
    CsmDigestAction,
    EmailAction,
    LoadedPlaybook,
    PlaybookError,
    QuietHours,
    key_fields,
)


@dataclass(frozen=True)
class PlanContext:
    """What a run knows besides the warehouse: the time, links, and calendar."""

    now: datetime
    unsubscribe_url: str = "https://example.com/unsubscribe?c={action_id}"
    postal_address: str = ""
    company: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    playbook_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holidays: frozenset[date] = frozenset()
    business_timezone: str = "UTC"
    business_start: time = time(9, 0)
    business_end: time = time(17, 0)
    callback_queue: str | None = None  # owner of a callback when the row has no CSM

    @property
    def now_utc(self) -> datetime:
        """Naive UTC, the form timestamps take in the warehouse."""
        return self.now.astimezone(UTC).replace(tzinfo=None)

    def params_for(self, playbook: str) -> dict[str, Any]:
        """The run's parameters for one playbook: global ones, then the playbook's own."""
        return {**self.params, **self.playbook_params.get(playbook, {})}


@dataclass
class Plan:
    playbook: str
    actions: list[PlannedAction]
    skipped: Counter[str]

    @property
    def skipped_by_guardrail(self) -> int:
        return sum(self.skipped.values())


def trigger_rows(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedPlaybook,
    params: dict[str, Any],
    source: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows that call for action, as dicts; errors name the playbook file and key.

    `source` replaces `trigger.source` (same columns, e.g. a temporary table of responses
    received by webhook); joins, `where` and everything after apply unchanged. `$now` in the
    SQL is the run's clock (naive UTC, like the warehouse's timestamps).
    """
    trigger, file = loaded.spec.trigger, loaded.file
    if source is not None and trigger.source is None:
        raise PlaybookError(f"{file}: key 'trigger.source': needed to act on received rows")
    if trigger.query is not None:
        sql, key = f"select * from ({trigger.query}) as trigger_rows", "trigger.query"
    else:
        sql, key = _source_sql(con, loaded, source), "trigger.where"
    used = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    values = {**trigger.params, **{k: v for k, v in params.items() if k in trigger.params}}
    if now is not None and "now" not in trigger.params:
        values["now"] = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    missing = used - set(values)
    if missing:
        raise PlaybookError(f"{file}: key 'trigger.params': no value for {sorted(missing)}")
    try:
        cursor = con.execute(sql, {k: values[k] for k in used}) if used else con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as exc:
        raise PlaybookError(f"{file}: key '{key}': the trigger SQL failed: {exc}") from exc


def _columns(con: duckdb.DuckDBPyConnection, table: str, file: object, key: str) -> list[str]:
    try:
        return [d[0] for d in con.execute(f"select * from {table} limit 0").description]
    except duckdb.Error as exc:
        raise PlaybookError(f"{file}: key '{key}': table {table} not found ({exc})") from exc


def _source_sql(
    con: duckdb.DuckDBPyConnection, loaded: LoadedPlaybook, source: str | None = None
) -> str:
    trigger, file = loaded.spec.trigger, loaded.file
    assert trigger.source is not None
    table = source or trigger.source
    have = set(_columns(con, table, file, "trigger.source"))
    select, joins = ["t.*"], []
    for i, join in enumerate(trigger.joins):
        where = f"trigger.joins.{i}"
        theirs = set(_columns(con, join.table, file, f"{where}.table"))
        for col in join.using:
            if col not in have or col not in theirs:
                raise PlaybookError(
                    f"{file}: key '{where}.using': column {col!r} not in both tables"
                )
        for col in join.columns:
            if col not in theirs:
                raise PlaybookError(f"{file}: key '{where}.columns': {join.table} has no {col!r}")
            if col in have:
                raise PlaybookError(f"{file}: key '{where}.columns': {col!r} is already a column")
            have.add(col)
            select.append(f'j{i}."{col}"')
        cond = " and ".join(f't."{c}" = j{i}."{c}"' for c in join.using)
        joins.append(f"left join {join.table} as j{i} on {cond}")
    inner = f"select {', '.join(select)} from {table} as t {' '.join(joins)}"
    return f"select * from ({inner}) as trigger_rows where ({trigger.where or 'true'})"


def required_columns(loaded: LoadedPlaybook) -> dict[str, str]:
    """Column -> the playbook key that names it, for a clear error when one is missing."""
    spec = loaded.spec
    needed = {col: "key" for col in key_fields(spec.key)}
    for i, a in enumerate(spec.actions):
        where = f"actions.{i}"
        if isinstance(a, EmailAction | CsmDigestAction):
            needed[a.to] = f"{where}.to"
            if a.locale_from:
                needed[a.locale_from] = f"{where}.locale_from"
        if isinstance(a, EmailAction) and a.opted_out_from:
            needed[a.opted_out_from] = f"{where}.opted_out_from"
        if isinstance(a, CsmDigestAction) and a.name_from:
            needed[a.name_from] = f"{where}.name_from"
        if isinstance(a, CallbackTaskAction):
            needed[a.assignee_from] = f"{where}.assignee_from"
            needed.update({c: f"{where}.reason" for c in key_fields(a.reason)})
    quiet = spec.guardrails.quiet_hours
    if quiet and quiet.timezone_from:
        needed[quiet.timezone_from] = "guardrails.quiet_hours.timezone_from"
    return needed


def _check_columns(loaded: LoadedPlaybook, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    for col, key in required_columns(loaded).items():
        if col not in rows[0]:
            raise PlaybookError(
                f"{loaded.file}: key '{key}': the trigger rows have no column {col!r} "
                f"(they have: {', '.join(rows[0])})"
            )


def in_quiet_hours(quiet: QuietHours, row: dict[str, Any], now: datetime) -> bool:
    """Whether it is quiet time in the recipient's zone (column, else the default zone)."""
    zone_name = row.get(quiet.timezone_from) if quiet.timezone_from else None
    try:
        zone = ZoneInfo(str(zone_name)) if zone_name else ZoneInfo(quiet.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(quiet.default_timezone)
    local = now.astimezone(zone).time()
    if quiet.start <= quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end


def add_business_days(
    start: date, days: int, workdays: frozenset[int], holidays: frozenset[date]
) -> date:
    """The date `days` working days after start (weekends and holidays skipped)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() in workdays and current not in holidays:
            left -= 1
    return current


def add_business_hours(start: datetime, hours: float, ctx: PlanContext) -> datetime:
    """The moment `hours` of business time after `start` (aware), in UTC.

    Business time runs from ctx.business_start to business_end on working days (not holidays),
    in ctx.business_timezone; the clock starts at the next opening when `start` is outside it.
    """
    zone = ZoneInfo(ctx.business_timezone)
    local = start.astimezone(zone)
    left = timedelta(hours=hours)
    day = local.date()
    while True:
        if day.weekday() in ctx.workdays and day not in ctx.holidays:
            opens = datetime.combine(day, ctx.business_start, zone)
            closes = datetime.combine(day, ctx.business_end, zone)
            begin = max(opens, local)
            if begin < closes:
                if begin + left <= closes:
                    return (begin + left).astimezone(UTC)
                left -= closes - begin
        day += timedelta(days=1)


def business_day_hours(ctx: PlanContext) -> float:
    """Hours in one business day (business_end - business_start)."""
    minutes = (ctx.business_end.hour - ctx.business_start.hour) * 60
    return (minutes + ctx.business_end.minute - ctx.business_start.minute) / 60


def _address(value: Any) -> str | None:
    text = str(value).strip().lower() if value is not None else ""
    return text or None


class _Guard:
    """The per-run guardrail state: cooldown, quiet hours, max per run, suppression."""

    def __init__(self, con: duckdb.DuckDBPyConnection, loaded: LoadedPlaybook, ctx: PlanContext):
        self.rails = loaded.spec.guardrails
        self.now = ctx.now
        self.skipped: Counter[str] = Counter()
        self.acted = 0
        self.suppressed = (
            ledger.suppressed_addresses(con) if self.rails.respect_suppressions else set()
        )
        self.recent: set[str] = set()
        if self.rails.cooldown_hours:
            since = ctx.now_utc - timedelta(hours=self.rails.cooldown_hours)
            self.recent = ledger.recently_contacted(con, "email", since)

    def suppression(self, recipient: str, opted_out: Any) -> str | None:
        """Why this address must not be e-mailed, or None."""
        if not self.rails.respect_suppressions:
            return None
        if recipient in self.suppressed:
            return "address is on the suppression list"
        if opted_out is True or str(opted_out).strip().lower() in {"true", "1", "yes"}:
            return "customer opted out of e-mail"
        return None

    def defer_reason(self, recipient: str | None, row: dict[str, Any]) -> str | None:
        """Why a message to this recipient waits for a later run, or None."""
        if recipient and recipient in self.recent:
            return "cooldown"
        quiet = self.rails.quiet_hours
        if recipient and quiet and in_quiet_hours(quiet, row, self.now):
            return "quiet_hours"
        if self.rails.max_per_run is not None and self.acted >= self.rails.max_per_run:
            return "max_per_run"
        return None

    def accept(self, recipient: str | None) -> None:
        self.acted += 1
        if recipient and self.rails.cooldown_hours:
            self.recent.add(recipient)


def plan_playbook(
    con: duckdb.DuckDBPyConnection,
    loaded: LoadedPlaybook,
    renderer: TemplateRenderer,
    ctx: PlanContext,
    source: str | None = None,
) -> Plan:
    """Decide this run's new actions for one playbook (keys already in the ledger are skipped)."""
    rows = trigger_rows(con, loaded, ctx.params_for(loaded.spec.name), source, ctx.now)
    _check_columns(loaded, rows)
    known = ledger.known_keys(con, loaded.spec.name)
    guard = _Guard(con, loaded, ctx)
    if isinstance(loaded.spec.actions[0], CsmDigestAction):
        actions = _plan_digests(loaded, rows, known, guard, renderer, ctx)
    else:
        actions = _plan_rows(loaded, rows, known, guard, renderer, ctx)
    return Plan(loaded.spec.name, actions, guard.skipped)


def _plan_rows(
    loaded: LoadedPlaybook,
    rows: list[dict[str, Any]],
    known: set[str],
    guard: _Guard,
    renderer: TemplateRenderer,
    ctx: PlanContext,
) -> list[PlannedAction]:
    spec = loaded.spec
    types = Counter(a.type for a in spec.actions)
    keyed = sorted(((spec.key.format(**row), row) for row in rows), key=lambda kr: kr[0])
    planned: list[PlannedAction] = []
    for row_key, row in keyed:
        todo = []
        for i, action in enumerate(spec.actions):
            suffix = action.type if types[action.type] == 1 else f"{action.type}{i}"
            action_key = f"{row_key}:{suffix}"
            if action_key not in known:
                todo.append((action, action_key))
                known.add(action_key)
        if not todo:
            continue
        email = next((a for a, _ in todo if isinstance(a, EmailAction)), None)
        recipient = _address(row.get(email.to)) if email else None
        blocked = None
        if email and recipient:
            opted_out = row.get(email.opted_out_from) if email.opted_out_from else None
            blocked = guard.suppression(recipient, opted_out)
        reason = None if blocked else guard.defer_reason(recipient, row)
        if reason:
            guard.skipped[reason] += 1
            for _, action_key in todo:
                known.discard(action_key)
            continue
        if not blocked:
            guard.accept(recipient)
        for action, action_key in todo:
            if isinstance(action, EmailAction):
                planned.append(_email(spec.name, action, action_key, row, blocked, renderer, ctx))
            else:
                planned.append(_callback(spec.name, action, action_key, row, ctx))
            _add_refs(planned[-1], row)
    return planned


REF_COLUMNS = ("response_id",)


def _add_refs(action: PlannedAction, row: dict[str, Any]) -> None:
    """Keep the trigger row's survey response id, so outcomes can be joined back (loop closure)."""
    for column in REF_COLUMNS:
        if row.get(column) is not None:
            action.payload[column] = str(row[column])


def _email(
    playbook: str,
    action: EmailAction,
    action_key: str,
    row: dict[str, Any],
    blocked: str | None,
    renderer: TemplateRenderer,
    ctx: PlanContext,
) -> PlannedAction:
    action_id = ledger.action_id_for(action_key)
    recipient = _address(row.get(action.to))
    planned = PlannedAction(action_id, playbook, action_key, "email", recipient, "planned", {})
    if recipient is None:
        planned.status, planned.error = "failed", f"column {action.to!r} is empty: no address"
        return planned
    if blocked:
        planned.status, planned.error = "suppressed", blocked
        return planned
    locale = row.get(action.locale_from) if action.locale_from else None
    planned.payload, planned.error = _render(
        renderer, action.template, locale, action.default_locale, row, action_id, recipient, ctx
    )
    if planned.error:
        planned.status = "failed"
    return planned


def _render(
    renderer: TemplateRenderer,
    template: str,
    locale: Any,
    default_locale: str,
    values: dict[str, Any],
    action_id: str,
    recipient: str,
    ctx: PlanContext,
    *,
    shape: bool = True,
) -> tuple[dict[str, Any], str | None]:
    """The e-mail payload (rendered message) or the render error."""
    unsubscribe_url = ctx.unsubscribe_url.format(action_id=action_id)
    context = {
        **values,
        "action_id": action_id,
        "unsubscribe_url": unsubscribe_url,
        "postal_address": ctx.postal_address,
        "company": ctx.company,
    }
    try:
        message = renderer.render(
            template, str(locale) if locale else None, context, default_locale
        )
    except RenderError as exc:
        return {"template": template, "to": recipient}, f"template failed: {exc}"
    shaped = renderer.shape(template, message, context) if shape else None
    payload = {
        "template": template,
        "locale": message.locale,
        "to": recipient,
        "unsubscribe_url": unsubscribe_url,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "shape": shaped.__dict__ if shaped else None,
    }
    return payload, None


def _callback(
    playbook: str,
    action: CallbackTaskAction,
    action_key: str,
    row: dict[str, Any],
    ctx: PlanContext,
) -> PlannedAction:
    action_id = ledger.action_id_for(action_key)
    assignee = _address(row.get(action.assignee_from))
    owner_source = "csm"
    if assignee is None and ctx.callback_queue:
        assignee, owner_source = _address(ctx.callback_queue), "queue"
    planned = PlannedAction(action_id, playbook, action_key, "callback", assignee, "planned", {})
    if assignee is None:
        planned.status = "failed"
        planned.error = (
            f"column {action.assignee_from!r} is empty and no callbacks.queue is configured: "
            "no one to assign"
        )
        return planned
    hours = action.due_in_business_hours
    if hours is None:
        hours = action.due_in_business_days * business_day_hours(ctx)
    due_at = add_business_hours(ctx.now, hours, ctx)
    planned.payload = {
        "assignee_email": assignee,
        "owner_source": owner_source,
        "account_id": _text(row.get("account_id")),
        "customer_id": _text(row.get("customer_id")),
        "due_date": due_at.astimezone(ZoneInfo(ctx.business_timezone)).date().isoformat(),
        "due_at": due_at.replace(tzinfo=None).isoformat(sep=" "),
        "reason": action.reason.format(**row),
    }
    return planned


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _plan_digests(
    loaded: LoadedPlaybook,
    rows: list[dict[str, Any]],
    known: set[str],
    guard: _Guard,
    renderer: TemplateRenderer,
    ctx: PlanContext,
) -> list[PlannedAction]:
    """One digest per recipient listing that recipient's rows not yet alerted on."""
    spec = loaded.spec
    action = spec.actions[0]
    assert isinstance(action, CsmDigestAction)
    by_recipient: dict[str | None, list[tuple[str, dict[str, Any]]]] = {}
    for row in rows:
        item_key = spec.key.format(**row)
        if item_key not in known:
            by_recipient.setdefault(_address(row.get(action.to)), []).append((item_key, row))
    planned: list[PlannedAction] = []
    for recipient, items in sorted(by_recipient.items(), key=lambda kv: kv[0] or ""):
        if recipient is None:
            guard.skipped["no_recipient"] += 1
            continue
        items.sort(key=lambda kr: kr[0])
        item_keys = [k for k, _ in items]
        digest = hashlib.sha256("\n".join(item_keys).encode()).hexdigest()[:12]
        action_key = f"{spec.name}:digest:{recipient}:{digest}"
        blocked = guard.suppression(recipient, None)
        reason = None if blocked else guard.defer_reason(recipient, items[0][1])
        if reason:
            guard.skipped[reason] += 1
            continue
        guard.accept(recipient)
        action_id = ledger.action_id_for(action_key)
        first = items[0][1]
        p = PlannedAction(
            action_id,
            spec.name,
            action_key,
            "email",
            recipient,
            "planned",
            {},
            item_keys=item_keys,
        )
        if blocked:
            p.status, p.error = "suppressed", blocked
        else:
            values = {
                "items": [r for _, r in items],
                "recipient_name": first.get(action.name_from) if action.name_from else None,
                "recipient_email": recipient,
            }
            locale = first.get(action.locale_from) if action.locale_from else None
            p.payload, p.error = _render(
                renderer,
                action.template,
                locale,
                action.default_locale,
                values,
                action_id,
                recipient,
                ctx,
                shape=False,
            )
            p.status = "failed" if p.error else "planned"
        planned.append(p)
    return planned
