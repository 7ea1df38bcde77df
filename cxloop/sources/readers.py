"""What every adapter hands to landing (a parsed file), and the readers the adapters share."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from cxloop.config import SourceConfig
from cxloop.errors import SourceError
from cxloop.sources.contracts import EntityContract, Violation, contract_for

RowValues = dict[str, str | None]


# one encoder each, made once: `json.dumps` with options builds a new encoder on every call
_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One data row of a source file: its source fields as text and the row as it was read.

    JSON sources pass the parsed `record` instead of `text`: `original` serializes it only when
    asked (for a quarantined row), which most rows never are.
    """

    row_number: int
    values: RowValues
    text: str | None = None  # the row as read (CSV record text)
    problem: Violation | None = None  # set when the row could not even be parsed
    record: object = None  # the JSON record the row came from, when `text` is None

    @property
    def original(self) -> str:
        """The row as it was read: the CSV record text, or the JSON record as compact JSON."""
        return self.text if self.text is not None else _json_text(self.record)


@dataclass(frozen=True)
class Batch:
    """One source file, parsed but not yet validated or landed."""

    source: str
    entity: str
    source_file: str
    file_sha256: str
    contract: EntityContract
    columns: list[str]
    rows: list[ParsedRow] = field(default_factory=list)

    @property
    def batch_id(self) -> str:
        """`<source>-<entity>-<sha12>`: one batch is one file landed once."""
        return f"{self.source}-{self.entity}-{self.file_sha256[:12]}"


@dataclass(frozen=True)
class Adapter:
    """One source system: the entities it has, where their files are, and how to parse one."""

    kind: str
    entities: Callable[[SourceConfig], tuple[str, ...]]
    find_files: Callable[[Path, SourceConfig], dict[str, list[Path]]]
    read_file: Callable[[str, Path, str, SourceConfig], Batch]


def file_sha256(data: bytes) -> str:
    """Hex sha256 of a file's bytes (identifies a delivery)."""
    return hashlib.sha256(data).hexdigest()


# Byte-order marks name their encoding whatever cxloop.yaml says (UTF-32 first: its
# little-endian mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Python's default (128 KiB) would stop a file at one long field; a long field is quarantined
# by the contract (contracts.MAX_FIELD_CHARS) instead, naming its row and field.
csv.field_size_limit(256 * 1024 * 1024)


def decode(data: bytes, file: str, encoding: str) -> str:
    """The file's text, from the encoding its byte-order mark names, else the declared one.

    An empty file, UTF-16 without a mark, and a UTF-8 file declared as a single-byte encoding
    (which would decode to silent mojibake) raise SourceError, as do bytes the encoding cannot
    decode (naming the line, and for CSV the column of the header the byte is in).
    """
    if not data.strip():
        raise SourceError(file, "empty file", row=1, expected="an export with a header or a body")
    codec = codecs.lookup(encoding).name
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            if bom_codec == "utf-8-sig" and codec != "utf-8":
                raise _declared_wrong(file, encoding, "starts with a UTF-8 byte-order mark")
            return _decode(data, file, bom_codec, bom_codec)
    if not codec.startswith(("utf-16", "utf-32")) and data.count(0) * 4 > len(data):
        line = data.count(b"\n", 0, data.index(0)) + 1
        raise SourceError(
            file,
            f"NUL bytes between characters from line {line}: UTF-16 without a byte-order mark?",
            row=line,
            expected=f"text in {encoding}, or UTF-16 with its byte-order mark",
        )
    if codec != "utf-8" and not data.isascii() and _is_utf8(data):
        raise _declared_wrong(file, encoding, "is valid UTF-8 with non-ASCII characters")
    return _decode(data, file, "utf-8-sig" if codec == "utf-8" else encoding, encoding)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _declared_wrong(file: str, encoding: str, evidence: str) -> SourceError:
    return SourceError(
        file,
        f"cxloop.yaml declares encoding {encoding}, but the file {evidence}",
        row=1,
        expected="`encoding: utf-8` (or no `encoding:`) for a UTF-8 export",
    )


def _decode(data: bytes, file: str, codec: str, declared: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            file,
            f"cannot decode byte 0x{data[exc.start]:02x} at line {line}",
            row=line,
            field=_csv_column_at(data, exc.start),
            expected=f"text in {declared} (set `encoding:` in cxloop.yaml if the file is not)",
        ) from exc


