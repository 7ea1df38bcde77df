"""cxloop: a customer-experience warehouse with closed-loop automation.

One distribution, one import name. The library lives here (`cxloop.*`); the repository's
top-level folders `flows/`, `models/`, `expectations/` and `playbooks/` install as
`cxloop.flows`, `cxloop.models`, `cxloop.expectations` and `cxloop.playbooks`, and
`dbt_project/` as the package data `cxloop.dbt_project` (pyproject.toml, docs/architecture.md).
"""

import os as _os

# cxloop runs where customers' data is, often with no way out to the internet: the libraries
# it drives (dbt, Prefect's client and the servers a command starts, Great Expectations) send
# no usage statistics unless the user's own variables say so (docs/security.md "Usage
# statistics"). Set on import, so every entry point has them: the CLI, a flow run a worker
# starts, a notebook.
OFFLINE_ENV: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}
for _name, _value in OFFLINE_ENV.items():
    _os.environ.setdefault(_name, _value)
