"""`cxloop report`: the CX report as one static HTML page (cxloop.report, docs/report.md)."""

from __future__ import annotations

from typing import Any

from cxloop.flows.cli.common import ConfigOpt, JsonOpt, config_arg, run_command


def report(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Write the CX report to $CXLOOP_HOME/reports/cx-report.html (readable offline).

    NPS, CSAT and CES trends with margins of error and significant segment changes, the
    journey before detraction, topics and sentiment with masked comments, loop closure, and
    accounts at risk with their CLV at risk. Sections without data say "No data yet".

    Example: cxloop report --config ./exports/cxloop.yaml
    """
    from cxloop.config import project_config
    from cxloop.report import write_cx_report
    from cxloop.settings import Settings

    def body() -> dict[str, Any]:
        return write_cx_report(Settings().paths.ensure(), project_config(config_arg(config)))

    run_command(body, as_json)
