"""Typeform responses: signed `form_response` webhook requests and Responses API pages.

Two forms of one entity, `responses`, in the source folder:
- `webhooks/*.http`: one received request per file (cxloop.sources.webhook_requests), its
  `Typeform-Signature` checked over the raw body with the secret in the environment variable
  that `secret_env` names. An unsigned, tampered or unreadable request is quarantined whole
  (one row, the reason naming the file), never landed; the other files land.
- `responses/<form_id>/*.json`: Responses API pages (`items`, `total_items`, `page_count`),
  written by whoever pulls the API; the folder names the form, since items do not.
Answers join to the form's questions by `field.id` or `field.ref`; unanswered questions are
absent from `answers[]`, so their measures are null. A measure's question must be on our scale
(NPS 0-10, CSAT 1-5, CES 1-7) when the definition says its scale, else the row is quarantined.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cxloop.config import SourceConfig
from cxloop.errors import SourceError
from cxloop.sources.contracts import Violation, contract_for, to_sfid18
from cxloop.sources.readers import Adapter, Batch, ParsedRow, file_sha256, load_json, text_value
from cxloop.sources.webhook_requests import (
    TYPEFORM_SIGNATURE_HEADER,
    MessageError,
    SignatureError,
    parse_http_message,
    verify_typeform_signature,
)
from cxloop.survey_mappings import TypeformForm

KIND = "typeform"
ENTITY = "responses"
WEBHOOKS, PAGES = "webhooks", "responses"
EVENT_TYPES = ("form_response", "form_response_partial")
MAPPED = (
    "nps", "csat", "ces", "open_text", "ticket_id", "contact_id", "account_id", "language",
    "email", "phone", "first_name", "last_name", "full_name",
)  # fmt: skip
COLUMNS = [
    "token", "event_id", "event_type", "form_id", "delivery", "landed_at", "submitted_at",
    "survey_id", "survey_kind", "touchpoint", "channel", *MAPPED, "hidden", "answers",
]  # fmt: skip
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
_NAMES = {"nps": "NPS", "csat": "CSAT", "ces": "CES"}


class _RowProblem(Exception):
    """One response cannot land: the field and the reason (it goes to quarantine)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """Typeform lands one entity: form responses."""
    return (ENTITY,)


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Received requests in file-name order (named by receipt time), then the API pages."""
    pages = sorted((folder / PAGES).glob("*/*.json"))
    return {ENTITY: sorted((folder / WEBHOOKS).glob("*.http")) + pages}


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one request file or one Responses API page into response rows."""
    data = path.read_bytes()
    if path.suffix == ".http":
        rows = [webhook_row(data, rel, cfg)]
    else:
        rows = _page_rows(data, path.parent.name, rel, cfg)
    return Batch(KIND, ENTITY, rel, file_sha256(data), contract_for(KIND, ENTITY), COLUMNS, rows)


def webhook_secret(cfg: SourceConfig, rel: str) -> str:
    """The webhook secret from the environment variable cxloop.yaml names (never a default)."""
    secret = os.environ.get(cfg.secret_env or "")
    if not secret:
        raise SourceError(
            rel,
            f"environment variable {cfg.secret_env} is not set, so the request's signature "
            "cannot be checked",
            expected=f"the Typeform webhook secret in ${cfg.secret_env} (secret_env)",
        )
    return secret


def webhook_row(data: bytes, rel: str, cfg: SourceConfig) -> ParsedRow:
    """One received request file as a response row (quarantined whole when it is not valid)."""
    original = data.decode("utf-8", errors="replace")
    secret = webhook_secret(cfg, rel)
    try:
        request = parse_http_message(data)
        verify_typeform_signature(secret, request.body, request.header(TYPEFORM_SIGNATURE_HEADER))
    except MessageError as exc:
        return _quarantined(original, "", f"{rel}: not a received request: {exc}")
    except SignatureError as exc:
        return _quarantined(original, TYPEFORM_SIGNATURE_HEADER, f"{rel}: {exc}")
    try:
        body = json.loads(request.body.decode("utf-8"))
        if not isinstance(body, dict) or not isinstance(body.get("form_response"), dict):
            raise _RowProblem("form_response", "the body has no form_response object")
        if body.get("event_type") not in EVENT_TYPES:
            raise _RowProblem("event_type", f"{body.get('event_type')!r} is not form_response")
        response = body["form_response"]
        form = _form_for(response.get("form_id"), cfg)
        if form is None:
            raise _RowProblem("form_id", f"no forms[] mapping for form {response.get('form_id')!r}")
        values = _response_values(response, form, _definition(response))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _quarantined(original, "", f"{rel}: the body is not UTF-8 JSON: {exc}")
    except _RowProblem as exc:
        return _quarantined(original, exc.field, f"{rel}: {exc.field}: {exc.reason}")
    values.update(event_id=text_value(body.get("event_id")), event_type=body["event_type"])
    values.update(delivery="webhook")
    return ParsedRow(1, values, original)


