"""Qualtrics response exports (CSV, numeric mode): three header rows, then one row per response.

Row 1 internal names, row 2 labels, row 3 JSON ImportIds (dates carry `timeZone`); date values
are naive local times in that zone. The CES file is written in Windows-1256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.demo.activity import Activity, Response
from cxloop.demo.common import (
    BAD_DATES,
    COUNTRIES,
    atomic_write_bytes,
    csv_text,
    pick_bad_rows,
    random_tokens,
    rng_for,
)
from cxloop.demo.world import World

METADATA = [
    ("StartDate", "Start Date", "startDate"),
    ("EndDate", "End Date", "endDate"),
    ("Status", "Response Type", "status"),
    ("IPAddress", "IP Address", "ipAddress"),
    ("Progress", "Progress", "progress"),
    ("Duration (in seconds)", "Duration (in seconds)", "duration"),
    ("Finished", "Finished", "finished"),
    ("RecordedDate", "Recorded Date", "recordedDate"),
    ("ResponseId", "Response ID", "_recordId"),
    ("RecipientLastName", "Recipient Last Name", "recipientLastName"),
    ("RecipientFirstName", "Recipient First Name", "recipientFirstName"),
    ("RecipientEmail", "Recipient Email", "recipientEmail"),
    ("ExternalReference", "External Data Reference", "externalDataReference"),
    ("LocationLatitude", "Location Latitude", "locationLatitude"),
    ("LocationLongitude", "Location Longitude", "locationLongitude"),
    ("DistributionChannel", "Distribution Channel", "distributionChannel"),
    ("UserLanguage", "User Language", "userLanguage"),
]
DATE_IMPORT_IDS = {"startDate", "endDate", "recordedDate"}
NPS_QUESTION = "How likely are you to recommend cxloop to a friend or colleague?"
CP1256_REPLACEMENTS = str.maketrans({"ی": "ي", "ۀ": "ه"})  # Persian letters cp1256 lacks


@dataclass(frozen=True)
class Survey:
    """One survey's export layout."""

    kind: str  # nps | csat | ces
    time_zone: str
    encoding: str
    # (row-1 name, row-2 label, ImportId) for questions then embedded data
    columns: tuple[tuple[str, str, str], ...]


NPS = Survey(
    "nps",
    "America/Denver",
    "utf-8",
    (
        ("Q1", NPS_QUESTION, "QID1"),
        ("Q1_NPS_GROUP", f"{NPS_QUESTION} - Group", "QID1_NPS_GROUP"),
        ("Q2", "Why?", "QID2_TEXT"),
        ("ContactId", "ContactId", "ContactId"),
    ),
)
CSAT = Survey(
    "csat",
    "Asia/Dubai",
    "utf-8",
    (
        ("Q5", "Overall, how satisfied are you with the support you received?", "QID1"),
        ("Q6", "What could we have done better?", "QID3_TEXT"),
        ("TicketId", "TicketId", "TicketId"),
    ),
)
CES = Survey(
    "ces",
    "UTC",
    "cp1256",
    (
        ("Q1", "cxloop made it easy for me to handle my request.", "QID1"),
        ("Q2", "Please tell us why.", "QID2_TEXT"),
        ("Touchpoint", "Touchpoint", "Touchpoint"),
    ),
)


