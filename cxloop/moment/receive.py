"""Survey responses received by webhook: check, land for the batch path, hand to the actor.

- Typeform `form_response`: the `Typeform-Signature` (HMAC-SHA256 of the raw body) is checked,
  the body must pass the Typeform adapter and the raw contract, and `submitted_at` must be
  recent. The request is written as `<typeform path>/webhooks/<UTC>-<event_id>.http`, the file
  the batch ingest lands, so the response reaches raw normally.
- Qualtrics event subscription `surveyengine.completedResponse.{SurveyID}`: a notification
  (form-encoded or JSON: Topic, Status, SurveyID, ResponseID, CompletedDate) authenticated by
  the token of its publicationUrl; the response itself is fetched from the Qualtrics API
  (`GET /API/v3/surveys/{surveyId}/responses/{responseId}`) and kept as
  `<qualtrics path>/events/<SurveyID>-<ResponseID>.json`. It reaches raw through the normal
  export.

A replayed event (same Typeform event_id, same Qualtrics ResponseID) finds its file and is
ignored. Nothing here opens the warehouse: the actor (cxloop.moment.act) does, in batches.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

from cxloop.config import ProjectConfig, SourceConfig, SurveyMapping
from cxloop.connectors import qualtrics as qualtrics_api
from cxloop.connectors.http import ApiClient, ApiError
from cxloop.errors import ConfigError
from cxloop.sources import typeform
from cxloop.sources.contracts import contract_for
from cxloop.sources.webhook_requests import (
    TYPEFORM_SIGNATURE_HEADER,
    SignatureError,
    format_http_message,
    parse_http_message,
    verify_typeform_signature,
    write_http_message,
)
from cxloop.webhooks import WebhookRejected

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
QUALTRICS_TOPIC = "surveyengine.completedResponse."


@dataclass(frozen=True)
class ReceivedResponse:
    """One survey response as the moment path needs it (the batch path's response_id)."""

    source: str  # typeform | qualtrics
    event_id: str
    response_id: str
    survey_id: str
    nps: int | None
    email: str | None
    language: str | None
    open_text: str | None
    responded_at: datetime  # naive UTC, as the warehouse keeps timestamps
    arrived: float  # time.time() at arrival, for latency


def _source(config: ProjectConfig, kind: str) -> tuple[str, SourceConfig] | None:
    found = [(n, s) for n, s in config.sources.items() if s.kind == kind]
    if len(found) > 1:
        raise ConfigError(f"cxloop.yaml: key 'sources': more than one source of kind {kind}")
    return found[0] if found else None


def _utc(text: str | None, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError as exc:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, f"{what}: {text!r} is not ISO 8601") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _check_fresh(at: datetime, now: float, max_age: int, what: str) -> None:
    age = now - at.replace(tzinfo=UTC).timestamp()
    if age > max_age or age < -300:
        raise WebhookRejected(
            HTTPStatus.FORBIDDEN, f"stale: {what} is {int(age)} s old (limit {max_age} s)"
        )


def _score(value: str | None, what: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError as exc:
        raise WebhookRejected(HTTPStatus.BAD_REQUEST, f"{what}: {value!r} is not 0-10") from exc


def _seen(folder: Path, pattern: str) -> set[str]:
    """Event ids already received (their files), so a replay after a restart is still ignored."""
    return {p.stem.rsplit("-", 1)[-1] for p in folder.glob(pattern)} if folder.is_dir() else set()


@dataclass
class TypeformReceiver:
    """Verifies signed `form_response` requests and writes each as a webhooks/*.http file."""

    cfg: SourceConfig
    folder: Path  # <sources>/<typeform path>
    secret: str
    max_age_seconds: int = 86400
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self.webhooks = self.folder / typeform.WEBHOOKS
        self.webhooks.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seen = _seen(self.webhooks, "*.http")

    def receive(self, headers: Mapping[str, str], body: bytes) -> ReceivedResponse | None:
        """The response to act on; None for a replay; raises WebhookRejected."""
        now = self.clock()
        try:
            verify_typeform_signature(self.secret, body, headers.get(TYPEFORM_SIGNATURE_HEADER))
        except SignatureError as exc:
            raise WebhookRejected(HTTPStatus.FORBIDDEN, str(exc)) from exc
        kept = {TYPEFORM_SIGNATURE_HEADER: headers.get(TYPEFORM_SIGNATURE_HEADER) or ""}
        kept["Content-Type"] = headers.get("Content-Type") or "application/json"
        message = format_http_message(kept, body, "POST /typeform HTTP/1.1")
        row = typeform.webhook_row(message, "request body", self.cfg)
        problems = [row.problem] if row.problem else []
        problems += contract_for(typeform.KIND, typeform.ENTITY).violations(row.values)
        if problems:
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, problems[0].reason)
        values = row.values
        event_id = str(values.get("event_id") or "")
        if not _SAFE_ID.match(event_id):
            raise WebhookRejected(
                HTTPStatus.BAD_REQUEST, f"event_id {event_id[:40]!r} is not an id"
            )
        submitted = _utc(values.get("submitted_at"), "form_response.submitted_at")
        _check_fresh(submitted, now, self.max_age_seconds, "form_response.submitted_at")
        with self._lock:
            if event_id in self._seen:
                return None
            stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S%fZ")
            request = parse_http_message(message)
            write_http_message(
                self.webhooks / f"webhook-{stamp}-{event_id}.http", dict(request.headers), body
            )
            self._seen.add(event_id)
        return ReceivedResponse(
            "typeform",
            event_id,
            str(values["token"]),
            str(values["survey_id"]),
            _score(values.get("nps"), "nps"),
            values.get("email"),
            values.get("language"),
            values.get("open_text"),
            submitted,
            now,
        )


def parse_notification(body: bytes, content_type: str | None) -> dict[str, str]:
    """A Qualtrics event notification's fields, form-encoded (the default) or JSON."""
    text = body.decode("utf-8", errors="replace")
    if (content_type or "").startswith("application/json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, "body is not a JSON object")
        return {str(k): str(v) for k, v in data.items()}
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


@dataclass
class QualtricsReceiver:
    """Completed-response notifications: token checked, response fetched, kept, handed on."""

    cfg: SourceConfig
    folder: Path  # <sources>/<qualtrics path>
    base_url: str
    api_token: str
    webhook_token: str
    max_age_seconds: int = 86400
    clock: Callable[[], float] = time.time
    timeout: float = 10
    sleep: Callable[[float], None] = time.sleep  # between retries (tests record it)

    def __post_init__(self) -> None:
        # the connectors' HTTP layer: Retry-After on 429, bounded retries of 5xx and dropped
        # connections, host pinning, vendor error codes; few retries, a request is waiting
        self._api = ApiClient(
            "qualtrics",
            self.base_url,
            qualtrics_api.headers({"token": self.api_token}),
            timeout_seconds=self.timeout,
            max_retries=2,
            max_rate_limited=2,
            sleep=self.sleep,
        )
        self.events = self.folder / "events"
        self.events.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seen = _seen(self.events, "*.json")

    def receive(
        self, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
    ) -> ReceivedResponse | None:
        """The fetched response to act on; None for a replay; raises WebhookRejected."""
        now = self.clock()
        token = query.get("token") or ""
        if not hmac.compare_digest(token.encode(), self.webhook_token.encode()):
            raise WebhookRejected(HTTPStatus.FORBIDDEN, "token does not match the subscription's")
        note = parse_notification(body, headers.get("Content-Type"))
        survey_id, response_id = note.get("SurveyID", ""), note.get("ResponseID", "")
        if not note.get("Topic", "").startswith(QUALTRICS_TOPIC):
            raise WebhookRejected(
                HTTPStatus.BAD_REQUEST, f"Topic {note.get('Topic')!r} is not {QUALTRICS_TOPIC}*"
            )
        for name, value in (("SurveyID", survey_id), ("ResponseID", response_id)):
            if not _SAFE_ID.match(value):
                raise WebhookRejected(HTTPStatus.BAD_REQUEST, f"{name} {value[:40]!r} is not an id")
        if note.get("CompletedDate"):
            completed = _utc(note["CompletedDate"], "CompletedDate")
            _check_fresh(completed, now, self.max_age_seconds, "CompletedDate")
        mapping = next((m for m in self.cfg.surveys if m.survey_id == survey_id), None)
        if mapping is None:
            raise WebhookRejected(
                HTTPStatus.BAD_REQUEST, f"SurveyID {survey_id}: no surveys[] mapping in cxloop.yaml"
            )
        with self._lock:
            if response_id in self._seen:
                return None
        result = self.fetch(survey_id, response_id)
        response = self._response(result, mapping, survey_id, response_id, now)
        with self._lock:
            if response_id in self._seen:
                return None
            record = {"notification": note, "response": result}
            path = self.events / f"{survey_id}-{response_id}.json"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(path)
            self._seen.add(response_id)
        return response

    def fetch(self, survey_id: str, response_id: str) -> dict:
        """`GET /API/v3/surveys/{surveyId}/responses/{responseId}` -> its `result` object."""
        endpoint = f"GET /API/v3/surveys/{survey_id}/responses/{response_id}"
        try:
            data = self._api.get_json(f"API/v3/surveys/{survey_id}/responses/{response_id}")
        except ApiError as exc:
            raise WebhookRejected(HTTPStatus.BAD_GATEWAY, str(exc)) from exc
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, dict) or not isinstance(result.get("values"), dict):
            raise WebhookRejected(HTTPStatus.BAD_GATEWAY, f"{endpoint}: no result.values object")
        return result

    def _response(
        self, result: dict, mapping: SurveyMapping, survey_id: str, response_id: str, now: float
    ) -> ReceivedResponse:
        values = result["values"]

        def field(ours: str, default_key: str | None = None) -> str | None:
            key = mapping.fields.get(ours, default_key)  # type: ignore[call-overload]
            value = values.get(key) if key else None
            return None if value in (None, "") else str(value)

        recorded = _utc(values.get("recordedDate") or values.get("endDate"), "recordedDate")
        row = {
            "ResponseId": response_id,
            "survey_id": survey_id,
            "RecordedDate": recorded.strftime("%Y-%m-%d %H:%M:%S"),
            "nps": field("nps"),
            "csat": field("csat"),
            "ces": field("ces"),
        }
        where = f"GET /API/v3/surveys/{survey_id}/responses/{response_id}"
        problems = contract_for("qualtrics", "responses").violations(row)
        if problems:
            raise WebhookRejected(HTTPStatus.BAD_REQUEST, f"{where}: {problems[0].reason}")
        return ReceivedResponse(
            "qualtrics",
            response_id,
            response_id,
            survey_id,
            _score(row["nps"], "nps"),
            field("email", "recipientEmail"),
            field("language", "userLanguage"),
            field("open_text"),
            recorded,
            now,
        )


def typeform_receiver(sources_dir: Path, config: ProjectConfig, **kw: object) -> TypeformReceiver:
    """The receiver for the configured Typeform source; its secret from `secret_env`."""
    found = _source(config, "typeform")
    if found is None:
        raise ConfigError("cxloop.yaml: key 'sources': no source of kind typeform")
    name, cfg = found
    secret = typeform.webhook_secret(cfg, f"cxloop.yaml sources.{name}")
    return TypeformReceiver(cfg, Path(sources_dir) / cfg.path, secret, **kw)  # type: ignore[arg-type]


def qualtrics_source(config: ProjectConfig) -> tuple[str, SourceConfig] | None:
    """The configured Qualtrics source (name, config), if any."""
    return _source(config, "qualtrics")
