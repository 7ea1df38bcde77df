"""Where the files that ship inside the package are: the dbt project, playbook specs, templates.

Found through the import system, not through the checkout's path, so the same code works in a
source checkout (editable install) and in a wheel installed into site-packages.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def package_dir(name: str) -> Path:
    """The folder of an installed (sub)package, e.g. `cxloop.dbt_project`."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name}: not installed (reinstall cxloop: pip install .)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def dbt_project_dir() -> Path:
    """The dbt project (dbt_project.yml, profiles.yml, models, macros, tests)."""
    return package_dir("cxloop.dbt_project")


def playbooks_dir() -> Path:
    """The shipped playbook specs (`*.yaml`); their templates are in `templates/`."""
    return package_dir("cxloop.playbooks")
