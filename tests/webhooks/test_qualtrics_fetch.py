"""The in-the-moment Qualtrics fetch goes through the connectors' HTTP layer: it waits what
Retry-After says, names the vendor's error code, and sends the token only to the configured
host. A hand-written stand-in API on 127.0.0.1; no warehouse."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_moment_followup import CONFIG

from cxloop.config import load_project
from cxloop.moment.receive import QualtricsReceiver, qualtrics_source
from cxloop.webhooks import WebhookRejected

PATH = "/API/v3/surveys/SV_relational_nps/responses/R_1"
RESULT = {"result": {"responseId": "R_1", "values": {"QID1": 3}}}


@pytest.fixture
def api() -> Iterator[dict]:
    """Answers queued per request: (status, headers, body)."""
    state: dict = {"answers": [], "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state["requests"].append((self.path, self.headers.get("X-API-TOKEN")))
            status, headers, body = state["answers"].pop(0)
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def receiver(tmp_path: Path, url: str, slept: list[float]) -> QualtricsReceiver:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "cxloop.yaml").write_text(CONFIG)
    _, project = load_project(sources, None)
    _, cfg = qualtrics_source(project)  # type: ignore[misc]
    return QualtricsReceiver(
        cfg, sources / "qualtrics", url, "api-token", "hook-token", sleep=slept.append
    )


def test_a_429_waits_what_retry_after_says(api: dict, tmp_path: Path) -> None:
    slept: list[float] = []
    api["answers"] = [(429, {"Retry-After": "7"}, {}), (200, {}, RESULT)]
    result = receiver(tmp_path, api["url"], slept).fetch("SV_relational_nps", "R_1")
    assert result == RESULT["result"]
    assert slept == [7.0]
    assert api["requests"] == [(PATH, "api-token")] * 2


def test_an_auth_error_names_the_vendor_code_and_is_not_retried(api: dict, tmp_path: Path) -> None:
    body = {"meta": {"httpStatus": "401 - Unauthorized", "error": {"errorCode": "AUTH_1.0"}}}
    api["answers"] = [(401, {}, body)]
    with pytest.raises(WebhookRejected, match=r"HTTP 401 AUTH_1\.0") as caught:
        receiver(tmp_path, api["url"], []).fetch("SV_relational_nps", "R_1")
    assert "api-token" not in str(caught.value)
    assert len(api["requests"]) == 1


def test_a_server_error_is_retried_a_bounded_number_of_times(api: dict, tmp_path: Path) -> None:
    slept: list[float] = []
    api["answers"] = [(503, {}, {})] * 3
    with pytest.raises(WebhookRejected, match="HTTP 503 after 3 attempts"):
        receiver(tmp_path, api["url"], slept).fetch("SV_relational_nps", "R_1")
    assert len(api["requests"]) == 3 and len(slept) == 2
