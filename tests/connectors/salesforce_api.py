"""A local Salesforce org (OAuth token endpoint, describe, Bulk API 2.0 query), written from
Salesforce's documentation (docs/connectors.md, Salesforce).

- POST /services/oauth2/token (form): `grant_type=client_credentials` with `client_id` and
  `client_secret`, or `urn:ietf:params:oauth:grant-type:jwt-bearer` with an RS256
  `assertion` (iss = client id, sub = username, aud = https://login.salesforce.com, exp);
  answers `access_token`, `instance_url`, `token_type`; else 400 `invalid_client`/`invalid_grant`.
- Every /services/data call needs `Authorization: Bearer <token>`, else 401 INVALID_SESSION_ID.
- GET /services/data/vXX.X/sobjects/<Object>/describe: `name`, `queryable`, `fields[{name}]`.
- POST .../jobs/query {operation: query|queryAll, query, contentType: CSV}: the query is
  `SELECT a, b FROM Object [WHERE SystemModstamp >= <datetime>]`; the records are taken
  when the job is created (a snapshot, as Salesforce does); `query` leaves deleted ones out.
  Answers the job info, state UploadComplete; GET .../jobs/query/<id> is InProgress for
  `polls_in_progress` polls, then JobComplete with `numberRecordsProcessed`.
- GET .../jobs/query/<id>/results[?locator=&maxRecords=]: CSV, every value double-quoted, LF,
  header in SELECT order; `Sforce-Locator` (the next page's, or `null`) and
  `Sforce-NumberOfRecords`. Without maxRecords a page holds `default_page_size` records. A
  job or locator the org does not know is 404 NOT_FOUND; the Accept header must allow text/csv.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from vendor_http import Reply, Request

QUERY = re.compile(
    r"SELECT (?P<fields>[\w, ]+) FROM (?P<object>\w+)"
    r"(?: WHERE SystemModstamp >= (?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ))?$"
)


def error(status: int, code: str, message: str) -> Reply:
    return Reply.json([{"errorCode": code, "message": message}], status)


def read_csv(text: str) -> list[dict[str, str]]:
    """Records of a Bulk CSV export (the hand-written fixtures the org is loaded from)."""
    return list(csv.DictReader(io.StringIO(text)))


@dataclass
class Job:
    id: str
    sobject: str
    fields: list[str]
    rows: list[dict[str, str]]
    operation: str
    polls_left: int
    locators: dict[str, int] = field(default_factory=dict)  # locator -> offset


@dataclass
class SalesforceApp:
    client_id: str = "3MVG9-test-client"
    client_secret: str = "sf-secret-123"
    username: str = "integration@acme.example"
    public_key: rsa.RSAPublicKey | None = None  # the connected app's certificate (JWT bearer)
    polls_in_progress: int = 1
    job_failure: str | None = None  # polls answer Failed with this errorMessage
    default_page_size: int = 1000
    version: str = "v62.0"
    queryable: dict[str, bool] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    fields: dict[str, list[str]] = field(default_factory=dict)  # what describe shows
    jobs: dict[str, Job] = field(default_factory=dict)
    token: str = "00Dxx0000001gPL!AQ4AQ-access"
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def put(self, sobject: str, *records: dict[str, str]) -> None:
        """Add or replace records by Id; the object's fields grow to the records' keys."""
        known = self.fields.setdefault(sobject, [])
        for record in records:
            known.extend(k for k in record if k not in known)
            self.records.setdefault(sobject, {})[record["Id"]] = dict(record)

    def forget_jobs(self) -> None:
        self.jobs.clear()

    def __call__(self, request: Request) -> Reply:
        if request.path == "/services/oauth2/token" and request.method == "POST":
            return self._token(request)
        if request.header("Authorization") != f"Bearer {self.token}":
            return error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        base = f"/services/data/{self.version}"
        path = request.path
        if match := re.fullmatch(rf"{base}/sobjects/(\w+)/describe", path):
            return self._describe(match.group(1))
        if path == f"{base}/jobs/query" and request.method == "POST":
            return self._create(request)
        if match := re.fullmatch(rf"{base}/jobs/query/(\w+)", path):
            return self._job_info(match.group(1))
        if match := re.fullmatch(rf"{base}/jobs/query/(\w+)/results", path):
            return self._results(request, match.group(1))
        return error(404, "NOT_FOUND", f"The requested resource does not exist: {path}")

    def _token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if (form.get("client_id"), form.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                return Reply.json(
                    {"error": "invalid_client", "error_description": "invalid client credentials"},
                    400,
                )
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if not self._valid_assertion(form.get("assertion", "")):
                return Reply.json(
                    {"error": "invalid_grant", "error_description": "invalid assertion"}, 400
                )
        else:
            return Reply.json({"error": "unsupported_grant_type"}, 400)
        return Reply.json({"access_token": self.token, "instance_url": request.base_url,
                           "id": f"{request.base_url}/id/00Dxx0000001gPL/005xx000001Sv6e",
                           "token_type": "Bearer", "issued_at": "1714650000000",
                           "signature": "c2lnbmF0dXJl"})  # fmt: skip

    def _valid_assertion(self, assertion: str) -> bool:
        parts = assertion.split(".")
        if self.public_key is None or len(parts) != 3:
            return False
        header, claims, signature = (base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))
                                     for p in parts)  # fmt: skip
        try:
            self.public_key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:  # noqa: BLE001 (InvalidSignature)
            return False
        body = json.loads(claims)
        return (
            json.loads(header).get("alg") == "RS256"
            and body.get("iss") == self.client_id
            and body.get("sub") == self.username
            and body.get("aud") == "https://login.salesforce.com"
            and time.time() < body.get("exp", 0) <= time.time() + 300
        )

    def _describe(self, sobject: str) -> Reply:
        if sobject not in self.fields:
            return error(404, "NOT_FOUND", f"The requested resource does not exist: {sobject}")
        return Reply.json({"name": sobject, "queryable": self.queryable.get(sobject, True),
                           "fields": [{"name": f} for f in self.fields[sobject]]})  # fmt: skip

    def _create(self, request: Request) -> Reply:
        body = json.loads(request.body)
        if body.get("operation") not in ("query", "queryAll") or body.get("contentType") != "CSV":
            return error(400, "INVALIDJOB", "operation must be query or queryAll, contentType CSV")
        match = QUERY.match(body.get("query", ""))
        if not match:
            return error(400, "MALFORMED_QUERY", f"unexpected query: {body.get('query')!r}")
        sobject, fields = match["object"], [f.strip() for f in match["fields"].split(",")]
        unknown = [f for f in fields if f not in self.fields.get(sobject, [])]
        if unknown:
            return error(400, "INVALIDJOB", f"No such column '{unknown[0]}' on {sobject}")
        since = match["since"]
        rows = [
            dict(r)
            for r in self.records.get(sobject, {}).values()
            if (since is None or r["SystemModstamp"][:19] + "Z" >= since)
            and (body["operation"] == "queryAll" or r.get("IsDeleted") != "true")
        ]
        rows.sort(key=lambda r: r["Id"])
        job = Job(f"750xx0000000{next(self._ids):03d}AAA", sobject, fields, rows,
                  body["operation"], self.polls_in_progress)  # fmt: skip
        self.jobs[job.id] = job
        return Reply.json(self._info(job, "UploadComplete"))

    def _info(self, job: Job, state: str) -> dict:
        info = {"id": job.id, "operation": job.operation, "object": job.sobject,
                "createdById": "005xx000001Sv6eAAC", "createdDate": "2024-05-02T10:00:00.000+0000",
                "systemModstamp": "2024-05-02T10:00:01.000+0000", "state": state,
                "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": 62.0,
                "lineEnding": "LF", "columnDelimiter": "COMMA"}  # fmt: skip
        if state == "JobComplete":
            info |= {
                "numberRecordsProcessed": len(job.rows),
                "retries": 0,
                "totalProcessingTime": 12,
            }
        return info

    def _job_info(self, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return error(404, "NOT_FOUND", f"Job {job_id} not found")
        if self.job_failure:
            return Reply.json(self._info(job, "Failed") | {"errorMessage": self.job_failure})
        if job.polls_left > 0:
            job.polls_left -= 1
            return Reply.json(self._info(job, "InProgress"))
        return Reply.json(self._info(job, "JobComplete"))

    def _results(self, request: Request, job_id: str) -> Reply:
        job = self.jobs.get(job_id)
        if job is None:
            return error(404, "NOT_FOUND", f"Job {job_id} not found")
        if "text/csv" not in (request.header("Accept") or "") and "*/*" not in (
            request.header("Accept") or ""
        ):
            return error(406, "UNSUPPORTED_MEDIA_TYPE", "results are text/csv")
        locator = request.query.get("locator")
        if locator is not None and locator not in job.locators:
            return error(404, "NOT_FOUND", f"Invalid locator {locator}")
        start = job.locators.get(locator, 0) if locator else 0
        size = int(request.query.get("maxRecords") or self.default_page_size)
        page = job.rows[start : start + size]
        following = "null"
        if start + size < len(job.rows):
            following = base64.b64encode(f"{job.id}:{start + size}".encode()).decode()
            job.locators[following] = start + size
        lines = [job.fields] + [[row.get(f, "") for f in job.fields] for row in page]
        text = "".join(",".join(_quoted(v) for v in line) + "\n" for line in lines)
        return Reply(200, text.encode(), {"Content-Type": "text/csv", "Sforce-Locator": following,
                                          "Sforce-NumberOfRecords": str(len(page))})  # fmt: skip


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'
