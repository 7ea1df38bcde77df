"""Which datasets have suites, in which family and stage, and their suites built in code."""

from __future__ import annotations

from collections.abc import Iterable

import great_expectations as gx
from great_expectations.expectations import Expectation

from cxloop.expectations import (
    journey,
    marts,
    raw_qualtrics,
    raw_salesforce,
    raw_surveys,
    raw_zendesk,
    voice,
)
from cxloop.expectations._build import DatasetSpec, DerivedCheck

SPECS: dict[str, DatasetSpec] = {
    spec.name: spec
    for module in (raw_salesforce, raw_zendesk, raw_qualtrics, raw_surveys, marts, voice, journey)
    for spec in module.SPECS
}
STAGES: dict[str, tuple[str, ...]] = {
    "raw": (raw_salesforce.FAMILY, raw_zendesk.FAMILY, raw_qualtrics.FAMILY, raw_surveys.FAMILY),
    "marts": (marts.FAMILY,),
}
STAGES["all"] = STAGES["raw"] + STAGES["marts"]


class UnknownDatasetError(KeyError):
    """A dataset, family or stage name that has no suite."""

    def __str__(self) -> str:
        return str(self.args[0])


def spec_for(dataset: str) -> DatasetSpec:
    """The checks declared for `dataset` (e.g. 'marts.mart_nps')."""
    try:
        return SPECS[dataset]
    except KeyError:
        known = ", ".join(sorted(SPECS))
        raise UnknownDatasetError(
            f"no expectation suite for '{dataset}' (known: {known})"
        ) from None


def families_for(stage: str) -> tuple[str, ...]:
    """The dataset families checked at a stage: 'raw', 'marts' or 'all'."""
    try:
        return STAGES[stage]
    except KeyError:
        raise UnknownDatasetError(
            f"unknown check stage '{stage}' (expected one of: {', '.join(STAGES)})"
        ) from None


def datasets_in(family: str) -> tuple[str, ...]:
    """The datasets of one family, in declaration order."""
    names = tuple(name for name, spec in SPECS.items() if spec.family == family)
    if not names:
        raise UnknownDatasetError(f"unknown dataset family '{family}'")
    return names


def expectation_columns(expectation: Expectation) -> list[str]:
    """The columns an expectation reads (none for table-level expectations)."""
    column = getattr(expectation, "column", None)
    columns = getattr(expectation, "column_list", None) or []
    return [column] if column else list(columns)


def applicable_checks(
    dataset: str, columns: Iterable[str] | None = None
) -> tuple[list[Expectation], list[DerivedCheck], list[str]]:
    """Expectations and derived checks whose columns exist, and descriptions of those left out.

    Column presence itself is checked by each suite's table-level expectation, so leaving out
    checks on absent optional columns never hides a missing contract column.
    """
    spec = spec_for(dataset)
    present = None if columns is None else set(columns)
    keep: list[Expectation] = []
    left_out: list[str] = []
    for expectation in spec.expectations():
        needed = expectation_columns(expectation)
        if present is None or all(c in present for c in needed):
            keep.append(expectation)
        else:
            left_out.append(expectation.description or expectation.expectation_type)
    derived = [d for d in spec.derived if present is None or set(d.inputs) <= present]
    left_out += [d.description for d in spec.derived if d not in derived]
    return keep, derived, left_out


# table-level expectations that read only the columns they name (others read the whole frame)
_NAMED_COLUMNS_ONLY = {"expect_table_columns_to_match_set"}


def columns_read(dataset: str, columns: Iterable[str]) -> list[str]:
    """Of a table's `columns`, those its applicable checks read (in the table's order).

    Validating only these gives the same result as validating the whole table: a column no
    expectation or derived check names is never looked at (the contract check names the
    columns it requires). A table-level expectation of another kind keeps every column.
    """
    columns = list(columns)
    expectations, derived, _ = applicable_checks(dataset, columns)
    needed: set[str] = {c for d in derived for c in d.inputs}
    for expectation in expectations:
        named = expectation_columns(expectation)
        if named:
            needed.update(named)
        elif expectation.expectation_type in _NAMED_COLUMNS_ONLY:
            needed.update(getattr(expectation, "column_set", None) or [])
        else:
            return columns
    return [c for c in columns if c in needed]


def suite_for(dataset: str, columns: Iterable[str] | None = None) -> gx.ExpectationSuite:
    """The suite for `dataset`, limited to checks whose columns exist when `columns` is given."""
    expectations, derived, _ = applicable_checks(dataset, columns)
    return gx.ExpectationSuite(
        name=dataset,
        expectations=[*expectations, *(d.expectation() for d in derived)],
        meta={"cxloop_family": spec_for(dataset).family},
    )