def _csv_column_at(data: bytes, offset: int) -> str | None:
    """The header name of the CSV column a byte offset falls in (None if not a CSV line)."""
    if data.lstrip()[:1] in (b"{", b"["):
        return None
    start = data.rfind(b"\n", 0, offset) + 1
    prefix = data[start:offset].decode("utf-8", "replace")
    header_line = data.split(b"\n", 1)[0].decode("utf-8", "replace").lstrip("\ufeff")
    try:
        header = next(csv.reader([header_line]))
        position = len(next(csv.reader([prefix + "x"]))) - 1
    except (csv.Error, StopIteration):
        return None
    return header[position] if 0 <= position < len(header) else None


def read_csv_records(text: str, file: str, delimiter: str = ",") -> Iterator[tuple[list[str], str]]:
    """Yield each CSV record with the exact text it was read from (for quarantine)."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines(), strict=True, delimiter=delimiter)
    try:
        for record in reader:
            original = "".join(consumed).rstrip("\r\n")
            consumed.clear()
            yield record, original
    except csv.Error as exc:
        raise SourceError(
            file, f"not valid CSV: {exc}", row=reader.line_num, expected="RFC 4180 CSV"
        ) from exc


def text_value(value: object, floats: bool = True) -> str | None:
    """A JSON value as the text we store: strings as-is, scalars as JSON, nested as JSON text.

    `floats=False` promises that the value holds no float (its page had no float literal).
    """
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)  # what the JSON encoder writes for an int
    if value.__class__ is dict or value.__class__ is list:
        return _nested_text(value, floats)
    return _json_text(value)


# Where orjson may write a float otherwise than `json` (1e-05 as 0.00001, 1e+16 as 1e16); a
# false alarm (such text inside a string) only costs the slow encoder.
_FLOAT_FORMS = re.compile(rb"[0-9][eE]|\.0000")


def _nested_text(value: dict | list, floats: bool) -> str:
    """A nested value as the compact JSON text `json` writes, by orjson when that is the same.

    orjson writes the same text for objects, arrays, strings, integers, booleans and null;
    floats in exponent form, and integers beyond 64 bits (which it refuses), go to `json`.
    """
    if not value:
        return "{}" if value.__class__ is dict else "[]"
    try:
        data = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return _json_text(value)
    if floats and _FLOAT_FORMS.search(data):
        return _json_text(value)
    return data.decode()


def json_row_values(record: dict[str, object], floats: bool = True) -> RowValues:
    """A JSON object's top-level values as stored text (`text_value` of each; hot in ingest)."""
    return {
        k: v if v is None or v.__class__ is str else text_value(v, floats)
        for k, v in record.items()
    }


class FloatWatch:
    """A `parse_float` for json.loads that notes whether the text held any float literal."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, text: str) -> float:
        self.seen = True
        return float(text)


def _reject_json_constant(name: str) -> object:
    """NaN and Infinity are not JSON (RFC 8259); no system we read sends them."""
    raise ValueError(f"'{name}' is not a JSON value")


def load_json(data: bytes, rel: str, expected: str, floats: FloatWatch | None = None) -> object:
    """A file's JSON body (UTF-8); a SourceError naming line and column if it does not parse.

    `floats`, when given, learns whether the body held a float literal.
    """
    text = decode(data, rel, "utf-8")
    try:
        return json.loads(text, parse_constant=_reject_json_constant, parse_float=floats)
    except json.JSONDecodeError as exc:
        raise SourceError(
            rel,
            f"not valid JSON: {exc.msg} at column {exc.colno}",
            row=exc.lineno,
            expected=expected,
        ) from exc
    except ValueError as exc:
        raise SourceError(rel, f"not valid JSON: {exc}", expected=expected) from exc


def json_object_batch(
    kind: str,
    entity: str,
    rel: str,
    data: bytes,
    items: list[object],
    item_name: str,
    floats: bool = True,
) -> Batch:
    """A Batch of JSON objects, one row each (1-based); a non-object item is quarantined.

    Columns are the union of the objects' top-level keys, in order of first appearance.
    `floats=False`: the page held no float literal (`FloatWatch`).
    """
    rows = [_json_object_row(n, item, item_name, floats) for n, item in enumerate(items, 1)]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.values))
    contract = contract_for(kind, entity)
    return Batch(kind, entity, rel, file_sha256(data), contract, list(columns), rows)


def _json_object_row(number: int, item: object, item_name: str, floats: bool) -> ParsedRow:
    if not isinstance(item, dict):
        original = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        reason = f"{item_name}: {original[:60]!r} is not a JSON object"
        return ParsedRow(number, {}, original, Violation("", reason))
    return ParsedRow(number, json_row_values(item, floats), record=item)
