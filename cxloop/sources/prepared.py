"""A parsed source file validated and hashed, ready to land: the landing's work that needs no
warehouse, so worker processes do it (cxloop.sources.workers) and the rows wait on disk
(cxloop.sources.spill) until `cxloop.sources.landing` lands them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa

from cxloop.sources.contracts import Violation
from cxloop.sources.frames import content_hash, rows_frame, suspect_rows
from cxloop.sources.readers import Batch, ParsedRow
from cxloop.sqlnames import fold_case
from cxloop.tables import RAW_METADATA_NAMES


@dataclass(frozen=True)
class Quarantined:
    """A row kept out of raw: its original text, the field and why."""

    row_number: int
    original: str
    field: str | None
    reason: str


@dataclass(frozen=True)
class PreparedBatch:
    """One parsed file, validated and hashed, ready to land (it no longer holds the parse).

    `frame` holds the good rows' source fields as text (repeats within the file removed, in
    file order), `row_numbers` and `hashes` their row numbers and content hashes;
    `quarantined` the rows that broke the contract, their original text already taken.
    """

    source: str
    entity: str
    source_file: str
    file_sha256: str
    batch_id: str
    rows_read: int
    frame: pa.Table
    row_numbers: list[int]
    hashes: list[str]
    quarantined: list[Quarantined]
    in_file_duplicates: int


def prepare_batch(batch: Batch) -> PreparedBatch:
    """Validate every row against the contract, hash the good ones, drop in-file repeats.

    The work of landing that needs no warehouse. The contract is checked over the file's
    Arrow table (cxloop.sources.frames), and row by row only where it may fail.
    """
    batch = named_columns(batch)
    parsed = [row for row in batch.rows if row.problem is None]
    frame = rows_frame(batch.columns, [row.values for row in parsed])
    violations = batch.contract.violations
    bad: dict[int, Quarantined] = {}
    for index in suspect_rows(batch.contract, frame):
        row = parsed[index]
        problems = violations(row.values)
        if problems:
            reason = "; ".join(p.reason for p in problems)
            field = problems[0].field or None
            bad[index] = Quarantined(row.row_number, row.original, field, reason)
    keep: list[int] = []
    seen: set[str] = set()
    hashes: list[str] = []
    for index, row in enumerate(parsed):
        if index in bad:
            continue
        h = content_hash(row.values)
        if h not in seen:
            seen.add(h)
            keep.append(index)
            hashes.append(h)
    good = len(parsed) - len(bad)
    return PreparedBatch(
        batch.source,
        batch.entity,
        batch.source_file,
        batch.file_sha256,
        batch.batch_id,
        len(batch.rows),
        frame if len(keep) == frame.num_rows else frame.take(pa.array(keep, pa.int64())),
        [parsed[i].row_number for i in keep],
        hashes,
        _in_row_order(batch, bad),
        good - len(keep),
    )


def named_columns(batch: Batch) -> Batch:
    """The batch with every value under a column the warehouse can hold, once.

    - Names that differ only by case are one column (DuckDB compares names ignoring the case
      of ASCII letters: `cxloop.sqlnames.fold_case`). Every key of such a file is renamed to
      one spelling, the contract's when it names the column (so its checks apply), else the
      file's first; an object that has two spellings is quarantined (one value would be lost).
    - A column with no name (a CSV header's trailing comma) is dropped; a row with a value
      under it is quarantined.
    - A key named like a landing column (`_source`, `_batch_id`, ...) is quarantined.

    A CSV header with two names that differ only by case fails when read
    (`EntityContract.check_columns`).
    """
    folded = {fold_case(name) for name in batch.columns}
    if len(folded) == len(batch.columns) and not folded & _NOT_A_COLUMN:
        return batch  # nearly every file
    contract = batch.contract
    known = {fold_case(n): n for n in (*contract.types, *contract.required, *contract.columns)}
    spelling: dict[str, str] = {}
    for name in batch.columns:
        spelling.setdefault(fold_case(name), known.get(fold_case(name), name))
    rows = [_named_row(row, spelling) for row in batch.rows]
    columns = [name for low, name in spelling.items() if low not in _NOT_A_COLUMN]
    return replace(batch, columns=columns, rows=rows)


_LANDING_NAMES = frozenset(fold_case(name) for name in RAW_METADATA_NAMES)
_NOT_A_COLUMN = frozenset({"", *_LANDING_NAMES})


def _named_row(row: ParsedRow, spelling: dict[str, str]) -> ParsedRow:
    if row.problem is not None:
        return row
    values: dict[str, str | None] = {}
    given: dict[str, str] = {}  # the column -> the key this row gave it under
    for key, value in row.values.items():
        low = fold_case(key)
        if low == "":
            if value is None or value == "":
                continue
            return _unnamed(row, "", f"{value[:60]!r}: a value with no column name")
        if low in _LANDING_NAMES:
            return _unnamed(row, key, f"{key}: a column name the landing keeps for its own")
        column = spelling.setdefault(low, key)
        if column in given:
            reason = f"{key}: '{given[column]}' and '{key}' name one column"
            return _unnamed(row, key, reason + " (column names ignore case)")
        given[column] = key
        values[column] = value
    return replace(row, values=values)


def _unnamed(row: ParsedRow, field: str, reason: str) -> ParsedRow:
    """The row, quarantined for a name the warehouse cannot hold."""
    return ParsedRow(row.row_number, {}, row.text, Violation(field, reason), row.record)


def _in_row_order(batch: Batch, bad: dict[int, Quarantined]) -> list[Quarantined]:
    """The problem rows (unparseable, or against the contract) in the order of the file."""
    problems = [
        Quarantined(row.row_number, row.original, row.problem.field or None, row.problem.reason)
        for row in batch.rows
        if row.problem is not None
    ]
    if not problems:
        return list(bad.values())
    return sorted([*problems, *bad.values()], key=lambda q: q.row_number)
