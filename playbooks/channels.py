"""Where actions go: the local outbox (.eml files), SendGrid v3 mail/send, callback tasks."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import python_http_client.exceptions as http_errors
import sendgrid
from sendgrid.helpers.mail import (
    Asm,
    Category,
    Content,
    CustomArg,
    From,
    GroupId,
    Header,
    Mail,
    Personalization,
    Subject,
    Substitution,
    To,
)

from cxloop.playbooks.render import Shape

SENDGRID_MAX_PERSONALIZATIONS = 1000


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered message to one recipient, tied to its ledger row."""

    action_id: str
    to_email: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    category: str
    shape: Shape | None = None


@dataclass(frozen=True)
class SendResult:
    action_id: str
    status: str  # sent / failed / unknown
    provider_message_id: str | None = None
    error: str | None = None
    outbox_path: str | None = None
    subject: str | None = None
    recipient: str | None = None


class EmailChannel(Protocol):
    name: str
    batch_size: int

    def batches(self, messages: Sequence[OutgoingEmail]) -> list[list[OutgoingEmail]]: ...

    def send(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]: ...


def chunks(messages: Sequence[OutgoingEmail], size: int) -> list[list[OutgoingEmail]]:
    """The messages in order, `size` at a time."""
    return [list(messages[i : i + size]) for i in range(0, len(messages), size)]


