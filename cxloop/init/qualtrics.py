"""Profile a Qualtrics response export: its columns (row 1 tag, row 2 text, row 3 ImportId)
and what their values look like (integers and their range, e-mails, Salesforce ids, text)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cxloop.init.encoding import guess_encoding, not_utf8_at

QUESTION = re.compile(r"QID\d+")  # a question's own column (not _TEXT, _NPS_GROUP, _1 ...)
OPEN_TEXT = re.compile(r"QID\d+_TEXT")  # a text-entry question (not QIDn_k_TEXT "other")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
SFID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
INTEGER = re.compile(r"-?\d+")
_SAMPLES = 3
_DISTINCT = 50


@dataclass
class ColumnProfile:
    """One column of an export and a summary of its non-empty values."""

    name: str
    label: str
    key: str  # the row-3 ImportId (`#choiceId` appended for a split multi-select column)
    filled: int = 0
    integers: Counter[int] = field(default_factory=Counter)
    texts: int = 0  # values that are not integers
    text_chars: int = 0
    emails: int = 0
    sfid_prefixes: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    values: Counter[str] = field(default_factory=Counter)  # the first _DISTINCT values seen

    def add(self, value: str) -> None:
        """Count one non-empty value."""
        self.filled += 1
        if INTEGER.fullmatch(value):
            self.integers[int(value)] += 1
        else:
            self.texts += 1
            self.text_chars += len(value)
        if EMAIL.fullmatch(value):
            self.emails += 1
        elif SFID.fullmatch(value) and not value.isdigit():
            self.sfid_prefixes[value[:3]] += 1
        if len(self.samples) < _SAMPLES and value not in self.samples:
            self.samples.append(value)
        if value in self.values or len(self.values) < _DISTINCT:
            self.values[value] += 1

    def merge(self, other: ColumnProfile) -> None:
        """Add another file's counts of the same column."""
        self.filled += other.filled
        self.integers.update(other.integers)
        self.texts += other.texts
        self.text_chars += other.text_chars
        self.emails += other.emails
        self.sfid_prefixes.update(other.sfid_prefixes)
        self.samples.extend(s for s in other.samples if s not in self.samples)
        del self.samples[_SAMPLES:]
        self.values.update(other.values)

    def value_range(self) -> str:
        """`0-10 (38 answers)`, or what the values are when they are not integers."""
        if not self.filled:
            return "no answers"
        if self.integers and not self.texts:
            low, high = min(self.integers), max(self.integers)
            return f"{low}-{high} ({self.filled} answers)"
        return f"text ({self.filled} answers)"

    def share(self, count: int) -> float:
        """count as a share of the filled values."""
        return count / self.filled if self.filled else 0.0


@dataclass
class ExportProfile:
    """One export file: its encoding, layout and per-column value summaries."""

    path: Path  # relative to the sources folder
    encoding: str
    not_utf8: tuple[int, int] | None  # (line, byte) of the first non-UTF-8 byte
    rows: int
    time_zone: str | None
    columns: list[ColumnProfile]

    @property
    def layout(self) -> tuple[str, ...]:
        """The ImportIds in column order: files with one layout are one survey."""
        return tuple(c.key for c in self.columns)

    def column(self, key: str) -> ColumnProfile | None:
        """The column with this ImportId, if any."""
        return next((c for c in self.columns if c.key == key), None)


def profile_export(path: Path, rel: Path) -> ExportProfile:
    """Read one export (any size) and summarise each column's values."""
    data = path.read_bytes()
    encoding = guess_encoding(data)
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
    records = csv.reader(io.StringIO(text, newline=""))
    names, labels, specs = (next(records, []) for _ in range(3))
    columns, time_zone = [], None
    for name, label, cell in zip(names, labels, specs, strict=False):
        spec = _spec(cell)
        key = str(spec.get("ImportId", name))
        key += f"#{spec['choiceId']}" if "choiceId" in spec else ""
        time_zone = time_zone or spec.get("timeZone")
        columns.append(ColumnProfile(name, label, key))
    rows = 0
    try:
        for record in records:
            if len(record) != len(columns):
                continue  # the ingest quarantines it; it says nothing about the layout
            rows += 1
            for column, value in zip(columns, record, strict=True):
                if value.strip():
                    column.add(value.strip())
    except csv.Error:
        pass  # profile what was readable; the ingest names the broken row
    return ExportProfile(rel, encoding, not_utf8_at(data), rows, time_zone, columns)


def _spec(cell: str) -> dict:
    try:
        spec = json.loads(cell)
    except json.JSONDecodeError:
        return {}
    return spec if isinstance(spec, dict) else {}


def merged_columns(files: list[ExportProfile]) -> list[ColumnProfile]:
    """The columns of files with one layout, their counts summed over the files."""
    merged = [ColumnProfile(c.name, c.label, c.key) for c in files[0].columns]
    for profile in files:
        for total, column in zip(merged, profile.columns, strict=True):
            total.merge(column)
    return merged
