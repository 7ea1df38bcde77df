"""Qualtrics response exports (CSV with 3 header rows), mapped onto our measures by ImportId.

Row 1 holds the editable export tags (`Q5`), row 2 the question text, row 3 one JSON object per
column (`{"ImportId":"QID1"}`; date columns add `"timeZone"`). Columns are identified by the
row-3 ImportId only, because an export tag need not match its QID.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from cxloop.config import SourceConfig, SurveyMapping
from cxloop.errors import SourceError
from cxloop.sources.contracts import Violation, contract_for, to_sfid18
from cxloop.sources.readers import Adapter, Batch, ParsedRow, decode, file_sha256, read_csv_records

KIND = "qualtrics"
ENTITY = "responses"
# metadata ImportId -> the column name we land it under (the export's own row-1 name)
METADATA = {
    "startDate": "StartDate",
    "endDate": "EndDate",
    "status": "Status",
    "progress": "Progress",
    "finished": "Finished",
    "recordedDate": "RecordedDate",
    "_recordId": "ResponseId",
    "recipientLastName": "RecipientLastName",
    "recipientFirstName": "RecipientFirstName",
    "recipientEmail": "RecipientEmail",
    "externalDataReference": "ExternalReference",
    "distributionChannel": "DistributionChannel",
    "userLanguage": "UserLanguage",
}
NOT_LANDED = {"ipAddress", "duration", "locationLatitude", "locationLongitude"}
MEASURES = (
    "nps",
    "nps_group",
    "csat",
    "ces",
    "open_text",
    "ticket_id",
    "contact_id",
    "account_id",
    "language",
)
# respondent identity from any column; landed only when the survey maps them, so the rows
# (and their content hashes) of surveys that do not are what they were
IDENTITY = ("email", "phone", "first_name", "last_name", "full_name")
SALESFORCE_IDS = ("contact_id", "account_id")  # 15-character ids land as 18
NOT_APPLICABLE = "not_applicable"  # the measures answered with an N/A code, comma-separated
SURVEY_COLUMNS = ("survey_id", "survey_kind", "touchpoint", "channel", "time_zone")
TIME_ZONE_SOURCES = ("recordedDate", "startDate", "endDate")
HEADER_ROWS = 3


@dataclass(frozen=True)
class Column:
    """One export column as row 3 identifies it."""

    index: int
    name: str
    key: str  # ImportId, with `#choiceId` for split multi-select columns
    time_zone: str | None


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """Qualtrics lands one entity: survey responses."""
    return (ENTITY,)


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Every response export in the Qualtrics folder, in file-name order."""
    return {ENTITY: sorted(folder.glob("*.csv"))}


