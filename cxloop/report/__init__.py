"""The CX report: one static HTML page under $CXLOOP_HOME/reports/ (docs/report.md).

`write_cx_report` reads the warehouse read-only (`cxloop.report.data`), draws the pictures
(`cxloop.report.plots`) and writes the page (`cxloop.report.page`) in one rename, so a reader
never sees half a page (`render_cx_report` and `write_rendered` are its two halves). An empty
or missing warehouse gives a page whose sections say "No data yet".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from cxloop.config import ProjectConfig
from cxloop.errors import CxloopError
from cxloop.report.chart_cache import charts_kept_in
from cxloop.report.data import ReportData, read_report_data
from cxloop.report.page import render_page, sections
from cxloop.settings import Paths
from cxloop.warehouse import connect

REPORT_NAME = "cx-report.html"


def read_data(warehouse: Path, show_csm_names: bool) -> ReportData:
    """The report's data, or an empty ReportData when there is no warehouse file yet."""
    if not Path(warehouse).is_file():
        return ReportData()
    try:
        con = connect(warehouse, read_only=True)  # shared when a run holds it (publish)
    except duckdb.IOException as exc:
        raise CxloopError(
            f"{warehouse}: cannot open the warehouse to read ({exc}); "
            "a stage may be writing it: run the report after it"
        ) from None
    try:
        return read_report_data(con, show_csm_names)
    finally:
        con.close()


@dataclass(frozen=True)
class RenderedReport:
    """A drawn page not yet written (`render_cx_report`), with what `write_rendered` reports."""

    html: str
    as_of: str | None
    sections: dict[str, str]
    problems: list[str]


def render_cx_report(paths: Paths, config: ProjectConfig | None = None) -> RenderedReport:
    """Read the warehouse and draw the page, writing nothing but the chart cache (publish draws
    it beside the snapshot and writes it only once the snapshot is in place)."""
    show_names = bool(config and config.publish.show_csm_names)
    data = read_data(paths.warehouse, show_names)
    written_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    with charts_kept_in(paths.reports / ".charts"):  # unchanged charts are not drawn again
        drawn = sections(data)  # once, for the page and the summary
    return RenderedReport(
        render_page(data, config.company if config else "cxloop", written_at, drawn),
        data.as_of,
        {s["id"]: ("no data yet" if s["empty"] else "ok") for s in drawn},
        data.problems,
    )


def write_rendered(paths: Paths, rendered: RenderedReport) -> dict[str, Any]:
    """Write a drawn page in one rename; its path and which sections have data."""
    target = paths.reports / REPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(rendered.html, encoding="utf-8")
    os.replace(tmp, target)
    return {
        "path": str(target),
        "as_of": rendered.as_of,
        "sections": rendered.sections,
        "problems": rendered.problems,
    }


def write_cx_report(paths: Paths, config: ProjectConfig | None = None) -> dict[str, Any]:
    """Write $CXLOOP_HOME/reports/cx-report.html; its path and which sections have data.

    CSM names appear only when `publish.show_csm_names` is set (else their user ids), as in
    the BI snapshot; comments are redacted (cxloop.privacy).
    """
    return write_rendered(paths, render_cx_report(paths, config))
