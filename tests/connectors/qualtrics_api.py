"""A local Qualtrics response-export API, written from Qualtrics' v3 documentation.

- POST /API/v3/surveys/{id}/export-responses `{"format": "csv", "startDate", "endDate"}`
  (ISO 8601; startDate inclusive, endDate exclusive, on each response's recorded date):
  `{"result": {"progressId", "percentComplete", "status": "inProgress"}, "meta": {...}}`.
- GET .../export-responses/{progressId}: `inProgress` for `polls_before_ready` polls, then
  `complete` with a `fileId`; an unknown progress id is a 404.
- GET .../export-responses/{fileId}/file: a zip holding `<survey name>.csv`.
- GET /API/v3/whoami, GET /API/v3/surveys/{id}. `X-API-TOKEN` auth, else 401.
A survey is its three header rows and its response rows (CSV records), as a manual export
has them; an export writes the header rows and the responses in its window.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import zipfile
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from vendor_http import Reply, Request

BOM = "\ufeff"


def _meta() -> dict:
    return {"requestId": "00000000-test", "httpStatus": "200 - OK"}


class QualtricsApp:
    def __init__(self, token: str = "qx-token-123", polls_before_ready: int = 1) -> None:
        self.token = token
        self.polls_before_ready = polls_before_ready
        self.surveys: dict[str, dict] = {}
        self.exports: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1)

    def add_survey(self, survey_id: str, name: str, header: list[list[str]]) -> None:
        self.surveys[survey_id] = {"name": name, "header": header, "rows": []}

    def add_responses(self, survey_id: str, *rows: list[str]) -> None:
        self.surveys[survey_id]["rows"].extend(rows)

    def load_export(self, survey_id: str, name: str, csv_text: str) -> None:
        """A survey from a manual export's text: its header rows and its responses."""
        records = list(csv.reader(io.StringIO(csv_text.removeprefix(BOM), newline="")))
        self.add_survey(survey_id, name, records[:3])
        self.add_responses(survey_id, *records[3:])

    def forget_exports(self) -> None:
        self.exports.clear()

    def __call__(self, request: Request) -> Reply:
        if request.header("X-API-TOKEN") != self.token:
            return Reply.json({"meta": {"httpStatus": "401 - Unauthorized"}}, 401)
        parts = request.path.strip("/").split("/")  # API v3 surveys {id} export-responses ...
        if parts == ["API", "v3", "whoami"]:
            return Reply.json({"result": {"userName": "cx@acme.example", "userId": "UR_1"},
                               "meta": _meta()})  # fmt: skip
        if parts[:3] != ["API", "v3", "surveys"] or len(parts) < 4 or parts[3] not in self.surveys:
            return Reply.json({"meta": {"httpStatus": "404 - Not Found"}}, 404)
        survey_id, rest = parts[3], parts[4:]
        if not rest:
            return Reply.json({"result": {"id": survey_id, "name": self.surveys[survey_id]["name"]},
                               "meta": _meta()})  # fmt: skip
        if rest == ["export-responses"] and request.method == "POST":
            return self._start(survey_id, json.loads(request.body or b"{}"))
        if len(rest) == 2 and rest[0] == "export-responses":
            return self._progress(rest[1])
        if len(rest) == 3 and rest[2] == "file" and rest[1] in self.files:
            return Reply(200, self.files[rest[1]], {"Content-Type": "application/zip"})
        return Reply.json({"meta": {"httpStatus": "404 - Not Found"}}, 404)

    def _start(self, survey_id: str, body: dict) -> Reply:
        if body.get("format") != "csv":
            return Reply.json({"meta": {"httpStatus": "400 - Bad Request"}}, 400)
        progress = f"ES_{next(self._ids):06d}"
        self.exports[progress] = {"survey": survey_id, "polls": 0, **body}
        return Reply.json({"result": {"progressId": progress, "percentComplete": 0.0,
                                      "status": "inProgress"}, "meta": _meta()})  # fmt: skip

    def _progress(self, progress: str) -> Reply:
        export = self.exports.get(progress)
        if export is None:
            return Reply.json({"meta": {"httpStatus": "404 - Not Found"}}, 404)
        export["polls"] += 1
        if export["polls"] <= self.polls_before_ready:
            return Reply.json({"result": {"percentComplete": 50.0, "status": "inProgress",
                                          "fileId": None}, "meta": _meta()})  # fmt: skip
        file_id = f"{progress}-file"
        self.files[file_id] = self._zip(export)
        return Reply.json({"result": {"percentComplete": 100.0, "status": "complete",
                                      "fileId": file_id}, "meta": _meta()})  # fmt: skip

    def _zip(self, export: dict) -> bytes:
        survey = self.surveys[export["survey"]]
        start, end = _moment(export.get("startDate")), _moment(export.get("endDate"))
        rows = [r for r in survey["rows"] if _in(recorded(survey["header"], r), start, end)]
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\n").writerows([*survey["header"], *rows])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{survey['name']}.csv", (BOM + out.getvalue()).encode("utf-8"))
        return buffer.getvalue()


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _in(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


def recorded(header: list[list[str]], row: list[str]) -> datetime:
    """A response's RecordedDate in UTC (the column's row-3 timeZone); epoch 0 if unreadable."""
    for index, spec in enumerate(header[2]):
        meta = json.loads(spec)
        if meta.get("ImportId") == "recordedDate":
            zone = ZoneInfo(meta.get("timeZone", "UTC").replace("Z", "UTC"))
            try:
                local = datetime.strptime(row[index], "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
            except ValueError:
                break
            return local.astimezone(UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)
