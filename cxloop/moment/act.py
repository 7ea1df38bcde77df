"""Act on received survey responses in the moment: the batch playbook, on the new rows only.

`act_on_responses` opens the warehouse for one batch: reads the gate (the last marts check
passed), looks each respondent's e-mail up in `marts.dim_customers`, puts the responses in a
temporary table shaped like `marts.fct_survey_responses`, and runs the same playbook through
the same engine and ledger with that table as its trigger source. The action key is the
batch path's (`detractor_followup:{response_id}`), so the response that later reaches the
marts is never followed up twice. Suppression, cooldown, quiet hours and max_per_run apply
as in a scheduled run; a deferred response is followed up by the scheduled `act` once a
build has made it visible.

`MomentActor` collects responses from the HTTP threads and acts in batches, holding the
writer (the caller passes how: the flows pass the Prefect `warehouse-writer` slot), so it
waits while a build holds the warehouse and never holds it long itself.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import duckdb

from cxloop.moment.receive import ReceivedResponse
from cxloop.playbooks.channels import EmailChannel
from cxloop.playbooks.engine import run_playbooks as run_engine
from cxloop.playbooks.notify import Mirror
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import LoadedPlaybook
from cxloop.quality.gate import gate_state
from cxloop.sqlnames import quoted
from cxloop.warehouse import connect_when_free

TRIGGER_TABLE = "moment_responses"
LOG = logging.getLogger("cxloop.moment")


def nps_category(score: int | None) -> str | None:
    """detractor 0-6, passive 7-8, promoter 9-10 (docs/metrics.md)."""
    if score is None:
        return None
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def _customers(con: duckdb.DuckDBPyConnection, emails: list[str]) -> dict[str, tuple[str, str]]:
    """Normalized e-mail -> (customer_id, account_id), for e-mails naming one customer only."""
    rows = con.execute(
        "select lower(trim(email)), min(customer_id), min(account_id), count(distinct customer_id) "
        "from marts.dim_customers where lower(trim(email)) in (select unnest(?)) group by 1",
        [emails],
    ).fetchall()
    return {email: (cid, aid) for email, cid, aid, n in rows if n == 1}


def _load_trigger_table(
    con: duckdb.DuckDBPyConnection, responses: Sequence[ReceivedResponse]
) -> int:
    """The resolved responses as a temporary fct_survey_responses; returns how many were not."""
    con.execute(
        f"create or replace temp table {TRIGGER_TABLE} as "
        "select * from marts.fct_survey_responses limit 0"
    )
    have = {d[0] for d in con.execute(f"select * from {TRIGGER_TABLE} limit 0").description}
    emails = sorted({r.email.strip().lower() for r in responses if r.email})
    known = _customers(con, emails) if emails else {}
    rows, unresolved = [], 0
    for r in responses:
        match = known.get(r.email.strip().lower()) if r.email else None
        if match is None:
            unresolved += 1
            continue
        values = {
            "response_id": r.response_id,
            "customer_id": match[0],
            "account_id": match[1],
            "survey_id": r.survey_id,
            "nps_score": r.nps,
            "nps_category": nps_category(r.nps),
            "language": r.language,
            "respondent_email": r.email.strip().lower() if r.email else None,
            "responded_at": r.responded_at,
            "open_text": r.open_text,
        }
        rows.append({k: v for k, v in values.items() if k in have})
    for row in rows:
        names = ", ".join(quoted(k) for k in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {TRIGGER_TABLE} ({names}) values ({marks})", list(row.values()))
    return unresolved


def act_on_responses(
    warehouse: Path,
    responses: Sequence[ReceivedResponse],
    spec: LoadedPlaybook,
    *,
    channel: EmailChannel,
    ctx: PlanContext,
    mirrors: Sequence[Mirror] = (),
) -> dict[str, Any]:
    """Run the playbook on these responses only; counts as the act flow reports them."""
    con = connect_when_free(warehouse, 600)
    try:
        gate = gate_state(con)
        if spec.spec.guardrails.require_quality_gate and not gate.passed:
            return {"responses": len(responses), "gate_blocked": True, "gate": gate.message("act")}
        unresolved = _load_trigger_table(con, responses)
        counts = run_engine(
            con,
            [spec],
            renderer=TemplateRenderer(spec.file.parent / "templates"),
            channel=channel,
            ctx=ctx,
            gate_ok=True,
            mirrors=mirrors,
            source=TRIGGER_TABLE,
        )[spec.spec.name]
        counts.update(responses=len(responses), unknown_respondent=unresolved)
        return counts
    finally:
        con.close()


class MomentActor:
    """A thread that acts on received responses in batches, holding the writer for each."""

    def __init__(
        self,
        act: Callable[[Sequence[ReceivedResponse]], dict[str, Any]],
        hold_writer: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
        *,
        batch_seconds: float = 1.0,
        max_batch: int = 500,
        log: Callable[[str], None] = LOG.info,
    ) -> None:
        self._act, self._hold = act, hold_writer
        self.batch_seconds, self.max_batch, self._log = batch_seconds, max_batch, log
        self._queue: queue.Queue[ReceivedResponse | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="moment-actor", daemon=True)
        self.batches: list[dict[str, Any]] = []
        self.failures = 0

    def submit(self, response: ReceivedResponse) -> None:
        """Queue one response (called from the HTTP threads)."""
        self._queue.put(response)

    def start(self) -> MomentActor:
        self._thread.start()
        return self

    def stop(self, timeout: float = 120) -> None:
        """Act on what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.batch_seconds
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._process(batch)

    def _process(self, batch: list[ReceivedResponse]) -> None:
        started = time.time()
        try:
            with self._hold():
                waited = time.time() - started
                counts = self._act(batch)
        except Exception as exc:  # the files are landed: the scheduled act follows up
            self.failures += 1
            self._log(
                f"moment: {len(batch)} response(s) not acted on now ({exc}); the scheduled "
                "act follows them up after the next build"
            )
            return
        counts["waited_for_writer_seconds"] = round(waited, 2)
        counts["oldest_age_seconds"] = round(time.time() - min(r.arrived for r in batch), 2)
        self.batches.append(counts)
        self._log(
            f"moment: {len(batch)} response(s): sent {counts.get('sent', 0)}, suppressed "
            f"{counts.get('suppressed', 0)}, deferred {counts.get('skipped_by_guardrail', 0)}, "
            f"unknown respondent {counts.get('unknown_respondent', 0)}"
            + (" - gate closed, left to the scheduled act" if counts.get("gate_blocked") else "")
            + f" (waited {waited:.1f} s for the writer)"
        )
