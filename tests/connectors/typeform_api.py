"""A local Typeform Responses API, written from Typeform's documentation (docs/connectors.md).

- GET /forms/{form_id}: the form (`id`, `title`, `fields`), else 404 `FORM_NOT_FOUND`.
- GET /forms/{form_id}/responses: `page_size` (default 25, max 1000), `since`/`until`
  (inclusive, on `submitted_at`, ISO to the second or epoch), `before` / `after` (a response
  token, exclusive; responses in the order Typeform processed them, newest first for
  `before`; a token it does not know is a 400). Otherwise newest `submitted_at` first.
  Answers `total_items`, `page_count`, `items`.
Bearer auth with a personal access token, else 401 `AUTHENTICATION_FAILED`.
"""

from __future__ import annotations

import calendar
import math
import time

from vendor_http import Reply, Request


def _epoch(value: str) -> int:
    if value.isdigit():
        return int(value)
    return calendar.timegm(time.strptime(value.removesuffix("Z"), "%Y-%m-%dT%H:%M:%S"))


class TypeformApp:
    def __init__(self, token: str = "tfp_test_token") -> None:
        self.auth = f"Bearer {token}"
        self.forms: dict[str, dict] = {}

    def add(self, form_id: str, *items: dict, title: str = "Post-support survey") -> None:
        """Responses in the order Typeform processed them."""
        form = self.forms.setdefault(form_id, {"title": title, "items": []})
        form["items"].extend(items)

    def delete(self, form_id: str, token: str) -> None:
        items = self.forms[form_id]["items"]
        items[:] = [i for i in items if i["token"] != token]

    def __call__(self, request: Request) -> Reply:
        if request.header("Authorization") != self.auth:
            return Reply.json({"code": "AUTHENTICATION_FAILED", "description": "invalid token"},
                              401)  # fmt: skip
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "forms" or parts[1] not in self.forms:
            return Reply.json({"code": "FORM_NOT_FOUND", "description": "Non-existing form"}, 404)
        form = self.forms[parts[1]]
        if len(parts) == 2:
            return Reply.json({"id": parts[1], "title": form["title"], "fields": []})
        if parts[2:] != ["responses"]:
            return Reply.json({"code": "NOT_FOUND"}, 404)
        return self._responses(form["items"], request.query)

    def _responses(self, items: list[dict], query: dict[str, str]) -> Reply:
        size = min(int(query.get("page_size", 25)), 1000)
        chosen = sorted(items, key=lambda i: i["submitted_at"], reverse=True)
        tokens = [i["token"] for i in items]
        for key in ("before", "after"):
            if key in query:
                if query[key] not in tokens:
                    problem = f"{key}: unknown response token"
                    return Reply.json({"code": "VALIDATION_ERROR", "description": problem}, 400)
                at = tokens.index(query[key])
                chosen = items[:at][::-1] if key == "before" else items[at + 1 :]
        if "since" in query:
            chosen = [i for i in chosen if _epoch(i["submitted_at"]) >= _epoch(query["since"])]
        if "until" in query:
            chosen = [i for i in chosen if _epoch(i["submitted_at"]) <= _epoch(query["until"])]
        page = chosen[:size]
        body = {"total_items": len(chosen), "page_count": math.ceil(len(chosen) / size),
                "items": page}  # fmt: skip
        return Reply.json(body)
