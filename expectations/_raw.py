"""Checks every raw table shares: the landing metadata columns of docs/architecture.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    CRITICAL,
    DIGITS,
    SHA256_HEX,
    WARNING,
    DatasetSpec,
    between,
    in_set,
    matches,
    not_null,
    table_has_columns,
    unique,
)

METADATA_COLUMNS = (
    "_batch_id",
    "_loaded_at",
    "_source",
    "_source_file",
    "_row_number",
    "_content_hash",
)


def landing_metadata(source: str) -> list[Expectation]:
    """Metadata present and sane: the batch, the row, and a content hash that is unique."""
    return [
        *(not_null(column) for column in METADATA_COLUMNS),
        in_set("_source", [source], CRITICAL),
        between("_row_number", min_value=1),
        matches("_content_hash", SHA256_HEX, CRITICAL),
        unique("_content_hash"),
        matches("_batch_id", rf"{source}-[A-Za-z0-9_]+-[0-9a-f]{{12}}", WARNING),
    ]


def integer_id(column: str, *, required: bool = True) -> list[Expectation]:
    """A numeric id kept as text (Zendesk ids): digits only; not null when required."""
    checks = [matches(column, DIGITS, CRITICAL)]
    return [not_null(column), *checks] if required else checks


def raw_spec(
    name: str,
    family: str,
    source: str,
    required_columns: Iterable[str],
    source_checks: Callable[[], list[Expectation]],
) -> DatasetSpec:
    """A raw dataset: its required source columns, the metadata checks, and its own checks."""
    required = (*required_columns, *METADATA_COLUMNS)

    def build() -> list[Expectation]:
        return [table_has_columns(required), *landing_metadata(source), *source_checks()]

    return DatasetSpec(name=name, family=family, expectations=build)