def write_qualtrics(
    world: World, activity: Activity, out: Path, ticket_ids: list[int]
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Write all survey exports; returns rows per file and (ResponseId, person_id) pairs."""
    counts: dict[str, int] = {}
    truth: list[tuple[str, str]] = []
    by_kind: dict[str, list[Response]] = {"nps": [], "csat": [], "ces": []}
    for r in activity.responses:
        by_kind[r.survey].append(r)
    files: list[tuple[str, Survey, list[Response]]] = []
    quarters = sorted({r.quarter for r in by_kind["nps"]})
    for q in quarters:
        files.append(
            (f"Relational_NPS_{q}.csv", NPS, [r for r in by_kind["nps"] if r.quarter == q])
        )
    files.append(("Support_CSAT.csv", CSAT, by_kind["csat"]))
    files.append(("Interaction_CES.csv", CES, by_kind["ces"]))
    for name, survey, responses in files:
        rows, pairs = _rows(
            world, survey, name, sorted(responses, key=lambda r: (r.ts, r.person)), ticket_ids
        )
        text = csv_text([*_header_rows(survey), *rows], quote_all=False, lineterminator="\r\n")
        if survey.encoding == "cp1256":
            text = text.translate(CP1256_REPLACEMENTS)
        atomic_write_bytes(out / "qualtrics" / name, text.encode(survey.encoding))
        counts[f"qualtrics.{name.removesuffix('.csv')}"] = len(rows)
        truth.extend(pairs)
    return counts, truth


def _header_rows(survey: Survey) -> list[list[str]]:
    names = [c[0] for c in METADATA] + [c[0] for c in survey.columns]
    labels = [c[1] for c in METADATA] + [c[1] for c in survey.columns]
    import_ids = []
    for _, _, iid in METADATA + list(survey.columns):
        doc = {"ImportId": iid}
        if iid in DATE_IMPORT_IDS:
            doc["timeZone"] = survey.time_zone
        import_ids.append(json.dumps(doc, separators=(",", ":")))
    return [names, labels, import_ids]


def _rows(
    world: World, survey: Survey, name: str, responses: list[Response], ticket_ids: list[int]
) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """Data rows plus ~1% corrupted copies; and the ResponseId -> person truth."""
    rng = rng_for(world.seed, f"qualtrics_{name}")
    n = len(responses)
    ids = ["R_" + tok for tok in random_tokens(rng, n + n // 50 + 2, 15)]
    ts = np.array([r.ts for r in responses], dtype="int64")
    dur = np.array([r.duration for r in responses], dtype="int64")
    start, end, recorded = (
        _local(ts - dur, survey.time_zone),
        _local(ts, survey.time_zone),
        _local(ts + 1, survey.time_zone),
    )
    rows, pairs = [], []
    for k, r in enumerate(responses):
        rows.append(_row(world, survey, rng, r, ids[k], start[k], end[k], recorded[k], ticket_ids))
        pairs.append((ids[k], str(world.col("persons", "person_id")[r.person])))
    return _with_bad_rows(world, survey, rng, rows, responses, ids[n:], pairs)


def _row(
    world: World,
    survey: Survey,
    rng: np.random.Generator,
    r: Response,
    rid: str,
    start: str,
    end: str,
    recorded: str,
    ticket_ids: list[int],
) -> list[str]:
    col = world.col
    country = COUNTRIES[str(col("persons", "country")[r.person])]
    sf_id = str(col("persons", "sf_id")[r.person])
    lat = f"{country['lat'] + rng.normal(0, 0.05):.4f}"
    lon = f"{country['lon'] + rng.normal(0, 0.05):.4f}"
    ip = (
        f"{('203.0.113', '198.51.100', '192.0.2')[int(rng.integers(0, 3))]}."
        f"{int(rng.integers(1, 255))}"
    )
    meta = [
        start,
        end,
        "0",
        ip,
        "100",
        str(r.duration),
        "1",
        recorded,
        rid,
        str(col("persons", "q_last")[r.person]),
        str(col("persons", "q_first")[r.person]),
        str(col("persons", "q_email")[r.person]),
        sf_id if survey.kind == "nps" and rng.random() < 0.85 else "",
        lat,
        lon,
        "email",
        str(col("persons", "lang")[r.person]).upper(),
    ]
    if survey.kind == "nps":
        group = "1" if r.score <= 6 else ("2" if r.score <= 8 else "3")
        answers = [str(r.score), group, r.text, sf_id if rng.random() < 0.9 else ""]
    elif survey.kind == "csat":
        answers = [str(r.score), r.text, str(ticket_ids[r.ticket])]
    else:
        answers = [str(r.score), r.text, r.touchpoint]
    return meta + answers


def _with_bad_rows(
    world: World,
    survey: Survey,
    rng: np.random.Generator,
    rows: list[list[str]],
    responses: list[Response],
    spare_ids: list[str],
    pairs: list[tuple[str, str]],
) -> tuple[list[list[str]], list[tuple[str, str]]]:
    """Insert ~1% corrupted copies: out-of-range score, no ResponseId, or an unparseable date."""
    bad = set(pick_bad_rows(rng, len(rows)).tolist())
    out, truth = [], list(pairs)
    score_col = len(METADATA)
    for i, row in enumerate(rows):
        out.append(row)
        if i not in bad:
            continue
        copy = list(row)
        copy[8] = spare_ids.pop()
        kind = int(rng.integers(0, 3))
        if kind == 0:
            copy[score_col] = {"nps": "11", "csat": "6", "ces": "0"}[survey.kind]
            if survey.kind == "nps":
                copy[score_col + 1] = ""
        elif kind == 1:
            copy[8] = ""
        else:
            copy[7] = BAD_DATES[int(rng.integers(0, len(BAD_DATES)))]
        if copy[8]:
            truth.append((copy[8], str(world.col("persons", "person_id")[responses[i].person])))
        out.append(copy)
    return out, truth


def _local(ts: np.ndarray, zone: str) -> list[str]:
    """Epoch seconds -> naive `YYYY-MM-DD HH:MM:SS` in the survey's time zone."""
    if len(ts) == 0:
        return []
    stamps = pd.to_datetime(ts, unit="s", utc=True).tz_convert(zone)
    return list(stamps.strftime("%Y-%m-%d %H:%M:%S"))
