"""Mirrors: an action that is also carried out in another system (Zendesk ticket, Slack post).

A mirror gets its own ledger row (`<action key>:<mirror>`, channel = the mirror's name), so it
follows the same planned -> sending -> sent/failed/unknown path and is never done twice.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from cxloop.playbooks.channels import SendResult
from cxloop.playbooks.ledger import PlannedAction


class Mirror(Protocol):
    name: str

    def wants(self, action: PlannedAction) -> bool: ...

    def payload(self, action: PlannedAction) -> dict[str, Any]: ...

    def send(self, action_id: str, payload: dict[str, Any]) -> SendResult: ...


class HttpPoster:
    """POST JSON with retries on 429/5xx (Retry-After honoured) and refused connections.

    A timeout or a dropped connection after the request left is `unknown`: never resent.
    """

    def __init__(
        self,
        max_attempts: int = 4,
        timeout_seconds: float = 30.0,
        max_delay_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_attempts, self.timeout = max_attempts, timeout_seconds
        self.max_delay, self.sleep = max_delay_seconds, sleep

    def post(
        self,
        action_id: str,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        read_id: Callable[[bytes], str | None],
    ) -> SendResult:
        """One logical POST; the result carries the remote id read from the response body."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(1, self.max_attempts + 1):
            request = urllib.request.Request(
                url,
                data=data,
                method="POST",
                headers={"Content-Type": "application/json", **headers},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return SendResult(
                        action_id, "sent", provider_message_id=read_id(response.read())
                    )
            except urllib.error.HTTPError as exc:
                detail = f"HTTP {exc.code}: {_error_text(exc.read())}"
                if not (exc.code == 429 or exc.code >= 500) or attempt == self.max_attempts:
                    return SendResult(action_id, "failed", error=detail)
                self.sleep(self._delay(exc.headers.get("Retry-After"), attempt))
            except urllib.error.URLError as exc:
                if not isinstance(exc.reason, ConnectionRefusedError):
                    return SendResult(action_id, "unknown", error=f"network: {exc.reason}")
                if attempt == self.max_attempts:
                    return SendResult(action_id, "failed", error=f"network: {exc.reason}")
                self.sleep(self._delay(None, attempt))
            except (TimeoutError, ConnectionError) as exc:
                return SendResult(action_id, "unknown", error=f"network: {exc!r}")
        raise AssertionError("unreachable")

    def _delay(self, retry_after: str | None, attempt: int) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay)
        return min(float(2 ** (attempt - 1)), self.max_delay)


def _error_text(raw: bytes) -> str:
    """The service's own error words (Zendesk `error`/`description`, Slack plain text)."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300] or "no detail"
    if isinstance(body, dict):
        parts = [body.get("error"), body.get("description"), body.get("details")]
        words = "; ".join(p if isinstance(p, str) else json.dumps(p) for p in parts if p)
        return words[:300] or text[:300]
    return text[:300]


class ZendeskTickets:
    """A Zendesk task ticket for every callback task (POST /api/v2/tickets.json)."""

    name = "zendesk"

    def __init__(
        self,
        subdomain: str,
        email: str,
        token: str,
        *,
        base_url: str | None = None,
        poster: HttpPoster | None = None,
    ) -> None:
        if not token:
            raise ValueError("Zendesk needs an API token")
        self.url = (base_url or f"https://{subdomain}.zendesk.com").rstrip("/")
        self.url += "/api/v2/tickets.json"
        credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}"}
        self.poster = poster or HttpPoster()

    def wants(self, action: PlannedAction) -> bool:
        """Callback tasks that will be created (not those failed at planning)."""
        return action.channel == "callback" and action.status == "planned"

    def payload(self, action: PlannedAction) -> dict[str, Any]:
        """The ticket: an internal task assigned to the CSM, due on the callback's due date."""
        p = action.payload
        lines = [
            p.get("reason") or "Callback",
            f"Account: {p.get('account_id') or '-'}",
            f"Customer: {p.get('customer_id') or '-'}",
            f"Survey response: {p.get('response_id') or '-'}",
            f"Due: {p['due_date']}",
            f"cxloop action: {action.action_id}",
        ]
        return {
            "ticket": {
                "subject": p.get("reason") or f"{action.playbook} callback",
                "comment": {"body": "\n".join(lines), "public": False},
                "type": "task",
                "due_at": _zendesk_due_at(p),
                "priority": "normal",
                "assignee_email": p["assignee_email"],
                "external_id": action.action_id,
                "tags": ["cxloop", action.playbook],
            }
        }

    def send(self, action_id: str, payload: dict[str, Any]) -> SendResult:
        """Create the ticket; the Idempotency-Key makes a retried POST create it once."""
        headers = {**self.headers, "Idempotency-Key": action_id}
        return self.poster.post(action_id, self.url, payload, headers, _zendesk_ticket_id)


def _zendesk_due_at(payload: dict[str, Any]) -> str:
    """The task's due time in UTC (ISO 8601 with Z); 17:00 UTC of the due date for old rows."""
    if payload.get("due_at"):
        return str(payload["due_at"]).replace(" ", "T") + "Z"
    return f"{payload['due_date']}T17:00:00Z"


def _zendesk_ticket_id(raw: bytes) -> str | None:
    try:
        return str(json.loads(raw)["ticket"]["id"])
    except (ValueError, KeyError, TypeError):
        return None


class SlackAlerts:
    """CSM digests also posted to a Slack-compatible incoming webhook ({"text": ...})."""

    name = "slack"

    def __init__(self, webhook_url: str, *, poster: HttpPoster | None = None) -> None:
        if not webhook_url:
            raise ValueError("Slack needs an incoming webhook URL")
        self.url = webhook_url
        self.poster = poster or HttpPoster()

    def wants(self, action: PlannedAction) -> bool:
        """Digest e-mails to a CSM that will be sent."""
        return action.channel == "email" and action.status == "planned" and bool(action.item_keys)

    def payload(self, action: PlannedAction) -> dict[str, Any]:
        """The digest's subject in bold, then its plain-text body."""
        p = action.payload
        return {"text": f"*{p['subject']}*\n{p['text']}"}

    def send(self, action_id: str, payload: dict[str, Any]) -> SendResult:
        """Post once; Slack answers 200 `ok`, errors as plain text (`invalid_payload`)."""
        return self.poster.post(action_id, self.url, payload, {}, lambda raw: None)
