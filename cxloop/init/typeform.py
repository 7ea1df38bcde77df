"""Describe Typeform forms from webhook bodies: each field and the measure its type suggests,
and the hidden fields (identity), for a person to map once cxloop reads Typeform."""

from __future__ import annotations

import json
from pathlib import Path


def describe_forms(files: list[Path]) -> list[str]:
    """One line per form, then one per field with the measure its type suggests."""
    forms: dict[str, tuple[dict, set[str], int]] = {}
    for path in files:
        body = _body(path)
        response = body.get("form_response") if isinstance(body, dict) else None
        if not isinstance(response, dict):
            continue
        definition = response.get("definition") or {}
        form_id = str(response.get("form_id") or definition.get("id") or "?")
        _, hidden, count = forms.get(form_id, (definition, set(), 0))
        hidden |= set(response.get("hidden") or {})
        forms[form_id] = (definition, hidden, count + 1)
    lines = []
    for form_id, (definition, hidden, count) in forms.items():
        title = definition.get("title", "")
        head = f'form {form_id} "{title}": {count} response(s)'
        lines.append(head + (f"; hidden fields {', '.join(sorted(hidden))}" if hidden else ""))
        for field in definition.get("fields") or []:
            if isinstance(field, dict):
                lines.append("  " + _field(field))
    return lines


def _body(path: Path) -> object:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc.get("body") if isinstance(doc, dict) and "body" in doc else doc


def _field(field: dict) -> str:
    kind = field.get("type", "?")
    props = field.get("properties") or {}
    steps, from_one = props.get("steps"), props.get("start_at_one")
    scale = f" {1 if from_one else 0}-{steps - (0 if from_one else 1)}" if steps else ""
    measure = _measure(kind, steps, from_one)
    ref = field.get("ref") or field.get("id")
    title = " ".join(str(field.get("title", "")).split())
    return f'ref {ref}: {kind}{scale} "{title}"' + (f" -> {measure}?" if measure else "")


def _measure(kind: str, steps: int | None, from_one: bool | None) -> str | None:
    if kind == "nps" or (kind == "opinion_scale" and steps == 11 and not from_one):
        return "nps"
    if kind == "opinion_scale" and steps == 7 and from_one:
        return "ces"
    if (kind == "rating" and steps in (None, 5)) or (
        kind == "opinion_scale" and steps == 5 and from_one
    ):
        return "csat"
    if kind in ("long_text", "short_text"):
        return "open_text"
    return None
