"""cxloop: a customer-experience warehouse with closed-loop automation.

One distribution, one import name. The library lives here (`cxloop.*`); the repository's
top-level folders `flows/`, `models/`, `expectations/` and `playbooks/` install as
`cxloop.flows`, `cxloop.models`, `cxloop.expectations` and `cxloop.playbooks`, and
`dbt_project/` as the package data `cxloop.dbt_project` (pyproject.toml, docs/architecture.md).
"""

import os as _os

# cxloop runs where customers' data is, often with no way out to the internet: the libraries
# it drives (dbt, the Prefect server a command starts) send no usage statistics unless their
# own variables say so (docs/security.md "Usage statistics").
for _name in ("DBT_SEND_ANONYMOUS_USAGE_STATS", "PREFECT_SERVER_ANALYTICS_ENABLED"):
    _os.environ.setdefault(_name, "false")
