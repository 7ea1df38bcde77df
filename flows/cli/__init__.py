"""The `cxloop` command line: the app assembled from its command groups.

Every command runs the same Prefect flows a deployment runs. The groups import
`cxloop.flows.cli.common`, never this module; flows are imported inside the commands, so
`cxloop --help` starts fast and without Prefect.
"""

from __future__ import annotations

import typer

from cxloop.flows.cli import (
    callbacks,
    churn,
    erase,
    identity,
    init,
    pipeline,
    postgres,
    pull,
    report,
    serve,
    stages,
    webhooks,
)

app = typer.Typer(
    help="cxloop: a customer-experience warehouse with closed-loop automation.\n\n"
    "Example: cxloop demo --scale 0.2",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for command in (*pipeline.COMMANDS, *stages.COMMANDS, *erase.COMMANDS):
    app.command()(command)
app.command("serve-webhooks")(webhooks.serve)
app.command("serve")(serve.serve)
app.command("init")(init.init)
app.command("pull")(pull.pull)
app.command("report")(report.report)
app.add_typer(identity.app, name="identity")
app.add_typer(churn.app, name="churn")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(postgres.app, name="postgres")
app.add_typer(callbacks.app, name="callbacks")

__all__ = ["app"]

if __name__ == "__main__":
    app()