class OutboxChannel:
    """Writes one RFC 5322 .eml file per message into a folder (the offline default)."""

    name = "outbox"
    batch_size = 200

    def __init__(self, folder: Path, email_from: str, email_from_name: str) -> None:
        self.folder = Path(folder)
        self.email_from = email_from
        self.email_from_name = email_from_name

    def batches(self, messages: Sequence[OutgoingEmail]) -> list[list[OutgoingEmail]]:
        """`batch_size` files at a time: each is written whole or not at all."""
        return chunks(messages, self.batch_size)

    def send(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        """Write each message atomically (temp name, then rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return [self._write(m) for m in messages]

    def build(self, message: OutgoingEmail) -> EmailMessage:
        """The multipart/alternative (text + HTML) message with our headers."""
        msg = EmailMessage()
        msg["From"] = formataddr((self.email_from_name, self.email_from))
        msg["To"] = message.to_email
        msg["Subject"] = message.subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        domain = self.email_from.rpartition("@")[2] or "cxloop.local"
        msg["Message-ID"] = make_msgid(idstring=message.action_id[:8], domain=domain)
        msg["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["X-Cxloop-Action-Id"] = message.action_id
        msg.set_content(message.text, charset="utf-8")
        msg.add_alternative(message.html, subtype="html", charset="utf-8")
        return msg

    def _write(self, message: OutgoingEmail) -> SendResult:
        msg = self.build(message)
        final = self.folder / f"{message.action_id}.eml"
        tmp = final.with_suffix(".eml.tmp")
        tmp.write_bytes(msg.as_bytes(policy=SMTP.clone(max_line_length=998)))
        os.replace(tmp, final)
        return SendResult(
            message.action_id,
            "sent",
            str(msg["Message-ID"]),
            outbox_path=str(final),
            subject=message.subject,
            recipient=message.to_email,
        )


class SendGridChannel:
    """SendGrid v3 mail/send through the official client, batched personalizations.

    Messages whose content differs only by substituted values share one request (one
    personalization each, with its own substitutions); others go in a request of their own.
    """

    name = "sendgrid"
    batch_size = SENDGRID_MAX_PERSONALIZATIONS

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.sendgrid.com",
        email_from: str,
        email_from_name: str,
        unsubscribe_group: int | None = None,
        max_attempts: int = 5,
        max_delay_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("SendGrid needs an API key (CXLOOP_SENDGRID_API_KEY)")
        self.client = sendgrid.SendGridAPIClient(api_key=api_key, host=base_url.rstrip("/"))
        self.client.client.timeout = timeout_seconds
        self.email_from, self.email_from_name = email_from, email_from_name
        self.unsubscribe_group = unsubscribe_group
        self.max_attempts, self.max_delay, self.sleep = max_attempts, max_delay_seconds, sleep

    def batches(self, messages: Sequence[OutgoingEmail]) -> list[list[OutgoingEmail]]:
        """One batch per request: a group of identical content, at most 1,000 recipients.

        The engine marks one batch `sending` at a time, so a crash leaves only the messages of
        the one request in flight with an unknown outcome.
        """
        return [
            batch
            for group in group_by_content(messages)
            for batch in chunks(group, SENDGRID_MAX_PERSONALIZATIONS)
        ]

    def send(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        """One request per group of identical content, at most 1,000 recipients each."""
        results: list[SendResult] = []
        for group in group_by_content(messages):
            for start in range(0, len(group), SENDGRID_MAX_PERSONALIZATIONS):
                results.extend(
                    self._send_request(group[start : start + SENDGRID_MAX_PERSONALIZATIONS])
                )
        return results

    def build(self, group: Sequence[OutgoingEmail]) -> Mail:
        """The v3 body: shared content, one personalization per recipient."""
        first = group[0]
        content = first.shape or Shape(first.subject, first.text, first.html, {})
        mail = Mail(from_email=From(self.email_from, self.email_from_name))
        mail.subject = Subject(content.subject)
        mail.add_content(Content("text/plain", content.text))
        mail.add_content(Content("text/html", content.html))
        mail.add_category(Category(first.category))
        if self.unsubscribe_group is not None:
            mail.asm = Asm(GroupId(self.unsubscribe_group))
        return mail

    def request_body(self, group: Sequence[OutgoingEmail]) -> dict[str, Any]:
        """The JSON body: the helper-built shared part, plus one personalization per message.

        Personalizations are plain dicts of exactly the helper's output: building a helper
        object (and parsing its address) per recipient was most of the time of a large send.
        """
        body = self.build(group).get()
        body["personalizations"] = [_personalization_json(m) for m in group]
        return body

    def _send_request(self, group: Sequence[OutgoingEmail]) -> list[SendResult]:
        body = self.request_body(group)
        ids = [m.action_id for m in group]
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self.client.send(body)
            except http_errors.HTTPError as exc:
                if not _retryable(exc.status_code) or attempt == self.max_attempts:
                    return [SendResult(i, "failed", error=_error_text(exc)) for i in ids]
                self.sleep(self._delay(exc.headers, attempt))
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, ConnectionRefusedError):
                    # the request may have reached SendGrid: never guess, never resend
                    return [SendResult(i, "unknown", error=f"network: {exc.reason}") for i in ids]
                if attempt == self.max_attempts:
                    return [SendResult(i, "failed", error=f"network: {exc.reason}") for i in ids]
                self.sleep(self._delay(None, attempt))
            except TimeoutError as exc:
                return [SendResult(i, "unknown", error=f"timeout: {exc}") for i in ids]
            else:
                message_id = response.headers.get("X-Message-Id")
                return [SendResult(i, "sent", provider_message_id=message_id) for i in ids]
        raise AssertionError("unreachable")

    def _delay(self, headers: Any, attempt: int) -> float:
        """Retry-After (seconds), else X-RateLimit-Reset (epoch), else exponential backoff."""
        delay = float(2 ** (attempt - 1))
        if headers is not None:
            retry_after = headers.get("Retry-After")
            reset = headers.get("X-RateLimit-Reset")
            if retry_after and str(retry_after).strip().isdigit():
                delay = float(retry_after)
            elif reset and str(reset).strip().isdigit():
                delay = max(0.0, float(reset) - time.time())
        return min(delay, self.max_delay)


def personalization(message: OutgoingEmail) -> Personalization:
    """One recipient's personalization as a sendgrid helper object (reference shape)."""
    p = Personalization()
    p.add_to(To(message.to_email))
    p.add_custom_arg(CustomArg("cxloop_action_id", message.action_id))
    p.add_header(Header("List-Unsubscribe", f"<{message.unsubscribe_url}>"))
    p.add_header(Header("X-Cxloop-Action-Id", message.action_id))
    for tag, value in (message.shape.substitutions if message.shape else {}).items():
        p.add_substitution(Substitution(tag, value))
    return p


def _personalization_json(message: OutgoingEmail) -> dict[str, Any]:
    """What `personalization(message).get()` returns, built directly."""
    p: dict[str, Any] = {
        "to": [{"email": message.to_email}],
        "headers": {
            "List-Unsubscribe": f"<{message.unsubscribe_url}>",
            "X-Cxloop-Action-Id": message.action_id,
        },
        "custom_args": {"cxloop_action_id": message.action_id},
    }
    substitutions = message.shape.substitutions if message.shape else {}
    if substitutions:
        p["substitutions"] = dict(substitutions)
    return p


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _error_text(exc: http_errors.HTTPError) -> str:
    """SendGrid's own error messages (`errors[].message`), else the HTTP reason."""
    raw = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
    try:
        messages = [e.get("message", "") for e in json.loads(raw).get("errors", [])]
    except (ValueError, AttributeError):
        messages = []
    detail = "; ".join(m for m in messages if m) or raw[:500] or str(exc.reason)
    return f"HTTP {exc.status_code}: {detail}"


def group_by_content(messages: Sequence[OutgoingEmail]) -> list[list[OutgoingEmail]]:
    """Messages that can share one request: same shaped content, or same full content."""
    groups: dict[tuple[str, ...], list[OutgoingEmail]] = {}
    for m in messages:
        if m.shape is not None:
            key = ("shape", m.category, m.shape.subject, m.shape.text, m.shape.html)
        else:
            key = ("full", m.category, m.subject, m.text, m.html)
        groups.setdefault(key, []).append(m)
    return list(groups.values())


def callback_task_id(action_id: str) -> str:
    """The task id of a callback action: a UUID5, so the same action makes the same task."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"cxloop-callback:{action_id}"))


def write_callback_tasks(
    con: duckdb.DuckDBPyConnection,
    todo: Sequence[tuple[str, str | None, dict[str, Any]]],
    now: datetime,
) -> None:
    """Create the open callback tasks of many actions (action_id, recipient, payload) at once,
    each with its `opened` event (ops.callback_events), in the caller's transaction."""
    if not todo:
        return
    text_columns = {
        "task_id": [callback_task_id(action_id) for action_id, _, _ in todo],
        "action_id": [action_id for action_id, _, _ in todo],
        **{
            name: [payload.get(name) for _, _, payload in todo]
            for name in ("account_id", "customer_id", "assignee_email", "due_date", "reason")
        },
        "due_at": [payload.get("due_at") for _, _, payload in todo],
        "owner_source": [payload.get("owner_source", "csm") for _, _, payload in todo],
    }
    frame = pa.table(
        {
            **{n: pa.array(v, type=pa.string()) for n, v in text_columns.items()},
            "created_at": pa.array([now] * len(todo), type=pa.timestamp("us")),
        }
    )
    con.register("_new_callbacks", frame)
    try:
        con.execute(
            "insert into ops.callback_tasks (task_id, action_id, account_id, customer_id, "
            "assignee_email, due_date, reason, created_at, status, due_at, owner_source) "
            "select task_id, action_id, account_id, customer_id, assignee_email, "
            "cast(due_date as date), reason, created_at, 'open', cast(due_at as timestamp), "
            "owner_source from _new_callbacks"
        )
        con.execute(
            "insert into ops.callback_events (event_id, task_id, event_type, status, "
            "occurred_at, source, actor, recorded_at) "
            "select task_id || ':opened', task_id, 'opened', 'open', created_at, 'act', "
            "assignee_email, created_at from _new_callbacks"
        )
    finally:
        con.unregister("_new_callbacks")
