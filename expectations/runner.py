"""Validate pandas frames against the cxloop suites with GE's validator.

One runner per process and context root is built on first use and reused for every
dataset, so a run pays GE's import and setup once. Frames are validated as pandas (GE through
SQLAlchemy on DuckDB gives wrong results). A file context also stores the suites and the
validation results and renders Data Docs under its root.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.execution_engine import pandas_execution_engine
from great_expectations.expectations.expectation import Expectation
from great_expectations.validator.v1_validator import Validator

from cxloop.expectations._build import DerivedCheck
from cxloop.expectations.registry import applicable_checks, suite_for

DATASOURCE = "cxloop"
BATCH_DEFINITION = "whole_frame"
SAMPLE_SIZE = 10
# BASIC has every field the results read (counts, percent, partial_unexpected_list, observed
# value); SUMMARY's extra index lists and value counts cost ~25% of a validation, unread.
RESULT_FORMAT = "BASIC"
# the Data Docs index lists the newest validation results only: GE reads every listed result
# on each render (~2 ms each), so an unbounded index grows with history (older pages stay)
DOCS_INDEX_LIMIT = 500

# GE's pandas engine fingerprints every batch under HASH_THRESHOLD bytes (an md5 of pandas'
# hash of every row) for the results' batch markers: a fifth of a validation's time (0.7 s of
# a scale-1 run's checks), for a value nothing reads. A result names its run; what data a
# check covered is in ops.stage_inputs (cxloop.changes). No batch is fingerprinted:
pandas_execution_engine.HASH_THRESHOLD = 0

# GE 1.x builds an expectation's whole configuration anew (a pydantic dict of the expectation,
# then a new ExpectationConfiguration) on every access of `Expectation.configuration`, and its
# validation reads it once per keyword it looks up: a third of a validation's time (session
# 9's profile). Within one of our validations nothing changes an expectation, so there each
# expectation's configuration is built once (`configurations_built_once`); everywhere else the
# property is GE's own. The memo keeps the expectations alive, so an id names one of them.
_BUILD_CONFIGURATION = Expectation.configuration
_CONFIGURATIONS: ContextVar[dict[int, tuple[Expectation, Any]] | None] = ContextVar(
    "cxloop_expectation_configurations", default=None
)


def _configuration(self: Expectation) -> Any:
    memo = _CONFIGURATIONS.get()
    if memo is None:
        return _BUILD_CONFIGURATION.fget(self)  # type: ignore[attr-defined]
    built = memo.get(id(self))
    if built is None:
        built = memo[id(self)] = (self, _BUILD_CONFIGURATION.fget(self))  # type: ignore[attr-defined]
    return built[1]


Expectation.configuration = property(_configuration, doc=_BUILD_CONFIGURATION.__doc__)  # type: ignore[method-assign,assignment]


@contextmanager
def configurations_built_once() -> Iterator[None]:
    """Within the block (this thread's context), each expectation's configuration is built once."""
    token = _CONFIGURATIONS.set({})
    try:
        yield
    finally:
        _CONFIGURATIONS.reset(token)


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one expectation on one dataset."""

    expectation_type: str
    column: str | None
    severity: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    unexpected_sample: str  # JSON list of up to SAMPLE_SIZE unexpected values
    description: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    missing_count: int | None = None  # nulls, which GE's unexpected_percent leaves out

    @property
    def label(self) -> str:
        """A short human name, e.g. 'expect_column_values_to_be_between(nps)'."""
        return f"{self.expectation_type}({self.column or 'table'})"


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of one dataset's suite: overall, critical, and one row per expectation."""

    dataset: str
    success: bool
    critical_failed: bool
    row_count: int
    results: tuple[ExpectationResult, ...]
    not_applicable: tuple[str, ...] = ()

    def failures(self, severity: str | None = None) -> list[ExpectationResult]:
        """Failed expectations, optionally only those of one severity."""
        return [r for r in self.results if not r.success and severity in (None, r.severity)]

    @classmethod
    def of(
        cls,
        dataset: str,
        results: Sequence[ExpectationResult],
        row_count: int,
        not_applicable: Sequence[str] = (),
    ) -> SuiteResult:
        """The suite's outcome from its expectations' results: it succeeded when every one
        did, and failed critically when a critical one failed."""
        return cls(
            dataset=dataset,
            success=all(r.success for r in results),
            critical_failed=any(not r.success and r.severity == "critical" for r in results),
            row_count=row_count,
            results=tuple(results),
            not_applicable=tuple(not_applicable),
        )


def _plain(value: Any) -> Any:
    """A JSON-friendly value: missing markers (None, NaN, NA, NaT) become None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _sample(values: list[Any] | None) -> str:
    return json.dumps([_plain(v) for v in (values or [])[:SAMPLE_SIZE]], default=str)


def _number(value: Any) -> float | None:
    value = _plain(value)
    return None if value is None else float(value)


def _to_result(validation: Any) -> ExpectationResult:
    """Flatten one GE ExpectationValidationResult."""
    config = validation.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    columns = kwargs.get("column") or ", ".join(kwargs.get("column_list") or []) or None
    result = validation.result or {}
    details: dict[str, Any] = {"kwargs": kwargs}
    if "observed_value" in result:
        details["observed_value"] = result["observed_value"]
    if "details" in result:
        details["details"] = result["details"]
    exception = validation.exception_info or {}
    if isinstance(exception, dict) and exception.get("raised_exception"):
        details["exception"] = exception.get("exception_message")
    count, unexpected = result.get("element_count"), result.get("unexpected_count")
    missing = result.get("missing_count")
    return ExpectationResult(
        expectation_type=config.type,
        column=columns,
        severity=(config.meta or {}).get("severity", "critical"),
        success=bool(validation.success),
        element_count=None if count is None else int(count),
        unexpected_count=None if unexpected is None else int(unexpected),
        unexpected_percent=_number(result.get("unexpected_percent")),
        unexpected_sample=_sample(result.get("partial_unexpected_list")),
        description=config.description,
        details=json.loads(json.dumps(details, default=str)),
        missing_count=None if missing is None else int(missing),
    )


def merged_result(parts: Sequence[SuiteResult]) -> SuiteResult:
    """One dataset's suite validated on several slices of its rows, as one result.

    The raw suites' expectations are decided row by row (none sets `mostly` or aggregates),
    so one holds for the rows when it held in every slice; its counts are the slices' sums,
    its unexpected percent GE's (of the values that are not null) over the sums, and its
    sample the failing slices' samples, up to SAMPLE_SIZE. Table-level expectations (the
    columns) read the same columns in every slice. Uniqueness is the exception: it is checked
    within each slice (landing refuses a content hash it has seen).
    """
    if len(parts) == 1:
        return parts[0]
    labels = {tuple(r.label for r in part.results) for part in parts}
    if len(labels) != 1:
        raise ValueError(f"{parts[0].dataset}: slices validated by different expectations")
    results = tuple(
        _merged_expectation(same) for same in zip(*(p.results for p in parts), strict=True)
    )
    return SuiteResult.of(
        parts[0].dataset, results, sum(p.row_count for p in parts), parts[0].not_applicable
    )


def _merged_expectation(parts: Sequence[ExpectationResult]) -> ExpectationResult:
    failed = [r for r in parts if not r.success]

    def total(values: list[int | None]) -> int | None:
        return None if any(v is None for v in values) else sum(v or 0 for v in values)

    elements = total([r.element_count for r in parts])
    unexpected = total([r.unexpected_count for r in parts])
    missing = total([r.missing_count for r in parts])
    present = None if elements is None else elements - (missing or 0)
    sample = [v for r in failed for v in json.loads(r.unexpected_sample)][:SAMPLE_SIZE]
    return replace(
        failed[0] if failed else parts[0],
        success=not failed,
        element_count=elements,
        unexpected_count=unexpected,
        missing_count=missing,
        unexpected_percent=(
            100 * unexpected / present if present and unexpected is not None else None
        ),
        unexpected_sample=json.dumps(sample, default=str),
    )


def _with_offending_rows(
    result: ExpectationResult, frame: pd.DataFrame, derived: list[DerivedCheck]
) -> ExpectationResult:
    """For a failed derived check, sample the input values of the rows that broke the rule."""
    check = next((d for d in derived if d.column == result.column), None)
    if check is None or result.success:
        return result
    offending = frame.loc[~frame[check.column].astype(bool), list(check.inputs)]
    rows = [
        {k: _plain(v) for k, v in row.items()}
        for row in offending.head(SAMPLE_SIZE).to_dict("records")
    ]
    return replace(result, unexpected_sample=json.dumps(rows, default=str))


def _suite_key(suite: gx.ExpectationSuite) -> list[Any]:
    """What makes two suites validate the same: name, meta and expectations (not their ids)."""
    expectations = []
    for expectation in suite.expectations:
        config = expectation.configuration.to_json_dict()
        config.pop("id", None)
        expectations.append(config)
    return [suite.name, suite.meta, expectations]


def _limit_docs_index(context: Any) -> None:
    """Bound the Data Docs index of every site to the newest DOCS_INDEX_LIMIT results."""
    sites = context.variables.data_docs_sites or {}
    for site in sites.values():
        index = site.setdefault("site_index_builder", {"class_name": "DefaultSiteIndexBuilder"})
        index["validation_results_limit"] = DOCS_INDEX_LIMIT
    context.variables.data_docs_sites = sites


class Runner:
    """Validates frames for many datasets; a file context under `context_root` stores the
    suites and results and renders Data Docs (None: ephemeral, nothing stored).

    Each frame is validated by GE's `Validator` on a whole-frame batch of a pandas data
    source that lives in an ephemeral context of the runner's own: no checkpoint, validation
    definition or data asset is registered in the stored project, whose stores and freshness
    checks cost more than the validation of a small table (docs/quality.md). The results are
    stored as a checkpoint run stores them, so Data Docs render them the same way.
    """

    def __init__(self, context_root: Path | None = None) -> None:
        self.context_root = None if context_root is None else Path(context_root).resolve()
        # the frames' data source first: the stored project's context is the current one
        data = gx.get_context(mode="ephemeral")
        data.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.datasource = data.data_sources.add_pandas(DATASOURCE)
        if self.context_root is None:
            self.context = data
        else:
            self.context_root.mkdir(parents=True, exist_ok=True)
            self.context = gx.get_context(mode="file", context_root_dir=str(self.context_root))
            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
            _limit_docs_index(self.context)
        self._batches: dict[str, Any] = {}
        self._pending_docs: list[Any] = []
        self._suites: dict[str, tuple[tuple[object, ...], gx.ExpectationSuite]] = {}
        self._lock = threading.Lock()

    def _batch_definition(self, dataset: str) -> Any:
        if dataset not in self._batches:
            asset = self.datasource.add_dataframe_asset(dataset)
            self._batches[dataset] = asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)
        return self._batches[dataset]

    def _suite(
        self, dataset: str, columns: list[str], signature: tuple[object, ...]
    ) -> gx.ExpectationSuite:
        """The dataset's suite for these applicable checks, stored only when it changed.

        A file context keeps the suites across runs: one with exactly these expectations
        (compared without GE's ids) is left as stored, and its Data Docs page is rendered
        again only when it is missing.
        """
        cached = self._suites.get(dataset)
        if cached and cached[0] == signature:
            return cached[1]
        suite = suite_for(dataset, columns)
        if self._stored_suite_key(dataset) != _suite_key(suite):
            self.context.suites.add_or_update(suite)
            self._pending_docs.append(ExpectationSuiteIdentifier(name=dataset))
        elif not self._suite_page(dataset).is_file():
            self._pending_docs.append(ExpectationSuiteIdentifier(name=dataset))
        self._suites[dataset] = (signature, suite)
        return suite

    def _stored_suite_key(self, dataset: str) -> list[Any] | None:
        try:
            return _suite_key(self.context.suites.get(dataset))
        except Exception:  # absent, or stored by another version: stored anew
            return None

    def validate(
        self, dataset: str, df: pd.DataFrame, *, run_name: str | None = None
    ) -> SuiteResult:
        """Run `dataset`'s suite on `df` (plus its derived columns); store the result."""
        with self._lock:
            _, derived, left_out = applicable_checks(dataset, df.columns)
            frame = df.assign(**{d.column: d.rule(df) for d in derived}) if derived else df
            signature = (tuple(left_out), tuple(d.name for d in derived))
            suite = self._suite(dataset, list(df.columns), signature)
            validator = Validator(
                batch_definition=self._batch_definition(dataset),
                batch_parameters={"dataframe": frame},
                result_format=RESULT_FORMAT,
            )
            with configurations_built_once():
                outcome = validator.validate_expectation_suite(suite)
            run_id = RunIdentifier(run_name=run_name)
            self._store(outcome, validator, dataset, run_id)
            results = [_to_result(r) for r in outcome.results]
        results = [_with_offending_rows(r, frame, derived) for r in results]
        return SuiteResult.of(dataset, results, len(df), left_out)

    def _store(self, outcome: Any, validator: Validator, dataset: str, run_id: Any) -> None:
        """Keep a validation result as a checkpoint run keeps it (file contexts only)."""
        if self.context_root is None:
            return
        outcome.meta["run_id"] = run_id
        outcome.meta["validation_time"] = run_id.run_time
        outcome.meta["batch_parameters"] = {"dataframe": DATAFRAME_REPLACEMENT_STR}
        suite_id = ExpectationSuiteIdentifier(name=dataset)
        result_id = ValidationResultIdentifier(
            batch_identifier=validator.active_batch_id,
            expectation_suite_identifier=suite_id,
            run_id=run_id,
        )
        self.context.validation_results_store.store_validation_results(
            suite_validation_result=outcome,
            suite_validation_result_identifier=result_id,
            expectation_suite_identifier=suite_id,
        )
        self._pending_docs.append(result_id)

    def build_docs(self) -> Path | None:
        """Render Data Docs for the results validated since the last call (file contexts only)."""
        with self._lock:
            if self.context_root is None:
                self._pending_docs = []  # an ephemeral context renders nothing
                return None
            if not self._pending_docs:
                return self.docs_index()
            pending, self._pending_docs = self._pending_docs, []
            self.context.build_data_docs(resource_identifiers=pending)
            return self.docs_index()

    def _suite_page(self, dataset: str) -> Path:
        docs = self.docs_index()
        if docs is None:
            return Path("/nonexistent")
        return docs.parent / "expectations" / (dataset.replace(".", "/") + ".html")

    def docs_index(self) -> Path | None:
        """Where the Data Docs home page is (None for an ephemeral context)."""
        if self.context_root is None:
            return None
        return self.context_root / "uncommitted" / "data_docs" / "local_site" / "index.html"


_RUNNERS: dict[Path | None, Runner] = {}
_RUNNERS_LOCK = threading.Lock()


def runner_for(context_root: Path | None = None) -> Runner:
    """The process-wide runner for a context root (None: ephemeral, no Data Docs)."""
    key = None if context_root is None else Path(context_root).resolve()
    with _RUNNERS_LOCK:
        if key not in _RUNNERS:
            _RUNNERS[key] = Runner(key)
        return _RUNNERS[key]


def validate(
    dataset: str,
    df: pd.DataFrame,
    *,
    context_root: Path | None = None,
    run_name: str | None = None,
) -> SuiteResult:
    """Validate one frame against `dataset`'s suite; with a context root, also render Data Docs."""
    runner = runner_for(context_root)
    result = runner.validate(dataset, df, run_name=run_name)
    runner.build_docs()
    return result


def validate_many(
    frames: Mapping[str, pd.DataFrame],
    *,
    context_root: Path | None = None,
    run_name: str | None = None,
) -> list[SuiteResult]:
    """Validate several datasets, rendering Data Docs once at the end (cheaper than per frame)."""
    runner = runner_for(context_root)
    results = [runner.validate(name, df, run_name=run_name) for name, df in frames.items()]
    runner.build_docs()
    return results
