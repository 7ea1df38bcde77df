"""Prefect plumbing shared by the flows: the warehouse-writer slot and timing of stages."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from prefect import get_run_logger
from prefect.concurrency.sync import concurrency
from prefect.exceptions import MissingContextError
from prefect.runtime import flow_run

from cxloop.flows.prefect_api import temporary_api

WRITER_LIMIT = "warehouse-writer"
# The holder renews its lease every three quarters of it (Prefect's renewal thread); a holder
# killed outright (kill -9, the machine lost) stops renewing, and the server takes the slot
# back once the lease runs out: others wait at most this long for a dead run (an hour before).
WRITER_LEASE_SECONDS = 300
RECLAIM_EVERY_S = 30.0  # how often a command waiting on a temporary server looks for dead holders
API_RETRY_S = 1.0  # a waiting command asks again this soon after the API failed to answer
API_OUTAGE_S = 120.0  # and gives up once its attempts have failed this long in a row
# An attempt that failed after this long waited on answers first (the slot taken: 423) or on a
# slow server, not on a failing one (Prefect's client gives up after five retries, ~62 s of
# back-off): the failures before it are no longer "in a row".
API_ANSWERED_S = 90.0
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
_holding = contextvars.ContextVar("cxloop_holding_writer_slot", default=False)
_limit_ready = False


def ensure_writer_limit() -> None:
    """Create the global concurrency limit `warehouse-writer` (limit 1) if the API lacks it."""
    global _limit_ready
    if _limit_ready:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(WRITER_LIMIT)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=WRITER_LIMIT, limit=1)
                )
    _limit_ready = True


def reclaim_dead_holders() -> int:
    """Take back the writer slot from a command that died holding it; how many were taken.

    A Prefect server's Repossessor revokes a lease its holder stopped renewing, but the
    temporary server a command starts is ephemeral, and Prefect runs no Repossessor there:
    a command killed outright (kill -9, the machine lost) left the slot taken for good, and
    every later command waited forever. Temporary servers keep their leases in files under
    PREFECT_HOME (`prefect_api.LEASE_STORAGE`), so a command talking to one does the
    Repossessor's work before and while it waits (`_reclaiming`): each lease on the writer
    limit that is still expired when read again is released through the API. A count of taken
    slots that no live lease accounts for (left by a kill from before leases were kept in
    files), unchanged over two looks a second apart, is set back to the live leases' count,
    on a SQLite database only (a PostgreSQL one is a team's, where a server of its own may
    hold leases these files do not show). One command at a time does this (a lock file beside
    the leases), so two never release the same lease twice.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
    from prefect.server.concurrency.lease_storage.filesystem import ConcurrencyLeaseStorage

    storage = ConcurrencyLeaseStorage()
    storage.storage_path.mkdir(parents=True, exist_ok=True)
    released = 0
    with _locked(storage.storage_path / "cxloop-reclaim.lock"):
        with get_client(sync_client=True) as client:

            def taken() -> int:
                return client.read_global_concurrency_limit_by_name(WRITER_LIMIT).active_slots

            def leases() -> tuple[list[uuid.UUID], list[uuid.UUID]]:  # (expired, live)
                return beside(lambda: _writer_leases(storage, limit_id), "cxloop-reclaim")()

            limit_id = client.read_global_concurrency_limit_by_name(WRITER_LIMIT).id
            for lease_id in leases()[0]:
                if beside(
                    lambda lease=lease_id: _still_expired(storage, lease), "cxloop-reclaim"
                )():
                    client.release_concurrency_slots_with_lease(lease_id)
                    released += 1
            first = taken()
            if first > len(leases()[1]) and _sqlite_database():
                time.sleep(1.0)  # a holder between taking its slot and writing its lease
                live = leases()[1]
                if taken() == first > len(live):
                    client.update_global_concurrency_limit(
                        WRITER_LIMIT, GlobalConcurrencyLimitUpdate(active_slots=len(live))
                    )
    if released:
        _logger().warning(
            "took back the %s slot from %d run(s) that stopped without releasing it",
            WRITER_LIMIT,
            released,
        )
    return released


def _sqlite_database() -> bool:
    """Whether the Prefect server keeps its database in SQLite (the default, a file under
    PREFECT_HOME), as the servers of one machine's commands do."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    return url is None or url.get_secret_value().startswith("sqlite")


@contextlib.contextmanager
def _locked(path: Any) -> Iterator[None]:
    """An exclusive lock on `path` (a file) for the body, across processes."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _still_expired(storage: Any, lease_id: uuid.UUID) -> bool:
    """Whether the lease file still says the lease has run out (its holder did not renew)."""
    import datetime as dt

    import anyio

    async def read() -> bool:
        lease = await storage.read_lease(lease_id)
        return lease is not None and lease.expiration < dt.datetime.now(dt.UTC)

    return anyio.run(read)


