"""In-the-moment follow-up: signed Typeform and Qualtrics notifications over real HTTP on
127.0.0.1, acted on through the detractor playbook, the ledger and the outbox of a real DuckDB.

The warehouse is the hand-made one of tests/small_marts.py (Ana C1 en, Omar C2 ar, Olga C4
opted out); the clock is pinned to 2024-06-05 14:00 UTC, a Wednesday afternoon.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from small_marts import NOW, build_warehouse

from cxloop.act import load_specs, plan_context
from cxloop.act import run_playbooks as act_batch
from cxloop.config import load_project
from cxloop.moment.act import MomentActor, act_on_responses
from cxloop.moment.receive import QualtricsReceiver, qualtrics_source, typeform_receiver
from cxloop.moment.serve import QUALTRICS_PATH, TYPEFORM_PATH, _route
from cxloop.playbooks.channels import OutboxChannel
from cxloop.sources import typeform
from cxloop.sources.webhook_requests import typeform_signature
from cxloop.webhooks import make_routes_server

SECRET = "moment-secret"
CLOCK = NOW.timestamp() + 30
CONFIG = """\
version: 1
company: Example Co
sources:
  typeform:
    kind: typeform
    path: typeform
    secret_env: CXLOOP_TEST_TYPEFORM_SECRET
    forms:
      - form_id: fMoment1
        survey_id: TF_moment
        kind: in_the_moment
        fields: {nps: nps, open_text: why}
        hidden: {email: email, language: lang}
  qualtrics:
    kind: qualtrics
    path: qualtrics
    surveys:
      - file: "nps_*.csv"
        survey_id: SV_0Moment
        kind: transactional
        fields: {nps: QID1, open_text: QID2_TEXT}
