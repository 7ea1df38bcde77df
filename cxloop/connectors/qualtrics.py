"""Qualtrics response exports through the API, landed exactly as a manual export.

Per survey mapped in cxloop.yaml (`surveys[].survey_id` is the Qualtrics survey id):
1. POST /API/v3/surveys/{id}/export-responses `{"format": "csv", "startDate": <cursor>,
   "endDate": <now>}` (startDate inclusive, endDate exclusive, on the recorded date);
2. GET .../export-responses/{progressId} until `status` is `complete` (`failed` stops);
3. GET .../export-responses/{fileId}/file: a zip holding one CSV, landed unchanged (three
   header rows and all) under a name the mapping's `file` glob matches: its first `*` becomes
   `pull-<n>` (`nps_relational_*.csv` -> `nps_relational_pull-00000001.csv`).
The export's window is saved with its progress id as soon as it starts, so a killed pull
polls the same export again (or, if Qualtrics forgot it, starts one for the same window);
the next window starts at this one's endDate: no gap, no overlap. An export with no responses
writes no file. Auth: an API token (X-API-TOKEN) of a user who can read the surveys' responses.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from fnmatch import fnmatch
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import SourceConfig
from cxloop.connectors.base import Connector, Page, PullContext, Stream
from cxloop.connectors.http import ApiError
from cxloop.errors import ConfigError

KIND = "qualtrics"
EXPORTS = "/API/v3/surveys/{survey}/export-responses"
POLL_SECONDS = (0.5, 1, 2, 4, 5)  # then every 5 s
POLL_LIMIT_SECONDS = 3600
HEADER_ROWS = 3


def base_url(api: ApiConfig) -> str | None:
    return f"https://{api.subdomain}.qualtrics.com" if api.subdomain else None


def headers(creds: Mapping[str, str]) -> dict[str, str]:
    return {"X-API-TOKEN": creds["token"]}


def streams(cfg: SourceConfig) -> list[Stream]:
    result = []
    for index, survey in enumerate(cfg.surveys):
        name_of = _namer(cfg, index)
        result.append(
            Stream(
                f"surveys/{survey.survey_id}",
                "responses",
                name_of,
                {"survey_id": survey.survey_id, "encoding": survey.encoding},
            )  # fmt: skip
        )
    return result


def _namer(cfg: SourceConfig, index: int):  # noqa: ANN202
    """seq -> a file name this mapping's glob (and no other) matches; else a ConfigError."""
    glob = cfg.surveys[index].file
    key = f"key 'surveys[{index}].file'"
    if "*" not in glob or "[" in glob or "/" in glob:
        raise ConfigError(
            f"{key}: {glob!r} cannot name pulled exports (expected a glob with one * in a "
            "file name, e.g. nps_relational_*.csv)"
        )

    def name_of(seq: int) -> str:
        name = glob.replace("*", f"pull-{seq:08d}", 1).replace("*", "").replace("?", "x")
        others = [m.file for i, m in enumerate(cfg.surveys) if i != index and fnmatch(name, m.file)]
        if others:
            raise ConfigError(f"{key}: a pulled export {name} would also match {others[0]!r}")
        return name

    name_of(1)
    return name_of


def fetch(ctx: PullContext, stream: Stream, cursor: dict[str, Any] | None) -> Iterator[Page]:
    survey = stream.options["survey_id"]
    cursor = cursor or {}
    start = cursor.get("start") or (_iso(ctx.since) if ctx.since else None)
    end = cursor.get("end") or _iso(datetime.now(UTC))
    progress = cursor.get("progress_id")
    if progress is None:
        progress = _start_export(ctx, survey, start, end)
        yield Page(None, 0, {"start": start, "end": end, "progress_id": progress})
    try:
        file_id = _wait_for_file(ctx, survey, progress)
    except ApiError as exc:  # 404 (an ApiAuthError) or 400: the export id is unknown
        if exc.status not in (400, 404):
            raise
        progress = _start_export(ctx, survey, start, end)  # Qualtrics no longer has it
        yield Page(None, 0, {"start": start, "end": end, "progress_id": progress})
        file_id = _wait_for_file(ctx, survey, progress)
    path = f"{EXPORTS.format(survey=survey)}/{file_id}/file"
    data = _csv_from_zip(ctx, path, ctx.client.request("GET", path).content)
    rows = _data_rows(data)
    yield Page(data if rows else None, rows, {"start": end})


def _start_export(ctx: PullContext, survey: str, start: str | None, end: str) -> str:
    body: dict[str, Any] = {"format": "csv", "endDate": end}
    if start:
        body["startDate"] = start
    path = EXPORTS.format(survey=survey)
    answer = ctx.client.json_of(ctx.client.request("POST", path, json=body))
    progress = (answer.get("result") or {}).get("progressId")
    if not progress:
        raise ApiError(ctx.client.url(path), "the answer has no result.progressId")
    return str(progress)


def _wait_for_file(ctx: PullContext, survey: str, progress: str) -> str:
    path = f"{EXPORTS.format(survey=survey)}/{progress}"
    waited, attempt = 0.0, 0
    while True:
        result = ctx.client.get_json(path).get("result") or {}
        status = result.get("status")
        if status == "complete" and result.get("fileId"):
            return str(result["fileId"])
        if status == "failed":
            raise ApiError(ctx.client.url(path), f"the export failed: {json.dumps(result)[:200]}")
        if waited >= POLL_LIMIT_SECONDS:
            raise ApiError(ctx.client.url(path), f"the export is not ready after {waited:.0f} s")
        pause = POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)]
        ctx.client.sleep(pause)
        waited, attempt = waited + pause, attempt + 1


def _csv_from_zip(ctx: PullContext, path: str, data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise ApiError(ctx.client.url(path), f"expected one CSV in the zip, got {members}")
            return archive.read(members[0])
    except zipfile.BadZipFile:
        raise ApiError(ctx.client.url(path), "the export file is not a zip") from None


def _data_rows(data: bytes) -> int:
    """Responses in an export: CSV records after the three header rows."""
    text = data.decode("utf-8-sig", errors="replace")
    return max(0, sum(1 for _ in csv.reader(io.StringIO(text, newline=""))) - HEADER_ROWS)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(ctx: PullContext) -> str:
    """GET /API/v3/whoami, then each mapped survey (its id and the token's access)."""
    me = ctx.client.get_json("/API/v3/whoami").get("result") or {}
    names = {}
    for survey in ctx.cfg.surveys:
        got = ctx.client.get_json(f"/API/v3/surveys/{survey.survey_id}").get("result") or {}
        names[survey.survey_id] = got.get("name")
    return json.dumps({"user": me.get("userName"), "surveys": names}, ensure_ascii=False)


CONNECTOR = Connector(
    kind=KIND,
    credentials=("token",),
    base_url=base_url,
    headers=headers,
    streams=streams,
    fetch=fetch,
    check=check,
)
