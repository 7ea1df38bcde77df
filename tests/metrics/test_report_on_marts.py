"""The CX report on a warehouse the real build made (the sample raw layer): every query runs
against the real marts' columns, nothing is unreadable, and the page is written."""

from __future__ import annotations

from pathlib import Path

from cxloop.report import write_cx_report
from cxloop.settings import Settings


def test_the_report_reads_the_built_marts(built_home: Path) -> None:
    result = write_cx_report(Settings().paths, None)
    assert result["problems"] == []
    assert result["as_of"] is not None
    assert result["sections"]["trends"] == "ok" and result["sections"]["journey"] == "ok"
    html = Path(result["path"]).read_text(encoding="utf-8")
    assert 'data-plot="nps-trend"' in html and "Traceback" not in html
