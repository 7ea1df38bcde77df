"""A generic survey CSV (one header row) from a tool we have no adapter for, mapped by column.

`csv_surveys[]` in cxloop.yaml says, per file glob, which header names our fields, which column
holds the submission time and in what format and zone. Every row lands with the mapped fields,
`responded_at` as UTC ISO text, and every cell in `answers` (JSON, keyed by header). A time
that does not parse, a score off our scale (NPS 0-10, CSAT 1-5, CES 1-7) or a short row is
quarantined with the row and column; a mapping naming a column the file lacks stops the file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from zoneinfo import ZoneInfo

from cxloop.config import SourceConfig
from cxloop.errors import SourceError
from cxloop.sources.contracts import Violation, contract_for, to_sfid18
from cxloop.sources.readers import Adapter, Batch, ParsedRow, decode, file_sha256, read_csv_records
from cxloop.survey_mappings import CsvSurvey

KIND = "survey_csv"
ENTITY = "responses"
MAPPED = (
    "nps", "csat", "ces", "open_text", "ticket_id", "contact_id", "account_id", "language",
    "email", "phone", "first_name", "last_name", "full_name",
)  # fmt: skip
COLUMNS = [
    "response_id", "responded_at", "responded_at_local", "survey_id", "survey_kind",
    "touchpoint", "channel", "time_zone", *MAPPED, "not_applicable", "answers",
]  # fmt: skip


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """A survey CSV source lands one entity: responses."""
    return (ENTITY,)


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Every CSV in the source folder, in file-name order."""
    return {ENTITY: sorted(folder.glob("*.csv"))}


def survey_for(path: Path, rel: str, cfg: SourceConfig) -> tuple[int, CsvSurvey]:
    """The one `csv_surveys[]` mapping whose `file` glob matches this file, and its position."""
    matches = [(i, s) for i, s in enumerate(cfg.csv_surveys) if fnmatch(path.name, s.file)]
    if len(matches) != 1:
        problem = (
            "no csv_surveys mapping matches this file"
            if not matches
            else f"matches {len(matches)} csv_surveys mappings "
            f"({', '.join(s.survey_id for _, s in matches)})"
        )
        raise SourceError(rel, problem, expected="exactly one `csv_surveys[].file` glob to match")
    return matches[0]


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one survey CSV: find the mapped columns in the header, then one row per record."""
    position, survey = survey_for(path, rel, cfg)
    data = path.read_bytes()
    records = read_csv_records(decode(data, rel, survey.encoding), rel, survey.delimiter)
    header, _ = next(records, ([], ""))
    index = _column_indexes(header, survey, position, rel)
    rows = [
        _parse_row(number, record, original, header, index, survey)
        for number, (record, original) in enumerate(records, start=1)
        if record and any(cell.strip() for cell in record)
    ]
    return Batch(KIND, ENTITY, rel, file_sha256(data), contract_for(KIND, ENTITY), COLUMNS, rows)


def _column_indexes(
    header: list[str], survey: CsvSurvey, position: int, rel: str
) -> dict[str, int]:
    """Our field (and `_timestamp`, `_response_id`) -> the index of the column it names."""
    wanted = {"_timestamp": survey.timestamp, **survey.columns}
    if survey.response_id:
        wanted["_response_id"] = survey.response_id
    names = [name.strip() for name in header]
    found: dict[str, int] = {}
    for ours, column in wanted.items():
        hits = [i for i, name in enumerate(names) if name == column.strip()]
        if len(hits) != 1:
            key = {"_timestamp": "timestamp", "_response_id": "response_id"}.get(
                ours, f"columns.{ours}"
            )
            problem = (
                f"no column {column!r}, named by cxloop.yaml csv_surveys[{position}].{key} "
                f"({survey.survey_id})"
                if not hits
                else f"{len(hits)} columns are named {column!r}"
            )
            raise SourceError(
                rel,
                problem,
                row=1,
                field=column,
                expected=f"one header column of that name; the header has {', '.join(names)}",
            )
        found[ours] = hits[0]
    return found


def parse_timestamp(text: str, fmt: str, zone: str) -> tuple[str, str]:
    """A submission time as UTC ISO text (`...Z`) and as local wall time; naive times are in
    `zone`, an offset in the value wins. ValueError if the text does not parse."""
    value = text.strip()
    moment = datetime.fromisoformat(value) if fmt == "iso" else datetime.strptime(value, fmt)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    utc = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return utc, moment.strftime("%Y-%m-%d %H:%M:%S")


def _parse_row(
    number: int,
    record: list[str],
    original: str,
    header: list[str],
    index: dict[str, int],
    survey: CsvSurvey,
) -> ParsedRow:
    if len(record) != len(header):
        reason = f"row: has {len(record)} values, expected {len(header)} like the header"
        return ParsedRow(number, {}, original, Violation("", reason))
    cells = {ours: record[i].strip() or None for ours, i in index.items()}
    column = survey.timestamp
    stamp = cells["_timestamp"]
    try:
        responded_at, local = parse_timestamp(stamp, survey.timestamp_format, survey.time_zone)
    except (ValueError, TypeError):
        shape = "ISO 8601" if survey.timestamp_format == "iso" else survey.timestamp_format
        reason = (
            f"{column}: is required but empty"
            if stamp is None
            else f"{column}: {stamp!r} is not a timestamp like {shape} (timestamp_format)"
        )
        return ParsedRow(number, {}, original, Violation(column, reason))
    answered_na = [m for m, codes in survey.not_applicable.items() if cells.get(m) in set(codes)]
    for measure in answered_na:  # the answer stays in `answers`; the measure has none
        cells[measure] = None
    for name in ("contact_id", "account_id"):
        if cells.get(name):
            cells[name] = to_sfid18(cells[name])
    row_key = hashlib.sha256(original.encode("utf-8")).hexdigest()[:16]
    values: dict[str, str | None] = {
        "response_id": cells.get("_response_id") or f"row-{row_key}",
        "responded_at": responded_at,
        "responded_at_local": local,
        "survey_id": survey.survey_id,
        "survey_kind": survey.kind,
        "touchpoint": cells.pop("touchpoint", None) or survey.touchpoint,
        "channel": cells.pop("channel", None) or survey.channel,
        "time_zone": survey.time_zone,
        **{name: cells.get(name) for name in MAPPED},
        "not_applicable": ",".join(answered_na) or None,
        "answers": json.dumps(
            dict(zip(header, record, strict=True)), ensure_ascii=False, separators=(",", ":")
        ),
    }
    return ParsedRow(number, values, original)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
