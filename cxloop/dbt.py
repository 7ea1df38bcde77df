"""The one way cxloop invokes dbt: in-process through dbt's own `dbtRunner`, one call per command.

Every caller (the build's two phases, the PostgreSQL target, the identity
benchmark) goes through `invoke_dbt`: same project and profiles (package data), a target path
per dbt target under `$CXLOOP_HOME/dbt/`, dbt's log file under `DBT_LOG_PATH` (default
`$CXLOOP_HOME/dbt/logs`), the warehouse file released afterwards. Its result is plain data, one
`NodeResult` per node dbt ran, so a Prefect task can return and log it (docs/decisions.md: one
task per dbt invocation, not per node). The dbt vars that come from cxloop.yaml are built here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cxloop.config import BusinessHours, ProjectConfig
from cxloop.errors import ConfigError, CxloopError
from cxloop.heap import freeze_long_lived
from cxloop.package_data import dbt_project_dir
from cxloop.settings import Settings
from cxloop.warehouse import release_dbt_connections

DBT_PROJECT_DIR = dbt_project_dir()
FAILED = frozenset({"error", "fail", "runtime error"})
# dbt commands that read the parsed project: they share one parse per process (parsed_manifest)
PARSED = frozenset({"build", "run", "test", "seed", "compile", "source", "ls", "list", "show"})
_NOT_PROJECT = frozenset({"target", "logs", "dbt_packages", "__pycache__"})
_MANIFEST: dict[str, Any] = {}
_PARSING: list[subprocess.Popen[bytes]] = []  # a child's parse (parse_ahead) dbt calls wait for
_AHEAD: dict[int, tuple[Any, ...]] = {}  # a parse child's pid: the parse it runs (_manifest_key)
_PARSED_AHEAD: set[tuple[Any, ...]] = set()  # parses whose partial-parse file a child wrote
IDLE_PRIORITY = 19  # the nice value of a parse that must not slow what runs beside it


# dbt's parse as cxloop runs it: the partial-parse file is what the builds read, so no
# manifest.json (0.3 s of JSON a parse; every build writes its own manifest.json anyway)
PARSE = ["parse", "--no-write-json"]


class BuildError(CxloopError):
    """dbt failed: a model errored, an error-severity test failed, or dbt could not run."""


@dataclass(frozen=True)
class NodeResult:
    """What dbt reported for one node: status, seconds, message, and the facts callers read."""

    unique_id: str
    name: str
    resource_type: str  # model / test / unit_test / seed / source ...
    status: str  # success / pass / warn / error / fail / skipped; freshness: pass / warn / error
    seconds: float
    message: str = ""
    failures: int | None = None  # rows a test found
    attached_to: str | None = None  # tests: the unique_id of the node tested
    column_name: str | None = None
    severity: str | None = None  # tests: ERROR / WARN
    source_name: str | None = None  # sources
    relation: str | None = None  # schema.identifier
    max_loaded_at: datetime | None = None  # source freshness (naive UTC)
    age_seconds: float | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED


@dataclass(frozen=True)
class DbtRun:
    """One dbt invocation: its arguments, outcome and every node's result."""

    args: tuple[str, ...]
    success: bool
    completed: bool  # dbt ran the command (False: it could not even start, e.g. a parse error)
    seconds: float
    nodes: tuple[NodeResult, ...] = field(default_factory=tuple)
    error: str | None = None  # dbt's exception, when it could not complete

    @property
    def counts(self) -> dict[str, int]:
        """Nodes by status."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        return counts

    @property
    def failures(self) -> list[str]:
        """`unique_id: dbt's message` of every node that errored or failed."""
        return [f"{n.unique_id}: {n.message or n.status}" for n in self.nodes if n.failed]

    def slowest(self, n: int = 5) -> list[NodeResult]:
        return sorted(self.nodes, key=lambda node: node.seconds, reverse=True)[:n]

    def report(self) -> dict[str, object]:
        """The JSON-able summary the flows return: counts, failures, success, seconds."""
        return {
            "counts": self.counts,
            "failures": self.failures,
            "success": self.success,
            "seconds": round(self.seconds, 2),
        }

    def command(self) -> str:
        """`dbt <command> <selection>`, without the vars."""
        shown = list(self.args)
        if "--vars" in shown:
            at = shown.index("--vars")
            del shown[at : at + 2]
        return "dbt " + " ".join(shown)


def raise_for_failure(run: DbtRun) -> None:
    """BuildError naming the first failed nodes (or dbt's error) when the invocation failed."""
    if not run.success:
        detail = "; ".join(run.failures[:5]) or run.error or "failed"
        raise BuildError(f"{run.command()} failed: {detail}")


def invoke_dbt(
    args: Sequence[str],
    *,
    home: Path,
    vars_: dict[str, object] | None = None,
    warehouse: Path | None = None,
    env: dict[str, str] | None = None,
    target_dir: str = "target",
) -> DbtRun:
    """Run one dbt command in-process and release the warehouse file; never raises for dbt.

    `warehouse` is the DuckDB file the profile points at (CXLOOP_WAREHOUSE), `env` more variables
    the profile reads (the PostgreSQL target), both set only while dbt runs. `target_dir` under
    `$CXLOOP_HOME/dbt/`: each target keeps its own parsed manifest. dbt's console output is off;
    its log file and the returned nodes say what happened.
    """
    from dbt.cli.main import dbtRunner

    wait_for_parse()
    full, flags = dbt_command(args, home, vars_, target_dir)
    variables = {**(env or {}), **profile_env(warehouse)}
    started = time.perf_counter()
    with environment(variables):
        try:
            manifest = parsed_manifest(full, flags) if args and args[0] in PARSED else None
            res = dbtRunner(manifest=manifest).invoke([*full, *flags])
        finally:
            release_dbt_connections()
    results = getattr(res.result, "results", None)
    return DbtRun(
        args=tuple(full),
        success=bool(res.success),
        completed=res.result is not None,
        seconds=time.perf_counter() - started,
        nodes=tuple(node_result(r) for r in results or ()),
        error=str(res.exception) if res.exception else None,
    )


def dbt_command(
    args: Sequence[str], home: Path, vars_: dict[str, object] | None, target_dir: str = "target"
) -> tuple[list[str], list[str]]:
    """(the command with its vars, the flags every invocation shares)."""
    full = [*args, "--vars", json.dumps(vars_ or {})]
    flags = [
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(home / "dbt" / target_dir),
        "--log-path", os.environ.get("DBT_LOG_PATH") or str(home / "dbt" / "logs"),
        "--log-level", "none", "--log-level-file", "info",
    ]  # fmt: skip
    return full, flags


def project_manifest(home: Path, vars_: dict[str, object] | None, warehouse: Path) -> Any | None:
    """dbt's parsed project (the one `invoke_dbt` shares), e.g. to walk its graph."""
    wait_for_parse()
    return _project_manifest(home, vars_, warehouse)


def _project_manifest(home: Path, vars_: dict[str, object] | None, warehouse: Path) -> Any | None:
    full, flags = dbt_command(PARSE, home, vars_)
    with environment(profile_env(warehouse)):
        return parsed_manifest(full, flags)


# A child process's `dbt parse` (`parse_ahead`): it writes dbt's partial-parse file.
_PARSE_CHILD = (
    "import sys; from dbt.cli.main import dbtRunner; "
    "sys.exit(0 if dbtRunner().invoke(sys.argv[1:]).success else 1)"
)


def parse_ahead(
    home: Path, vars_: dict[str, object] | None, warehouse: Path, nice: int = 0
) -> None:
    """Start `dbt parse` of the project in a child process, on the core the caller leaves idle
    (the pipeline's raw checks run in Python on one core): it writes dbt's partial-parse file
    in the target folder, so the first dbt call of this process parses partially (~1 s at
    scale 1 instead of a full ~4 s). Same arguments and profile variables as that call, so
    dbt accepts the file; if it does not, the call parses fully, as before. Nothing is started
    when this process holds the parse already, or a child of it still parses or has written
    the file for this parse. Every dbt call waits for the child first. `nice` lowers the
    child's priority (IDLE_PRIORITY: it runs only on a core nothing else wants, e.g. beside
    ingest's workers).
    """
    if any(child.poll() is None for child in _PARSING):
        return
    wait_for_parse()
    full, flags = dbt_command(PARSE, home, vars_)
    variables = profile_env(warehouse)
    with environment(variables):
        key = _manifest_key(full)
    if _MANIFEST.get("key") == key or key in _PARSED_AHEAD:
        return
    child = subprocess.Popen(
        [sys.executable, "-c", _PARSE_CHILD, *full, *flags],
        env={**os.environ, **variables},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if nice:
        with contextlib.suppress(OSError):  # a child that has ended already
            os.setpriority(os.PRIO_PROCESS, child.pid, nice)
    _AHEAD[child.pid] = key
    _PARSING.append(child)


def wait_for_parse(timeout: float = 600) -> None:
    """Wait for a `parse_ahead` child still running (at once when none is); one that hangs
    is killed (the dbt call then parses itself)."""
    _end_parse(timeout)


@contextmanager
def no_parse_left() -> Iterator[None]:
    """Stop a `parse_ahead` child still running when the block fails: nothing will build on
    it (a run whose ingest failed after its parse started)."""
    try:
        yield
    except BaseException:
        _end_parse(0)
        raise


def _end_parse(timeout: float) -> None:
    """Wait up to `timeout` for each parse child, kill it past that; remember what parsed."""
    while _PARSING:
        child = _PARSING.pop()
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        key = _AHEAD.pop(child.pid, None)
        if child.returncode == 0 and key is not None:
            _PARSED_AHEAD.add(key)


def profile_env(warehouse: Path | None) -> dict[str, str]:
    """What profiles.yml reads from cxloop's settings: the warehouse file (when given) and
    DuckDB's memory limit (CXLOOP_DUCKDB_MEMORY_LIMIT, as cxloop's own connections)."""
    variables = {"CXLOOP_DUCKDB_MEMORY_LIMIT": Settings().duckdb_memory_limit}
    if warehouse is not None:
        variables["CXLOOP_WAREHOUSE"] = str(warehouse)
    return variables


def project_signature() -> tuple[tuple[str, int, int], ...]:
    """Every file of the dbt project with its size and mtime: a change means a new parse."""
    found = []
    for folder, dirs, files in os.walk(DBT_PROJECT_DIR):
        dirs[:] = sorted(d for d in dirs if d not in _NOT_PROJECT)
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            found.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def parsed_manifest(args: Sequence[str], flags: Sequence[str]) -> Any | None:
    """dbt's parsed project for these vars, target and profile variables: parsed once per
    process (`dbt parse`, partial when the target folder allows), then handed to every
    invocation through `dbtRunner(manifest=...)`, which then skips parsing (~0.5 s each, a full
    parse 3-4 s). None when the parse fails: the invocation then parses and reports it itself."""
    from dbt.cli.main import dbtRunner

    vars_at = list(args).index("--vars")
    target = list(args)[list(args).index("--target") + 1] if "--target" in args else None
    key = _manifest_key(args)
    if _MANIFEST.get("key") == key:
        return _MANIFEST["manifest"]
    parse = [*PARSE, *args[vars_at : vars_at + 2], *(["--target", target] if target else [])]
    res = dbtRunner().invoke([*parse, *flags])
    _MANIFEST.clear()  # one entry: a test session builds many warehouses
    if not res.success or res.result is None:
        return None
    _MANIFEST.update(key=key, manifest=res.result)
    freeze_long_lived()  # kept for the run's every invocation (cxloop.heap)
    return res.result


def _manifest_key(args: Sequence[str]) -> tuple[Any, ...]:
    """What a parse depends on: the vars, the target, the `CXLOOP_*` variables (the profile
    reads them), the project's files."""
    vars_at = list(args).index("--vars")
    target = list(args)[list(args).index("--target") + 1] if "--target" in args else None
    profile_env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CXLOOP_")))
    return (args[vars_at + 1], target, profile_env, project_signature())


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a dbt call, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


def node_result(result: Any) -> NodeResult:
    """A dbt run/test/freshness result as plain data."""
    node = result.node
    attached = getattr(node, "attached_node", None) or next(
        iter(getattr(getattr(node, "depends_on", None), "nodes", None) or []), None
    )
    config = getattr(node, "config", None)
    severity = getattr(config, "severity", None)
    schema, identifier = getattr(node, "schema", None), getattr(node, "identifier", None)
    max_loaded = getattr(result, "max_loaded_at", None)
    return NodeResult(
        unique_id=str(getattr(node, "unique_id", "?")),
        name=str(getattr(node, "name", "?")),
        resource_type=_text(getattr(node, "resource_type", "?")),
        status=_text(result.status).lower(),
        seconds=round(float(getattr(result, "execution_time", 0.0) or 0.0), 3),
        message=(getattr(result, "message", None) or "").strip(),
        failures=getattr(result, "failures", None),
        attached_to=attached,
        column_name=getattr(node, "column_name", None),
        severity=str(severity) if severity else None,
        source_name=getattr(node, "source_name", None),
        relation=f"{schema}.{identifier}" if schema and identifier else None,
        max_loaded_at=max_loaded.replace(tzinfo=None) if max_loaded else None,
        age_seconds=getattr(result, "age", None),
    )


def checked_business_hours(hours: BusinessHours) -> BusinessHours:
    """The business_hours section, refused with the key named when dbt could not use it."""
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"key 'business_hours.timezone': unknown time zone {hours.timezone!r} "
            "(expected an IANA name such as Europe/Berlin)"
        ) from None
    for key in ("start", "end"):
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", getattr(hours, key)):
            raise ConfigError(
                f"key 'business_hours.{key}': {getattr(hours, key)!r} is not a time"
                " (expected HH:MM)"
            )
    if hours.start >= hours.end:
        raise ConfigError("key 'business_hours': start must be before end (same day)")
    if any(day not in range(7) for day in hours.weekdays):
        raise ConfigError(
            f"key 'business_hours.weekdays': {hours.weekdays} (expected 0-6, Monday = 0)"
        )
    return hours


def dbt_vars(config: ProjectConfig | None) -> dict[str, object]:
    """The dbt vars that come from cxloop.yaml (none without one: the project's defaults)."""
    if config is None:
        return {}
    hours, health = checked_business_hours(config.business_hours), config.health
    return {
        "churn_horizon_days": config.churn_horizon_days,
        "small_sample_size": config.small_sample_size,
        "business_hours_timezone": hours.timezone,
        "business_hours_start": hours.start,
        "business_hours_end": hours.end,
        "business_weekdays": list(hours.weekdays),
        "business_holidays": [d.isoformat() for d in hours.holidays],
        "health_weights": health.weights.model_dump(),
        "health_bands": health.bands.model_dump(),
        "source_freshness_hours": freshness_hours(config),
        "sla_first_reply_business_minutes": config.sla.first_reply_business_minutes,
        "partial_response_surveys": config.partial_response_surveys(),
        "churn_methods": config.churn_methods(),
        "clv_period_days": config.clv.period_days,
        "clv_horizon_periods": config.clv.horizon_periods,
        "clv_annual_discount_rate": config.clv.annual_discount_rate,
        "driver_window_days": config.voice.driver_window_days,
    }


def freshness_hours(config: ProjectConfig) -> dict[str, int]:
    """Hours after which each source kind is stale: the strictest of its configured sources."""
    hours: dict[str, int] = {}
    for source in config.sources.values():
        hours[source.kind] = min(source.freshness_hours, hours.get(source.kind, 10**9))
    return hours