def _writer_leases(storage: Any, limit_id: uuid.UUID) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """The writer limit's expired and live leases in the lease files."""

    async def read() -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        expired = []
        for lease_id in await storage.read_expired_lease_ids(limit=10_000):
            lease = await storage.read_lease(lease_id)
            if lease is not None and limit_id in lease.resource_ids:
                expired.append(lease_id)
        live = []
        for lease_id in await storage.read_active_lease_ids(limit=10_000):
            lease = await storage.read_lease(lease_id)
            if lease is not None and limit_id in lease.resource_ids:
                live.append(lease_id)
        return expired, live

    import anyio

    return anyio.run(read)


@contextlib.contextmanager
def warehouse_slot(
    wait_seconds: float | None = None, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the one warehouse-writer slot; re-entrant, so a flow's subflows do not deadlock.

    DuckDB allows one writing process: scheduled runs queue here instead of failing on the lock.
    `wait_seconds` limits the wait (TimeoutError past it; default: as long as it takes);
    `on_wait` is called once if the slot is not free at once (a command tells its user why).
    A failed renewal of the lease does not stop the holder (a Prefect server that hiccups must
    not kill a long run): past its lease another writer may get the slot, and then waits for
    DuckDB's lock instead.
    """
    if _holding.get():
        yield
        return
    ensure_writer_limit()
    log = _logger()
    if temporary_api():
        _try_reclaim()
    log.info("waiting for the %s slot", WRITER_LIMIT)
    with _slot(wait_seconds, on_wait):
        log.info("holding the %s slot", WRITER_LIMIT)
        token = _holding.set(True)
        try:
            yield
        finally:
            _holding.reset(token)
            log.info("releasing the %s slot", WRITER_LIMIT)


def _slot(wait_seconds: float | None, on_wait: Callable[[], None] | None) -> contextlib.ExitStack:
    """The writer slot's lease, acquired (a context that releases it)."""
    hold = functools.partial(
        concurrency,
        WRITER_LIMIT,
        occupy=1,
        strict=True,
        lease_duration=WRITER_LEASE_SECONDS,
        raise_on_lease_renewal_failure=False,
    )
    stack = contextlib.ExitStack()
    if on_wait is not None:
        try:
            _acquire(stack, hold, 1, outage_seconds=0)
            return stack
        except TimeoutError:
            on_wait()
    with _reclaiming() if temporary_api() else contextlib.nullcontext():
        _acquire(stack, hold, wait_seconds)
    return stack


def _acquire(
    stack: contextlib.ExitStack,
    hold: Callable[..., contextlib.AbstractContextManager[None]],
    wait_seconds: float | None,
    outage_seconds: float | None = None,
) -> None:
    """Enter `hold` (the slot) on `stack` within `wait_seconds` (None: however long it takes).

    Prefect retries only the server's "taken" answer (423) while it waits, and some failed
    requests five times; past those, a failed request ends the wait with
    ConcurrencySlotAcquisitionError. A server that cannot answer for a moment (a 500 or 503
    while its SQLite database is busy: several commands on one machine share one PREFECT_HOME)
    must not fail a command that waits its turn, so the slot is asked for again
    `API_RETRY_S` after such a failure, until the attempts have failed for `outage_seconds`
    (default `API_OUTAGE_S`) in a row (then the last failure is raised) or the wait ends
    (TimeoutError, as for a slot that stayed taken, saying how often the API failed). A
    refusal (the limit missing, a 4xx) and a server that refuses connections (down, not busy:
    `cxloop callbacks` then goes on with DuckDB's lock) are raised at once. With
    `outage_seconds=0`, a failure to answer is a TimeoutError at once (the caller waits).
    """
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    outage = API_OUTAGE_S if outage_seconds is None else outage_seconds
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    streak_since: float | None = None  # when the attempts that failed in a row began
    failed = 0  # attempts of this wait that the API failed to answer
    last: ConcurrencySlotAcquisitionError | None = None  # the last of those failures
    while True:
        started = time.monotonic()
        left = None if deadline is None else deadline - started
        try:
            if left is not None and left <= 0:
                raise TimeoutError(f"the {WRITER_LIMIT} slot was not free within {wait_seconds} s")
            stack.enter_context(hold(timeout_seconds=left))
            return
        except TimeoutError as exc:
            if last is None:
                raise
            raise TimeoutError(
                f"{exc}; the Prefect API failed to answer {failed} time(s) meanwhile, "
                f"last with {last.__cause__!r}"
            ) from last
        except ConcurrencySlotAcquisitionError as exc:
            if not _transient(exc):
                raise
            if outage == 0:
                raise TimeoutError(f"the Prefect API failed: {exc.__cause__!r}") from exc
            now = time.monotonic()
            if now - started >= API_ANSWERED_S:  # it had answers first: a new streak from here
                streak_since = now
            elif streak_since is None:  # the first failed attempt: the streak from its start
                streak_since = started
            if now - streak_since >= outage:
                raise
            if last is None:  # once a wait: Prefect logs each failure itself
                _logger().warning(
                    "the Prefect API failed to answer for the %s slot (%r); asking again every "
                    "%g s for up to %g s",
                    WRITER_LIMIT,
                    exc.__cause__,
                    API_RETRY_S,
                    outage,
                )
            failed, last = failed + 1, exc
            time.sleep(API_RETRY_S)


def _transient(exc: BaseException) -> bool:
    """Whether a failed acquisition is a server failing to answer for now (500, 502, 503,
    504, 429; a request that timed out or broke off), not a refusal or a server that is down
    (the connection refused or not made), which are raised at once. Prefect's client retries
    429, 502, 503 and timeouts itself, five times; past those, and on a 500, its error ends
    the wait."""
    import httpx

    cause = exc.__cause__
    if isinstance(cause, httpx.HTTPStatusError):
        return cause.response.status_code in TRANSIENT_STATUS
    down = httpx.ConnectError | httpx.ConnectTimeout
    return isinstance(cause, httpx.TransportError) and not isinstance(cause, down)


def _try_reclaim() -> None:
    """`reclaim_dead_holders`, whose failure (a busy or unreachable server, the lock file)
    is a warning: the command waits as it would have; the next pass tries again."""
    try:
        reclaim_dead_holders()
    except Exception as exc:  # noqa: BLE001 - taking back a dead holder's slot is a bonus
        _logger().warning("could not look for runs that died holding the writer slot: %s", exc)


@contextlib.contextmanager
def _reclaiming() -> Iterator[None]:
    """While the body waits for the slot, take back a dead holder's every `RECLAIM_EVERY_S`
    (a holder killed just before this command started still has most of its lease to run)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(RECLAIM_EVERY_S):
            _try_reclaim()

    context = contextvars.copy_context()  # the run's logger and Prefect settings
    thread = threading.Thread(
        target=context.run, args=(loop,), name="cxloop-reclaim-writer-slot", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def stage_run_id(flow_name: str) -> str:
    """The id a stage records its work under (ops.builds, ops.quality_results).

    Run as a flow of its own, the stage's flow-run id, so the UI and the tables meet. Run inline
    by the pipeline (`stage.fn(...)`, no subflow of its own: docs/architecture.md), the current
    run is the pipeline's, which every stage shares, so each stage call gets a new id.
    """
    run = flow_run.get_id()
    if run and flow_run.get_flow_name() == flow_name:
        return str(run)
    return str(uuid.uuid4())


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The run's logger (its lines reach the Prefect API), else a module logger."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("cxloop.flows.orchestration")


# Called with (stage, None) when a pipeline stage starts and (stage, seconds) when it ends: the
# CLI's one line per stage. Registered in-process only (stage_listener); flows stay plain.
StageListener = Callable[[str, float | None], None]
_listeners: list[StageListener] = []


@contextlib.contextmanager
def stage_listener(listener: StageListener) -> Iterator[None]:
    """Tell `listener` about every pipeline stage run in this process while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class StageTimer:
    """Collects the wall-clock duration of each pipeline stage, for the run summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        self.seconds.setdefault(name, 0.0)  # stages side by side are listed in the order they began
        for listener in list(_listeners):
            listener(name, None)
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 2)
            for listener in list(_listeners):
                listener(name, self.seconds[name])


def beside(work: Callable[[], Any], name: str) -> Callable[[], Any]:
    """Start `work` in a thread of its own, in a copy of this context (Prefect's flow run, the
    warehouse slot this flow holds), while the caller goes on; returns `wait`, which joins it
    and returns its result or raises its exception in the caller's thread.

    For stages that are independent of each other (voice and scoring): one runs in Python
    while the other is in code that releases Python's lock (scikit-learn, DuckDB).
    """
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = context.run(work)
        except BaseException as exc:  # re-raised by wait(), in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def wait() -> Any:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    return wait
