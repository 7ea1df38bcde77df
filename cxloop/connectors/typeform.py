"""Typeform Responses API: each mapped form's responses, landed as `responses/<form_id>/`.

GET /forms/{form_id}/responses with `page_size` (max 1000), `since` (the cursor, inclusive)
and, after the first page, `before` = the last response token of the previous page:
Typeform answers newest first, so one run walks from the newest response back to `since`.
Mid-run the cursor is (`since`, `before`), so a killed pull resumes at the next page; once
a page comes back short the run is done and the next run's `since` is the newest
`submitted_at` it saw minus 30 minutes, because Typeform may return a response up to about
30 minutes after it was submitted. Responses in that overlap come again: identical rows,
which ingest counts as duplicates and lands once. A refused `before` token (HTTP 400, its
response was deleted) restarts the run at its `since`. The first pull starts at `--since`
or api.start_date (default: every response). Each page (`total_items`, `page_count`,
`items`) lands as `responses/<form_id>/pull-<n>.json`, the second form the Typeform adapter
reads beside webhook bodies. Auth: a personal access token with `responses:read` and
`forms:read` (Bearer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import SourceConfig
from cxloop.connectors.base import Connector, Page, PullContext, Stream
from cxloop.connectors.http import ApiError, ApiRequestError

log = logging.getLogger(__name__)

KIND = "typeform"
PAGE_MAX = 1000
ISO = "%Y-%m-%dT%H:%M:%S"
LATE_RESPONSES = timedelta(minutes=30)  # Typeform: recent responses may come later


def base_url(api: ApiConfig) -> str:
    return "https://api.typeform.com"


def headers(creds: Mapping[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {creds['token']}"}


def streams(cfg: SourceConfig) -> list[Stream]:
    return [
        Stream(
            f"responses/{form.form_id}",
            "responses",
            lambda seq, form_id=form.form_id: f"responses/{form_id}/pull-{seq:08d}.json",
            {"form_id": form.form_id},
        )
        for form in cfg.forms
    ]


def fetch(ctx: PullContext, stream: Stream, cursor: dict[str, Any] | None) -> Iterator[Page]:
    form_id = stream.options["form_id"]
    path = f"/forms/{form_id}/responses"
    size = min(ctx.api.page_size or PAGE_MAX, PAGE_MAX)
    cursor = cursor or {}
    since = cursor.get("since") or (_iso(ctx.since) if ctx.since else None)
    before, newest = cursor.get("before"), cursor.get("newest")
    restarted = False
    while True:
        params: dict[str, Any] = {"page_size": size}
        if since:
            params["since"] = since
        if before:
            params["before"] = before
        try:
            response = ctx.client.request("GET", path, params=params)
        except ApiRequestError as exc:
            if not before or restarted or exc.status != 400:
                raise
            log.warning("%s: token refused (%s); restarting the run at since=%s", path, exc, since)
            before, restarted = None, True
            continue
        page = ctx.client.json_of(response)
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise ApiError(ctx.client.url(path), "no 'items' array in the answer")
        for item in items:
            if isinstance(item, dict):
                before = item.get("token") or item.get("response_id") or before
                stamp = _stamp(item.get("submitted_at"))
                newest = max(newest or stamp, stamp) if stamp else newest
        done = len(items) < size or page.get("page_count", 2) <= 1
        if done:
            following = {"since": _overlap(newest) if newest else since}
        else:
            following = {"since": since, "before": before, "newest": newest}
        yield Page(response.content if items else None, len(items), following)
        if done:
            return


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISO)


def _stamp(value: object) -> str | None:
    """`submitted_at` as Typeform's `since` format (UTC, to the second, no zone)."""
    try:
        return _iso(datetime.strptime(str(value).removesuffix("Z")[:19], ISO).replace(tzinfo=UTC))
    except ValueError:
        return None


def _overlap(newest: str) -> str:
    moment = datetime.strptime(newest, ISO).replace(tzinfo=UTC)
    return _iso(moment - LATE_RESPONSES)


def check(ctx: PullContext) -> str:
    """GET /forms/{id} for each mapped form: the token can read it."""
    titles = {}
    for form in ctx.cfg.forms:
        titles[form.form_id] = ctx.client.get_json(f"/forms/{form.form_id}").get("title")
    return json.dumps({"forms": titles}, ensure_ascii=False)


CONNECTOR = Connector(
    kind=KIND,
    credentials=("token",),
    base_url=base_url,
    headers=headers,
    streams=streams,
    fetch=fetch,
    check=check,
)