def _page_rows(data: bytes, form_id: str, rel: str, cfg: SourceConfig) -> list[ParsedRow]:
    expected = "a Typeform Responses API page: {items, total_items, page_count}"
    page = load_json(data, rel, expected)
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise SourceError(rel, "no `items` array", expected=expected)
    form = _form_for(form_id, cfg)
    if form is None:
        raise SourceError(
            rel,
            f"no forms[] mapping for form {form_id!r} (the folder names the form)",
            expected=f"responses/<form_id>/ with a form_id among {[f.form_id for f in cfg.forms]}",
        )
    rows = []
    for number, item in enumerate(page["items"], start=1):
        try:
            if not isinstance(item, dict):
                raise _RowProblem("", "the item is not a JSON object")
            values = _response_values({**item, "form_id": form_id}, form, {})
        except _RowProblem as exc:
            reason = f"{exc.field}: {exc.reason}" if exc.field else exc.reason
            rows.append(ParsedRow(number, {}, problem=Violation(exc.field, reason), record=item))
            continue
        values.update(event_id=None, event_type="form_response", delivery="responses_api")
        rows.append(ParsedRow(number, values, record=item))
    return rows


def _quarantined(original: str, field: str, reason: str) -> ParsedRow:
    return ParsedRow(1, {}, original, Violation(field, reason))


def _form_for(form_id: object, cfg: SourceConfig) -> TypeformForm | None:
    return next((f for f in cfg.forms if f.form_id == form_id), None)


def _definition(response: dict) -> dict[str, dict]:
    """The form's questions by id and by ref (a webhook body carries its definition)."""
    fields = (response.get("definition") or {}).get("fields") or []
    by_key: dict[str, dict] = {}
    for question in fields:
        if isinstance(question, dict):
            for key in (question.get("id"), question.get("ref")):
                if key:
                    by_key[key] = question
    return by_key


def answer_text(answer: dict) -> str | None:
    """An answer's value as text: the key named after its type (`choice` gives its label)."""
    kind = answer.get("type")
    value = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice" and isinstance(value, dict):
        value = value.get("label") or value.get("other")
    elif kind == "choices" and isinstance(value, dict):
        value = ", ".join([*(value.get("labels") or []), *filter(None, [value.get("other")])])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = text_value(value)
    return text if text != "" else None


def _response_values(response: dict, form: TypeformForm, questions: dict[str, dict]) -> dict:
    answers = [a for a in response.get("answers") or [] if isinstance(a, dict)]
    by_key: dict[str, dict] = {}
    for answer in answers:
        field = answer.get("field") or {}
        for key in (field.get("id"), field.get("ref")):
            if key:
                by_key[key] = answer
    mapped: dict[str, str | None] = {}
    for ours, ref in form.fields.items():
        if questions and ref not in questions:
            raise _RowProblem(ours, f"the form has no question with ref or id {ref!r}")
        answer = by_key.get(ref)
        if ours in SCALES:
            _check_scale(ours, ref, questions.get(ref) or (answer or {}).get("field") or {})
        mapped[ours] = answer_text(answer) if answer else None
    hidden = response.get("hidden") if isinstance(response.get("hidden"), dict) else {}
    for ours, name in form.hidden.items():
        value = text_value(hidden.get(name))
        mapped[ours] = value.strip() or None if value is not None else None
    for name in ("contact_id", "account_id"):
        if mapped.get(name):
            mapped[name] = to_sfid18(str(mapped[name]).strip())
    token = response.get("token") or response.get("response_id")
    answers_json = {
        (a.get("field") or {}).get("ref") or (a.get("field") or {}).get("id"): answer_text(a)
        for a in answers
    }
    return {
        "token": text_value(token),
        "form_id": text_value(response.get("form_id")),
        "landed_at": text_value(response.get("landed_at")),
        "submitted_at": text_value(response.get("submitted_at")),
        "survey_id": form.our_survey_id,
        "survey_kind": form.kind,
        "touchpoint": mapped.pop("touchpoint", None) or form.touchpoint,
        "channel": mapped.pop("channel", None) or form.channel,
        **{name: mapped.get(name) for name in MAPPED},
        "hidden": json.dumps(hidden, ensure_ascii=False, separators=(",", ":")) if hidden else None,
        "answers": json.dumps(answers_json, ensure_ascii=False, separators=(",", ":")),
    }


def question_scale(question: dict) -> tuple[int, int] | None:
    """(low, high) of a scale question, None when its definition does not say the steps."""
    kind = question.get("type")
    properties = question.get("properties") or {}
    steps = properties.get("steps")
    if kind == "nps":
        return (0, 10)
    if kind == "opinion_scale":
        low = 1 if properties.get("start_at_one") else 0
        return (low, low + int(steps) - 1) if steps else None
    if kind == "rating":
        return (1, int(steps)) if steps else None
    raise ValueError(f"a {kind or 'untyped'} question is not a scale")


def _check_scale(measure: str, ref: str, question: dict) -> None:
    """A measure's question must be a scale question on our range, where its steps are known."""
    if not question:
        return  # an unanswered question of a page without definition: nothing to check
    try:
        scale = question_scale(question)
    except ValueError as exc:
        raise _RowProblem(
            measure, f"question {ref!r}: {exc} (expected nps, opinion_scale or rating)"
        ) from exc
    if scale is not None and scale != SCALES[measure]:
        low, high = SCALES[measure]
        raise _RowProblem(
            measure,
            f"question {ref!r} is a {question.get('type')} {scale[0]}-{scale[1]}, not on the "
            f"{_NAMES[measure]} scale {low}-{high} (cxloop does not rescale)",
        )


ADAPTER = Adapter(KIND, entities, find_files, read_file)
