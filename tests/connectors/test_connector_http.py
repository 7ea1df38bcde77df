"""The HTTP layer every connector uses: waits, retries, one-line errors, the host rule."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path

import pytest
from pullkit import write_config, zendesk_source
from vendor_http import Reply, Request, serve

from cxloop.config import load_config
from cxloop.connectors.http import (
    ApiAuthError,
    ApiClient,
    ApiError,
    ApiRequestError,
    retry_after_seconds,
)
from cxloop.connectors.run import pull_source
from cxloop.errors import ConfigError


def echo(request: Request) -> Reply:
    return Reply.json({"path": request.path, "auth": request.header("Authorization")})


def client(url: str, **kwargs: object) -> tuple[ApiClient, list[float]]:
    waits: list[float] = []
    api = ApiClient("src", url, {"Authorization": "Bearer s3cret"}, sleep=waits.append, **kwargs)
    return api, waits


def test_retry_after_in_seconds_or_as_a_date_and_vendor_reset_headers() -> None:
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    assert retry_after_seconds({"Retry-After": formatdate(1_000_030, usegmt=True)},
                               now=1_000_000) == pytest.approx(30)  # fmt: skip
    assert retry_after_seconds({"X-Rate-Limit-Reset": "12"}) == 12
    reset = {"RateLimit-Reset": "1800000045"}  # an epoch time: seconds until then
    assert retry_after_seconds(reset, now=1_800_000_000) == 45
    assert retry_after_seconds({}) is None


def test_429_waits_as_asked_without_using_the_retry_budget() -> None:
    with serve(echo) as server:
        for _ in range(3):
            server.fail("/x", 429, Retry_After="2")
        api, waits = client(server.url, max_retries=0)
        assert api.get_json("/x")["path"] == "/x"
    assert waits == [2.0, 2.0, 2.0] and api.stats.rate_limited == 3


def test_a_dropped_connection_and_a_502_are_retried_with_backoff() -> None:
    with serve(echo) as server:
        server.fail("/x", 0)  # the server closes the connection without answering
        server.fail("/x", 502)
        api, waits = client(server.url, max_retries=2)
        assert api.get_json("/x")["auth"] == "Bearer s3cret"
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.5 and 1.0 <= waits[1] <= 3.0


def test_other_4xx_and_non_json_are_one_line_errors_without_the_secret() -> None:
    with serve(lambda r: Reply(422, b'{"error":"InvalidValue"}')) as server:
        api, _ = client(server.url)
        with pytest.raises(ApiRequestError) as err:
            api.get_json("/x", {"cursor": "abc"})
    assert str(err.value) == f'GET {server.url}/x: HTTP 422: {{"error":"InvalidValue"}}'
    with serve(lambda r: Reply(200, b"<html>", {"Content-Type": "text/html"})) as server:
        api, _ = client(server.url)
        with pytest.raises(ApiError, match="the body is not JSON"):
            api.get_json("/x")
    assert "s3cret" not in str(err.value)


def test_a_next_page_on_another_host_is_refused() -> None:
    api, _ = client("http://127.0.0.1:9/api")
    assert api.url("/v2/x.json") == "http://127.0.0.1:9/api/v2/x.json"
    with pytest.raises(ApiError, match="another host"):
        api.url("https://evil.example/api/v2/x.json")


def test_since_replaces_the_cursor_and_config_errors_name_the_key(
    tmp_path: Path,
    zendesk_app,
    zendesk_server,
    zendesk_env,  # noqa: ANN001
) -> None:
    config = load_config(write_config(tmp_path, {
        "zendesk": zendesk_source(zendesk_server.url, entities=["organizations"]),
        "events": {"kind": "sendgrid", "path": "sendgrid", "api": {"base_url": "http://x"}},
        "bad": zendesk_source(zendesk_server.url, entities=["macros"])}))  # fmt: skip
    zendesk_app.put("organizations", {"id": 77, "updated_at": "2024-02-01T00:00:00Z"})
    for _ in range(2):  # the first from 0, the second from the cursor
        pull_source(tmp_path, "zendesk", config.sources["zendesk"])
    pull_source(tmp_path, "zendesk", config.sources["zendesk"],
                since=datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    starts = [r.query["start_time"] for r in zendesk_server.requests]
    assert starts == ["0", "1706745600", "1704067200"]
    with pytest.raises(ConfigError, match="no API connector for kind sendgrid"):
        pull_source(tmp_path, "events", config.sources["events"])
    with pytest.raises(ConfigError, match=r"sources.bad.api.entities': macros not pulled"):
        pull_source(tmp_path, "bad", config.sources["bad"])


def test_a_403_names_the_vendors_error_code_never_its_message_or_a_secret() -> None:
    # Salesforce's answer when the org's daily API requests are used up (REST API errors are
    # a JSON array of {message, errorCode})
    limit = b'[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]'
    with serve(lambda r: Reply(403, limit)) as server:
        api, _ = client(server.url)
        with pytest.raises(ApiAuthError) as err:
            api.get_json("/services/data/v62.0/jobs/query")
    line = str(err.value)
    endpoint = f"GET {server.url}/services/data/v62.0/jobs/query"
    assert line.startswith(f"{endpoint}: HTTP 403 REQUEST_LIMIT_EXCEEDED (the org's API request")
    assert "\n" not in line and "TotalRequests" not in line
    # HubSpot's scope error: the category; Qualtrics' nested code; a body echoing the token
    scopes = b'{"status":"error","message":"missing scopes","category":"MISSING_SCOPES"}'
    nested = b'{"meta":{"httpStatus":"403 - Forbidden","error":{"errorCode":"AUTH_403"}}}'
    echoed = b'{"error":"s3cret"}'
    for body, shown in ((scopes, "HTTP 403 MISSING_SCOPES ("), (nested, "HTTP 403 AUTH_403 ("),
                        (echoed, "HTTP 403 (check that")):  # fmt: skip
        with serve(lambda r, body=body: Reply(403, body)) as server:
            api, _ = client(server.url)
            with pytest.raises(ApiAuthError) as err:
                api.get_json("/x")
        assert shown in str(err.value) and "s3cret" not in str(err.value)