def mapping_for(path: Path, rel: str, cfg: SourceConfig) -> SurveyMapping:
    """The one survey mapping whose `file` glob matches this export."""
    matches = [m for m in cfg.surveys if fnmatch(path.name, m.file)]
    if len(matches) != 1:
        survey_ids = ", ".join(m.survey_id for m in matches)
        problem = (
            "unknown survey layout: no survey mapping matches this file"
            if not matches
            else f"matches {len(matches)} survey mappings ({survey_ids})"
        )
        raise SourceError(
            rel, problem, expected="exactly one `surveys[].file` glob in cxloop.yaml to match"
        )
    return matches[0]


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one export: identify columns by ImportId, map measures, keep every answer."""
    mapping = mapping_for(path, rel, cfg)
    position = cfg.surveys.index(mapping)
    data = path.read_bytes()
    records = read_csv_records(decode(data, rel, mapping.encoding), rel)
    headers = [next(records, ([], ""))[0] for _ in range(HEADER_ROWS)]
    columns = _columns(headers, rel)
    mapped = _mapped_indexes(columns, mapping, rel, position)
    not_applicable = mapping.not_applicable_codes()
    time_zone = next(
        (c.time_zone for key in TIME_ZONE_SOURCES for c in columns if c.key == key and c.time_zone),
        None,
    )
    rows = [
        _parse_row(number, record, original, columns, mapped, mapping, time_zone, not_applicable)
        for number, (record, original) in enumerate(records, start=1)
        if record
    ]
    out_columns = [METADATA[c.key] for c in columns if c.key in METADATA]
    out_columns += [*SURVEY_COLUMNS, *MEASURES, *_extra_columns(mapping), "answers"]
    return Batch(
        KIND, ENTITY, rel, file_sha256(data), contract_for(KIND, ENTITY), out_columns, rows
    )


def _columns(headers: list[list[str]], rel: str) -> list[Column]:
    names, _labels, import_row = headers
    if not import_row or len(import_row) != len(names):
        raise SourceError(
            rel,
            "unknown survey layout: row 3 is missing or has the wrong width",
            row=3,
            expected="3 header rows, row 3 with ImportId JSON per column",
        )
    return [
        _column(i, name, cell, rel)
        for i, (name, cell) in enumerate(zip(names, import_row, strict=True))
    ]


def _column(index: int, name: str, cell: str, rel: str) -> Column:
    try:
        spec = json.loads(cell)
    except json.JSONDecodeError:
        spec = None
    if not isinstance(spec, dict) or not isinstance(spec.get("ImportId"), str):
        raise SourceError(
            rel,
            f"unknown survey layout: row 3 is not ImportId JSON: {cell[:40]!r}",
            row=3,
            field=name,
            expected='JSON like {"ImportId":"QID1"}',
        )
    key = spec["ImportId"] + (f"#{spec['choiceId']}" if "choiceId" in spec else "")
    return Column(index, name, key, spec.get("timeZone"))


def _extra_columns(mapping: SurveyMapping) -> list[str]:
    """The optional raw columns this survey lands: mapped identity fields, N/A measures."""
    extra = [name for name in IDENTITY if name in mapping.fields]
    return extra + ([NOT_APPLICABLE] if mapping.not_applicable_codes() else [])


def _mapped_indexes(
    columns: list[Column], mapping: SurveyMapping, rel: str, position: int
) -> dict[str, int]:
    by_key = {c.key: c.index for c in columns}
    wanted = {"_response_id": "_recordId", **mapping.fields}
    missing = [(ours, key) for ours, key in wanted.items() if key not in by_key]
    if missing:
        ours, key = missing[0]
        present = ", ".join(
            c.key for c in columns if c.key not in METADATA and c.key not in NOT_LANDED
        )
        mapping_key = (
            "the ResponseId column"
            if ours == "_response_id"
            else f"cxloop.yaml surveys[{position}].fields.{ours} ({mapping.survey_id})"
        )
        raise SourceError(
            rel,
            f"no column with ImportId {key!r}, named by {mapping_key}",
            row=3,
            field=ours,
            expected=(
                f"a column whose row-3 ImportId is {key!r}; besides the metadata the file "
                f"has {present or 'no columns'}"
            ),
        )
    return {ours: by_key[key] for ours, key in wanted.items()}


def _parse_row(
    number: int,
    record: list[str],
    original: str,
    columns: list[Column],
    mapped: dict[str, int],
    mapping: SurveyMapping,
    time_zone: str | None,
    not_applicable: dict[str, frozenset[str]],
) -> ParsedRow:
    if len(record) != len(columns):
        reason = f"row: has {len(record)} values, expected {len(columns)} like the header"
        return ParsedRow(number, {}, original, Violation("", reason))
    cells = [cell if cell != "" else None for cell in record]
    values: dict[str, str | None] = {
        METADATA[c.key]: cells[c.index] for c in columns if c.key in METADATA
    }
    mapped_value = {ours: cells[i] for ours, i in mapped.items()}
    values.update(
        survey_id=mapping.survey_id,
        survey_kind=mapping.kind,
        touchpoint=mapped_value.get("touchpoint") or mapping.touchpoint,
        channel=mapped_value.get("channel") or mapping.channel,
        time_zone=time_zone,
    )
    answered_na = [
        m for m, codes in not_applicable.items() if (mapped_value.get(m) or "").strip() in codes
    ]
    for measure in answered_na:  # the answer stays in `answers`; the measure has none
        mapped_value[measure] = None
    for name in SALESFORCE_IDS:
        if mapped_value.get(name):
            mapped_value[name] = to_sfid18(mapped_value[name].strip())
    values.update({m: mapped_value.get(m) for m in MEASURES})
    values.update({name: mapped_value[name] for name in IDENTITY if name in mapped_value})
    if not_applicable:
        values[NOT_APPLICABLE] = ",".join(answered_na) or None
    if "language" not in mapping.fields:
        values["language"] = values.get("UserLanguage")
    answers = {
        c.key: cells[c.index] for c in columns if c.key not in METADATA and c.key not in NOT_LANDED
    }
    values["answers"] = json.dumps(answers, ensure_ascii=False, separators=(",", ":"))
    return ParsedRow(number, values, original)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
