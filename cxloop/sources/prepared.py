"""A parsed source file validated and hashed, ready to land: the landing's work that needs no
warehouse, so worker processes do it (cxloop.sources.workers) and the rows wait on disk
(cxloop.sources.spill) until `cxloop.sources.landing` lands them."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from cxloop.sources.frames import content_hash, rows_frame, suspect_rows
from cxloop.sources.readers import Batch


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
