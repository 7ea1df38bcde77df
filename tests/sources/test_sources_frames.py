"""The vectorised contract check and the fast JSON text agree with the row-by-row originals.

`suspect_rows` must include every row `EntityContract.violations` rejects (it may include good
ones: they take the exact path); nested JSON values and content hashes must be the text the
`json` module writes, whatever orjson would write.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from cxloop.sources.contracts import contract_for, to_sfid18
from cxloop.sources.frames import content_hash, rows_frame, suspect_rows
from cxloop.sources.readers import json_row_values

OPPORTUNITY_ID = to_sfid18("0065g00000AbCdE")
# (field, value) pairs on the edges of the fast patterns; good and bad
EDGES = {
    ("zendesk", "tickets"): [
        ("id", "1001"),
        ("id", "9223372036854775807"),  # int64 max: 19 digits, past the fast pattern
        ("id", "9223372036854775808"),  # one over
        ("id", "-12"),
        ("id", "١٢"),  # Arabic-Indic digits: Python's \d and int() take them
        ("id", " 12"),
        ("id", "12.0"),
        ("created_at", "2024-03-01T09:15:02Z"),
        ("created_at", "2024-02-29T09:15:02Z"),  # a leap day, past the fast pattern
        ("created_at", "2023-02-29T09:15:02Z"),  # no such day
        ("created_at", "2024-04-31T09:15:02Z"),
        ("created_at", "2024-03-01T24:00:00Z"),
        ("created_at", "2024-03-01T09:15:60Z"),
        ("created_at", "0999-03-01T09:15:02Z"),
        ("created_at", "2099-01-01T00:00:00Z"),  # in the future
        ("created_at", "2024-03-01 09:15:02"),
        ("due_at", "2099-01-01T00:00:00Z"),  # may lie ahead
        ("generated_timestamp", "1700000000"),
        ("generated_timestamp", "4102444800"),  # 2100: in the future
        ("generated_timestamp", "-1"),
        ("subject", "a\x00b"),
        ("subject", "x" * 1_000_001),
        ("subject", ""),
        ("status", ""),  # required
    ],
    ("salesforce", "opportunity"): [
        ("CreatedDate", "2024-03-27T22:52:16.000Z"),
        ("CreatedDate", "2024-03-27T22:52:16Z"),
        ("CreatedDate", "2024-03-27T22:52:16.000+0100"),
        ("CreatedDate", "2024-03-27T22:52:16.000+25:00"),
        ("CloseDate", "2026-12-31"),  # a date may lie ahead
        ("CloseDate", "2026-02-30"),
        ("Amount", "1200.50"),
        ("Amount", "1e400"),
        ("Amount", "nan"),
        ("Amount", "1_000"),
        ("IsWon", "true"),
        ("IsWon", "yes"),
        ("Id", OPPORTUNITY_ID),
        ("Id", OPPORTUNITY_ID[:15] + "AAA"),  # a wrong checksum
    ],
    ("qualtrics", "responses"): [
        ("nps", "10"),
        ("nps", "11"),
        ("nps", "007"),
        ("csat", "0"),
        ("RecordedDate", "2024-05-02 10:01:07"),
        ("RecordedDate", "2024-05-02T10:01:07"),
        ("RecordedDate", "2099-05-02 10:01:07"),
        ("Progress", "100"),
        ("Progress", "101"),
    ],
}
BASE = {
    ("zendesk", "tickets"): {
        "id": "1",
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z",
        "status": "open",
    },
    ("salesforce", "opportunity"): {
        "Id": OPPORTUNITY_ID,
        "Name": "Renewal",
        "StageName": "Closed Won",
        "CloseDate": "2024-06-30",
    },
    ("qualtrics", "responses"): {
        "ResponseId": "R_1",
        "survey_id": "nps",
        "RecordedDate": "2024-05-02 10:01:07",
    },
}


@pytest.mark.parametrize("key", list(EDGES))
def test_every_row_the_contract_rejects_is_a_suspect(key: tuple[str, str]) -> None:
    contract = contract_for(*key)
    rows = [{**BASE[key], name: value} for name, value in EDGES[key]]
    suspects = set(suspect_rows(contract, rows_frame(list(BASE[key]), rows)))
    rejected = {i for i, row in enumerate(rows) if contract.violations(row)}
    assert rejected <= suspects
    assert rejected, "the edges include bad values"
    # the plain forms are decided without the row-by-row path
    plain = [i for i, (_, value) in enumerate(EDGES[key]) if value in _PLAIN]
    assert plain and not suspects & set(plain)


_PLAIN = {"1001", "2024-03-01T09:15:02Z", "2024-03-27T22:52:16.000Z", "1200.50", "10", "100"}


def test_a_missing_required_column_makes_every_row_a_suspect() -> None:
    contract = contract_for("zendesk", "users")
    frame = rows_frame(["name"], [{"name": "a"}, {"name": "b"}])
    assert suspect_rows(contract, frame) == [0, 1]


NESTED = [
    {"a": [1, 2, {"b": None}], "c": 'é \u2028 \x1f \\ " /'},
    [1e-05, 1e16, 0.1, -0.0, 1.5, 123456789.125],
    {"big": 2**70, "neg": -(2**63)},
    {"deep": {"deeper": [True, False, None, "1e5"]}},
    {},
    [],
]


@pytest.mark.parametrize("floats", [True, False])
def test_nested_json_text_is_what_json_writes(floats: bool) -> None:
    record = {f"k{i}": value for i, value in enumerate(NESTED)}
    record.update({"f": 2.5e-07, "i": 12, "t": True, "s": "x", "n": None})
    expected = {k: v if v is None or isinstance(v, str) else _json(v) for k, v in record.items()}
    assert json_row_values(record, floats=True) == expected
    no_floats = {k: v for k, v in record.items() if k not in ("k1", "f")}
    assert json_row_values(no_floats, floats=floats) == {k: expected[k] for k in no_floats}


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_the_content_hash_is_sha256_of_the_sorted_compact_json() -> None:
    row = {"b": 'ü\n\x01"', "a": None, "é": "1", "Z": "\u2028"}
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert content_hash(row) == hashlib.sha256(text.encode()).hexdigest()
