"""Recognising one file by its format; guessing a legacy encoding; survey file globs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.init.detect import detect_file
from cxloop.init.encoding import guess_encoding
from cxloop.init.layout import _stem


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("كان من السهل التعامل مع طلبي، شكرا", "cp1256", "windows-1256"),
        ("Très facile, merci. Déjà réglé à côté", "cp1252", "windows-1252"),
        ("Очень легко, спасибо большое", "cp1251", "windows-1251"),
        ("Très facile", "utf-8", "utf-8"),
    ],
)
def test_guess_encoding(text: str, encoding: str, expected: str) -> None:
    assert guess_encoding(f"Q1,Q2\n5,{text}\n".encode(encoding)) == expected


@pytest.mark.parametrize(
    ("name", "stem", "glob"),
    [
        ("Relational_NPS_2025_Q3.csv", "Relational_NPS", "Relational_NPS_*.csv"),
        ("Customer NPS_May 2, 2024_10.15.csv", "Customer NPS", "Customer NPS_*.csv"),
        ("csat-2024-05.csv", "csat", "csat-*.csv"),
        ("Support_CSAT.csv", "Support_CSAT", "Support_CSAT.csv"),
        ("2024.csv", "2024", "2024.csv"),  # nothing left but the period: the name itself
    ],
)
def test_a_period_at_the_end_of_a_name_becomes_a_glob(name: str, stem: str, glob: str) -> None:
    assert _stem(name) == (stem, glob)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text", "system", "entity"),
    [
        (
            "a.csv",
            '"Id","Username","Email"\n"005Dp000001AbCdIAK","m@x.example","m@x.example"\n',
            "salesforce",
            "User",
        ),
        (
            "b.csv",
            '"Id","AccountId","LastName","Email"\n"003Dp00000AbCdEIAR","","Li",""\n',
            "salesforce",
            "Contact",
        ),
        (
            "c.json",
            '{"organizations":[{"id":77}],"count":1,"end_time":1,"next_page":null,"end_of_stream":true}',
            "zendesk",
            "organizations",
        ),
        (
            "d.json",
            '{"satisfaction_ratings":[],"meta":{"has_more":false},"links":{"next":null}}',
            "zendesk",
            "satisfaction_ratings",
        ),
        (
            "e.json",
            '{"comments":[{"id":1,"body":"Hi","public":true}],"next_page":null,"previous_page":null,"count":1}',
            "zendesk (not read)",
            "comments",
        ),
        (
            "f.json",
            '{"results":[{"id":"7","properties":{"dealname":"Acme","dealstage":"closedwon","pipeline":"default"}}]}',
            "hubspot",
            "deals",
        ),
        (
            "g.json",
            '{"total_items":1,"page_count":1,"items":[{"token":"t1","answers":[],"submitted_at":"2024-05-02T10:01:30Z"}]}',
            "typeform",
            "responses",
        ),
        (
            "h.json",
            '[{"email":"a@b.example","timestamp":1714650000,"event":"open","sg_event_id":"x"}]',
            "sendgrid",
            "events",
        ),
        ("i.json", '[{"id":1,"event":"open"}]', None, None),
        ("j.json", '{"tickets":[{"id":1}]}', None, None),  # no page envelope: not an API page
        ("k.csv", "name,score\nAna,9\n", None, None),
    ],
)
def test_detect_file(
    tmp_path: Path, name: str, text: str, system: str | None, entity: str | None
) -> None:
    found = detect_file(write(tmp_path, name, text), Path(name))
    assert (found.system, found.entity) == (system, entity), found.evidence


def test_a_csv_whose_first_row_is_short_is_still_recognised_by_its_header(tmp_path: Path) -> None:
    path = write(tmp_path, "u.csv", '"Id","Username","Email"\n"005Dp000001AbCdIAK"\n')
    assert detect_file(path, Path("u.csv")).entity == "User"
