"""cxloop: a customer-experience warehouse with closed-loop automation.

One distribution, one import name. The library lives here (`cxloop.*`); the repository's
top-level folders `flows/`, `models/`, `expectations/` and `playbooks/` install as
`cxloop.flows`, `cxloop.models`, `cxloop.expectations` and `cxloop.playbooks`, and
`dbt_project/` as the package data `cxloop.dbt_project` (pyproject.toml, docs/architecture.md).
"""