"""


NPS_FIELD = {"id": "Fn1", "type": "nps", "ref": "nps"}
WHY_FIELD = {"id": "Ft2", "type": "long_text", "ref": "why"}


def typeform_body(event_id: str, token: str, email: str, nps: int, submitted_at: str) -> bytes:
    """A form_response as Typeform sends it (docs: webhook payload), written by hand."""
    body = {
        "event_id": event_id,
        "event_type": "form_response",
        "form_response": {
            "form_id": "fMoment1",
            "token": token,
            "landed_at": submitted_at,
            "submitted_at": submitted_at,
            "hidden": {"email": email, "lang": "en"},
            "definition": {
                "id": "fMoment1",
                "fields": [
                    {"id": "Fn1", "ref": "nps", "type": "nps", "properties": {}},
                    {"id": "Ft2", "ref": "why", "type": "long_text", "properties": {}},
                ],
            },
            "answers": [
                {"type": "number", "number": nps, "field": NPS_FIELD},
                {"type": "text", "text": "Too slow", "field": WHY_FIELD},
            ],
        },
    }  # fmt: skip
    return json.dumps(body).encode()


@pytest.fixture
def qualtrics_api() -> Iterator[dict]:
    """A stand-in for GET /API/v3/surveys/{surveyId}/responses/{responseId} on 127.0.0.1."""
    state: dict = {"requests": [], "responses": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state["requests"].append((self.path, self.headers.get("X-API-TOKEN")))
            found = state["responses"].get(self.path)
            payload = json.dumps(found or {"meta": {"httpStatus": "404 - Not Found"}}).encode()
            self.send_response(200 if found else 404)
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


@pytest.fixture
def loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qualtrics_api: dict) -> Iterator[dict]:
    """The receiver (both routes) and the actor on a real warehouse; the outbox as channel."""
    monkeypatch.setenv("CXLOOP_TEST_TYPEFORM_SECRET", SECRET)
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "cxloop.yaml").write_text(CONFIG)
    _, project = load_project(sources, None)
    warehouse = build_warehouse(tmp_path / "cx.duckdb")
    spec = load_specs(project, ["detractor_followup"])[0]
    outbox = OutboxChannel(tmp_path / "outbox", "cx@example.com", "CX")
    ctx = plan_context(project, NOW)

    def act(batch: list) -> dict:
        return act_on_responses(warehouse, batch, spec, channel=outbox, ctx=ctx)

    actor = MomentActor(act, batch_seconds=0.2, log=lambda line: None).start()
    tf = typeform_receiver(sources, project, clock=lambda: CLOCK)
    _, qcfg = qualtrics_source(project)  # type: ignore[misc]
    qr = QualtricsReceiver(
        qcfg, sources / "qualtrics", qualtrics_api["url"], "api-token", "hook-token",
        clock=lambda: CLOCK,
    )  # fmt: skip
    routes = {
        TYPEFORM_PATH: _route(tf.receive, actor.submit, with_query=False),
        QUALTRICS_PATH: _route(qr.receive, actor.submit, with_query=True),
    }
    server = make_routes_server(routes, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield {"url": url, "warehouse": warehouse, "sources": sources, "actor": actor,
               "project": project, "spec": spec, "outbox": outbox, "ctx": ctx}  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
        actor.stop()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def wait_for_batches(actor: MomentActor, n: int) -> None:
    deadline = time.monotonic() + 60
    while len(actor.batches) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(actor.batches) >= n, actor.batches


def emails(warehouse: Path) -> dict[str, tuple[str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select action_key, status, recipient from ops.playbook_actions where channel = 'email'"
        ).fetchall()
    finally:
        con.close()
    return {key: (status, recipient) for key, status, recipient in rows}


def test_signed_typeform_detractor_is_followed_up_once_and_lands_for_the_batch(loop: dict) -> None:
    url = loop["url"] + TYPEFORM_PATH
    body = typeform_body("01J0MOMENTANA0000000000001", "tokAna1", "Ana@Acme.example", 3,
                         "2024-06-05T13:59:40Z")  # fmt: skip
    signed = {"Typeform-Signature": typeform_signature(SECRET, body)}

    tampered = body.replace(b'"number": 3', b'"number": 10')
    assert post(url, tampered, signed)[0] == 403
    assert post(url, body, {"Typeform-Signature": typeform_signature("other", body)})[0] == 403
    assert post(url, body, {})[0] == 403
    stale = typeform_body("01J0MOMENTANA0000000000002", "tokAna2", "ana@acme.example", 3,
                          "2024-06-03T13:00:00Z")  # fmt: skip
    status, text = post(url, stale, {"Typeform-Signature": typeform_signature(SECRET, stale)})
    assert (status, "stale" in text) == (403, True)
    assert list((loop["sources"] / "typeform" / "webhooks").glob("*.http")) == []

    assert post(url, body, signed) == (200, "stored typeform response tokAna1\n")
    wait_for_batches(loop["actor"], 1)
    assert post(url, body, signed) == (200, "replay: already received, ignored\n")

    key = "detractor_followup:tokAna1:email"
    assert emails(loop["warehouse"]) == {key: ("sent", "ana@acme.example")}
    [eml] = (loop["outbox"].folder).glob("*.eml")
    assert "To: ana@acme.example" in eml.read_text()
    assert loop["actor"].batches[0]["responses"] == 1

    # the request file is the batch path's: the Typeform adapter reads and verifies it
    [request] = (loop["sources"] / "typeform" / "webhooks").glob("*.http")
    cfg = loop["project"].sources["typeform"]
    batch = typeform.read_file("responses", request, "typeform/webhooks/x.http", cfg)
    assert [(r.problem, r.values["token"], r.values["nps"]) for r in batch.rows] == [
        (None, "tokAna1", "3")
    ]

    # the build later brings the same response into the marts: the scheduled act sends nothing
    con = duckdb.connect(str(loop["warehouse"]))
    con.execute(
        "insert into marts.fct_survey_responses values ('tokAna1', 'C1', 'A1', 3, 'detractor', "
        "'en', 'ana@acme.example', '2024-06-05 13:59:40', 'Too slow')"
    )
    con.close()
    counts = act_batch(loop["warehouse"], [loop["spec"]], channel=loop["outbox"], ctx=loop["ctx"])
    sent_keys = [k for k, (s, _) in emails(loop["warehouse"]).items() if s == "sent"]
    assert sent_keys.count(key) == 1
    assert "ana@acme.example" not in {
        r for k, (s, r) in emails(loop["warehouse"]).items() if k != key and s == "sent"
    }  # cooldown: Ana's older R1 waits, she is not mailed twice in 72 h
    assert counts["detractor_followup"]["skipped"].get("cooldown") == 1


def test_qualtrics_notification_is_fetched_and_acted_on(loop: dict, qualtrics_api: dict) -> None:
    path = "/API/v3/surveys/SV_0Moment/responses/R_1MomentOmar"
    qualtrics_api["responses"][path] = {
        "result": {
            "responseId": "R_1MomentOmar",
            "values": {
                "startDate": "2024-06-05T13:58:00Z", "endDate": "2024-06-05T13:59:00Z",
                "status": 0, "progress": 100, "finished": 1,
                "recordedDate": "2024-06-05T13:59:01.250Z", "_recordId": "R_1MomentOmar",
                "recipientEmail": "omar@acme.example", "userLanguage": "AR",
                "QID1": 2, "QID2_TEXT": "لم يرد أحد",
            },
            "labels": {"QID1": "2"}, "displayedFields": ["QID1", "QID2_TEXT"],
        },
        "meta": {"httpStatus": "200 - OK", "requestId": "req-1"},
    }  # fmt: skip
    note = urllib.parse.urlencode(
        {
            "Topic": "surveyengine.completedResponse.SV_0Moment",
            "Status": "Complete",
            "SurveyID": "SV_0Moment",
            "ResponseID": "R_1MomentOmar",
            "CompletedDate": "2024-06-05T13:59:01Z",
            "BrandID": "example",
        }
    ).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    url = loop["url"] + QUALTRICS_PATH
    assert post(url + "?token=wrong", note, form)[0] == 403
    assert qualtrics_api["requests"] == []
    assert post(url + "?token=hook-token", note, form) == (
        200,
        "stored qualtrics response R_1MomentOmar\n",
    )
    wait_for_batches(loop["actor"], 1)
    assert post(url + "?token=hook-token", note, form)[1].startswith("replay")
    assert qualtrics_api["requests"] == [(path, "api-token")]
    assert emails(loop["warehouse"]) == {
        "detractor_followup:R_1MomentOmar:email": ("sent", "omar@acme.example")
    }
    kept = json.loads(
        (loop["sources"] / "qualtrics" / "events" / "SV_0Moment-R_1MomentOmar.json").read_text()
    )
    assert kept["response"]["values"]["QID1"] == 2


def test_opted_out_unknown_and_gate_closed_are_not_mailed(loop: dict) -> None:
    url = loop["url"] + TYPEFORM_PATH
    for n, email in enumerate(["olga@globex.example", "stranger@nowhere.example"], start=1):
        body = typeform_body(f"01J0MOMENTGUARD00000000000{n}", f"tokG{n}", email, 1,
                             "2024-06-05T13:59:00Z")  # fmt: skip
        assert post(url, body, {"Typeform-Signature": typeform_signature(SECRET, body)})[0] == 200
    wait_for_batches(loop["actor"], 1)
    counts = loop["actor"].batches[0]
    assert (counts["suppressed"], counts["unknown_respondent"], counts["sent"]) == (1, 1, 0) or (
        sum(b["suppressed"] for b in loop["actor"].batches),
        sum(b["unknown_respondent"] for b in loop["actor"].batches),
    ) == (1, 1)
    assert emails(loop["warehouse"]) == {
        "detractor_followup:tokG1:email": ("suppressed", "olga@globex.example")
    }

    # a failed check closes the gate: the response lands, nobody is mailed now
    con = duckdb.connect(str(loop["warehouse"]))
    con.execute("update ops.gate_verdicts set passed = false")
    con.close()
    body = typeform_body("01J0MOMENTGATE000000000001", "tokGate", "ana@acme.example", 0,
                         "2024-06-05T13:59:50Z")  # fmt: skip
    before = len(loop["actor"].batches)
    assert post(url, body, {"Typeform-Signature": typeform_signature(SECRET, body)})[0] == 200
    wait_for_batches(loop["actor"], before + 1)
    assert loop["actor"].batches[-1]["gate_blocked"] is True
    assert "detractor_followup:tokGate:email" not in emails(loop["warehouse"])
    assert len(list((loop["sources"] / "typeform" / "webhooks").glob("*.http"))) == 3


def test_actor_waits_for_the_writer_while_a_build_holds_it(tmp_path: Path) -> None:
    held = threading.Lock()
    done = threading.Event()
    acted_at: list[float] = []

    def act(batch: list) -> dict:
        acted_at.append(time.monotonic())
        done.set()
        return {"responses": len(batch)}

    @contextlib.contextmanager
    def slot() -> Iterator[None]:
        with held:
            yield

    actor = MomentActor(act, slot, batch_seconds=0.05, log=lambda line: None).start()
    with held:  # a build holds the slot for 1.5 s
        released = time.monotonic() + 1.5
        from cxloop.moment.receive import ReceivedResponse

        actor.submit(ReceivedResponse("typeform", "e", "r", "s", 1, None, None, None,
                                      datetime(2024, 6, 5, tzinfo=UTC), time.time()))  # fmt: skip
        time.sleep(1.5)
    assert done.wait(10)
    actor.stop()
    assert acted_at[0] >= released - 0.05
    assert actor.batches[0]["waited_for_writer_seconds"] >= 1.3
