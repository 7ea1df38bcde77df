"""A parsed file as one Arrow table: its rows' source fields, the rows that may break the
contract, and the rows' content hashes.

Validation is vectorised and exact: Arrow compute marks the rows whose every field surely
passes its contract (a strict ASCII pattern, a range, the future horizon), and only the other
rows (a few, in good exports) go through `EntityContract.violations`, which decides and words
the reasons exactly as before. A pattern here only ever accepts what the contract accepts, so
it can send a good row to the slow path, never a bad row past it. Types without a fast
pattern are checked once per distinct value of the column.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.sources.contracts import _HORIZON, FIELD_TYPES, MAX_FIELD_CHARS, EntityContract
from cxloop.sources.readers import RowValues

_canonical_json = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":")
).encode  # made once: json.dumps with options builds an encoder per call
_SORTED = orjson.OPT_SORT_KEYS


def content_hash(values: RowValues) -> str:
    """sha256 of the canonical JSON of a row's source fields (keys sorted, compact, UTF-8).

    orjson writes the same text as `json` (sort_keys, ensure_ascii=False, compact) for string
    and null values, in a tenth of the time; anything it refuses goes the slow way.
    """
    try:
        text = orjson.dumps(values, option=_SORTED)
    except (TypeError, orjson.JSONEncodeError):
        text = _canonical_json(values).encode("utf-8")
    return hashlib.sha256(text).hexdigest()


def rows_frame(columns: Sequence[str], rows: Sequence[RowValues]) -> pa.Table:
    """The rows as a table of text columns: `columns` first, then any other key (first seen)."""
    keys: set[str] = set()
    for values in rows:
        keys.update(values)
    names = list(columns)
    if not keys <= set(names):
        names = list(dict.fromkeys([*names, *(k for values in rows for k in values)]))
    return pa.table(
        {name: pa.array([v.get(name) for v in rows], pa.string()) for name in names},
        schema=pa.schema([(name, pa.string()) for name in names]),
    )


def suspect_rows(contract: EntityContract, frame: pa.Table) -> list[int]:
    """Indexes of the rows that may break the contract (every row that does is among them)."""
    if frame.num_rows == 0:
        return []
    suspect: pa.ChunkedArray | pa.Array | None = None
    for name in contract.required:
        if name not in frame.column_names:
            return list(range(frame.num_rows))
        column = frame[name]
        empty = pc.or_kleene(pc.is_null(column), pc.equal(column, ""))
        suspect = _either(suspect, empty)
    for name in frame.column_names:
        suspect = _either(suspect, _column_suspects(contract, name, frame[name]))
    if suspect is None:
        return []
    return pc.indices_nonzero(suspect).to_pylist()


def _either(a: pa.ChunkedArray | None, b: pa.ChunkedArray | None) -> pa.ChunkedArray | None:
    """Row-wise a or b, a null (a null value) counting as false."""
    if b is None:
        return a
    b = pc.fill_null(b, False)
    return b if a is None else pc.or_(a, b)


def _column_suspects(
    contract: EntityContract, name: str, column: pa.ChunkedArray
) -> pa.ChunkedArray | None:
    """True where a non-empty value of the column may break its field's contract."""
    suspect = None
    longest, nul = _unstorable_hints(column)
    if longest > MAX_FIELD_CHARS:
        suspect = _either(suspect, pc.greater(pc.utf8_length(column), MAX_FIELD_CHARS))
    if nul:
        suspect = _either(suspect, pc.match_substring(column, "\x00"))
    type_name = contract.type_of(name)
    if type_name == "text":
        return suspect
    fast = _FAST.get(type_name)
    unsure = column if fast is None else pc.filter(column, pc.invert(fast(column)))
    field_type = FIELD_TYPES[type_name]
    failing = [
        v
        for v in pc.unique(unsure).to_pylist()
        if v  # None and "" are only `required`'s concern
        and (
            not field_type.accepts(v)
            or (field_type.plausible is not None and not field_type.plausible(v))
        )
    ]
    if failing:
        suspect = _either(suspect, pc.is_in(column, pa.array(failing, pa.string())))
    return suspect


def _unstorable_hints(column: pa.ChunkedArray) -> tuple[int, bool]:
    """An upper bound of the column's longest value, and whether a NUL byte may be in it.

    Read off the chunks' data buffers without a compute pass: no value is longer than its
    buffer, and a buffer without a NUL byte holds no value with one.
    """
    longest, nul = 0, False
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is not None:
            longest = max(longest, data.size)
            nul = nul or data.to_pybytes().find(b"\x00") >= 0
    return longest, nul


# Strict ASCII forms, each a subset of what the contract's own check accepts (days 29-31,
# years before 1000, other offsets and fractions take the exact path).
_DAY = r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
_INT18 = r"^-?[0-9]{1,18}$"  # 18 digits always fit an int64


def _matches(pattern: str) -> Callable[[pa.ChunkedArray], pa.ChunkedArray]:
    return lambda column: pc.fill_null(pc.match_substring_regex(column, pattern), False)


def _int_between(low: int, high: int, horizon: bool = False) -> Callable:
    if (low, high) == (-(2**63), 2**63 - 1) and not horizon:
        return _matches(_INT18)  # 18 digits always fit

    def fast(column: pa.ChunkedArray) -> pa.ChunkedArray:
        ok = pc.fill_null(pc.match_substring_regex(column, _INT18), False)
        number = pc.cast(pc.if_else(ok, column, None), pa.int64())
        top = min(high, math.floor(_HORIZON.refresh().epoch)) if horizon else high
        within = pc.and_(pc.greater_equal(number, low), pc.less_equal(number, top))
        return pc.fill_null(within, False)

    return fast


def _moment(pattern: str) -> Callable[[pa.ChunkedArray], pa.ChunkedArray]:
    """A datetime of the pattern not after the horizon (first 19 characters, as text)."""

    def fast(column: pa.ChunkedArray) -> pa.ChunkedArray:
        ok = pc.fill_null(pc.match_substring_regex(column, pattern), False)
        first19 = pc.replace_substring(pc.utf8_slice_codeunits(column, 0, 19), " ", "T")
        return pc.fill_null(pc.and_(ok, pc.less_equal(first19, _HORIZON.refresh().text)), False)

    return fast


_INT_TYPES = {
    "int64": (-(2**63), 2**63 - 1),
    "integer": (-(2**63), 2**63 - 1),
    "percent": (0, 100),
    "nps": (0, 10),
    "nps_group": (1, 3),
    "csat": (1, 5),
    "ces": (1, 7),
}
_FAST: dict[str, Callable[[pa.ChunkedArray], pa.ChunkedArray]] = {
    **{name: _int_between(low, high) for name, (low, high) in _INT_TYPES.items()},
    "epoch": _int_between(0, 2**63 - 1, horizon=True),
    "zendesk_datetime": _moment(rf"^{_DAY}T{_TIME}Z$"),
    "zendesk_datetime_any": _matches(rf"^{_DAY}T{_TIME}Z$"),
    "salesforce_datetime": _moment(rf"^{_DAY}T{_TIME}(\.[0-9]{{3}})?Z$"),
    "qualtrics_datetime": _moment(rf"^{_DAY} {_TIME}$"),
    "date": _matches(rf"^{_DAY}$"),
    "decimal": _matches(r"^-?[0-9]{1,15}(\.[0-9]{1,15})?$"),
}
