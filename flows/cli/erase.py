"""`cxloop erase --email ADDRESS | --customer-id ID`: remove one person everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxloop.flows.cli.common import ConfigOpt, JsonOpt, config_arg, run_command


def erase(
    email: Annotated[
        str | None, typer.Option("--email", help="The person's e-mail address.")
    ] = None,
    customer_id: Annotated[
        str | None, typer.Option("--customer-id", help="The person's customer_id.")
    ] = None,
    sources: Annotated[
        Path | None,
        typer.Option(
            "--sources",
            help="Sources folder (files `cxloop pull` and the webhooks wrote are cleaned); "
            "default: the folder of cxloop.yaml.",
        ),
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a person from raw, the lake, quarantine, identity, the ledger, the outbox, the
    snapshot and every file under CXLOOP_HOME; rebuild and republish (docs/erasure.md).

    Your own export files are not touched: delete the person there too.

    Example: cxloop erase --email jane@example.com --sources ./exports
    """
    from cxloop.erasure.run import subject_key
    from cxloop.flows.erase import erase as erase_flow

    def body() -> dict[str, Any]:
        key = subject_key(email, customer_id)  # the address itself never reaches Prefect
        cfg = config
        if cfg is None and sources is not None and (sources / "cxloop.yaml").is_file():
            cfg = sources / "cxloop.yaml"
        return erase_flow(key, str(sources) if sources else None, config_arg(cfg))

    run_command(body, as_json)


COMMANDS = (erase,)
