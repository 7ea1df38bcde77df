"""The sources that have freshness, read from the dbt project's own source YAML and macros.

`dbt source freshness` costs a full dbt parse (seconds) for a handful of one-row queries. This
module reads the one definition dbt reads (each `sources:` entry's tables, `loaded_at_query` or
`loaded_at_field`/`filter`, and `freshness` thresholds, with table-level config over
source-level) and renders its Jinja with `var()` (cxloop.yaml's dbt vars over the project's)
and the project's macros, so `cxloop.quality.freshness` can run the same queries in SQL.
Only `var`, `this` and the project's macros are available to that Jinja; anything else is a
one-line error naming the YAML file and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from cxloop.errors import QualityGateError
from cxloop.package_data import dbt_project_dir
from cxloop.sqlnames import quoted

PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
SOURCES_KEY = re.compile(r"^sources\s*:", re.MULTILINE)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class FreshnessSource:
    """One source table with freshness: where it is, its loaded-at SQL and its thresholds."""

    source: str  # <source>.<table>, as dbt names it
    relation: str  # schema.identifier in the warehouse
    loaded_at_sql: str  # a query returning one value: the newest delivery (naive UTC)
    warn_after: timedelta | None
    error_after: timedelta | None

    def status(self, age_seconds: float) -> str:
        """dbt's rule: `error` past error_after, else `warn` past warn_after, else `pass`."""
        if self.error_after is not None and age_seconds > self.error_after.total_seconds():
            return "error"
        if self.warn_after is not None and age_seconds > self.warn_after.total_seconds():
            return "warn"
        return "pass"


class _Relation:
    """What `{{ this }}` is in a source's loaded_at_query: the source table."""

    def __init__(self, schema: str, identifier: str) -> None:
        self.schema, self.identifier, self.name = schema, identifier, identifier

    def __str__(self) -> str:
        return f"{quoted(self.schema)}.{quoted(self.identifier)}"


@dataclass(frozen=True)
class _Project:
    """The parts of the dbt project freshness needs, read and compiled once per process."""

    vars: dict[str, Any]
    env: jinja2.Environment
    macros: jinja2.Template  # every macro file's text, defined in one Jinja namespace
    sources: tuple[tuple[Path, dict[str, Any]], ...]  # (YAML file, one `sources:` entry)


@cache
def _project(project_dir: Path) -> _Project:
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}
    macros = "\n".join(
        path.read_text()
        for folder in config.get("macro-paths", ["macros"])
        for path in sorted((project_dir / folder).rglob("*.sql"))
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"])
    sources = []
    for folder in config.get("model-paths", ["models"]):
        for path in sorted((project_dir / folder).rglob("*.yml")):
            text = path.read_text()
            if not SOURCES_KEY.search(text):  # a models-only file: not worth parsing
                continue
            document = yaml.load(text, Loader=_LOADER) or {}
            sources += [(path, entry) for entry in document.get("sources") or []]
    return _Project(config.get("vars") or {}, env, env.from_string(macros), tuple(sources))


def _setting(node: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(is it set, its value) for a key given under `config:` or, older style, at the top."""
    config = node.get("config") or {}
    if key in config:
        return True, config[key]
    if key in node:
        return True, node[key]
    return False, None


@cache
def _compiled(env: jinja2.Environment, text: str) -> jinja2.Template:
    return env.from_string(text)


class _Renderer:
    """Renders the YAML's Jinja strings the way dbt would for these fields."""

    def __init__(self, project: _Project, dbt_vars: dict[str, Any]) -> None:
        self.values = {**project.vars, **dbt_vars}
        self.env, self.macros = project.env, project.macros

    def var(self, name: str, default: Any = None, *more: Any) -> Any:
        if name in self.values:
            return self.values[name]
        if default is None and not more:
            raise jinja2.UndefinedError(f"var('{name}') is not set and has no default")
        return default

    def render(self, text: Any, this: _Relation | None = None) -> str:
        if not isinstance(text, str):
            return "" if text is None else str(text)
        context = {"var": self.var, "this": this}
        module = self.macros.make_module(vars=context)
        names = {n: getattr(module, n) for n in dir(module) if not n.startswith("_")}
        return _compiled(self.env, text).render(**context, **names)


def _after(value: Any, renderer: _Renderer, where: str) -> timedelta | None:
    """A warn_after / error_after mapping ({count, period}) as a duration; None when unset."""
    if not value:
        return None
    count, period = renderer.render(value.get("count")), renderer.render(value.get("period"))
    if count in ("", "None") or period in ("", "None"):
        return None
    if period not in PERIOD_SECONDS or not count.lstrip("-").isdigit():
        raise QualityGateError(
            f"{where}: expected count an integer and period minute/hour/day, "
            f"got count {count!r}, period {period!r}"
        )
    return timedelta(seconds=int(count) * PERIOD_SECONDS[period])


def _loaded_at_sql(
    node: dict[str, Any], source: dict[str, Any], this: _Relation, renderer: _Renderer
) -> str | None:
    """The table's loaded-at query (table over source): a custom query or max(field)."""
    for level in (node, source):
        has_query, query = _setting(level, "loaded_at_query")
        if has_query and query:
            return renderer.render(query, this).strip()
        has_field, field = _setting(level, "loaded_at_field")
        if has_field and field:
            _, filter_ = _setting(node, "filter")
            where = f" where {renderer.render(filter_, this)}" if filter_ else ""
            return f"select max({renderer.render(field, this)}) from {this}{where}"
    return None


def freshness_sources(
    dbt_vars: dict[str, object] | None = None, project_dir: Path | None = None
) -> list[FreshnessSource]:
    """Every source table with a freshness threshold, sorted as dbt reports them."""
    project = _project((project_dir or dbt_project_dir()).resolve())
    renderer = _Renderer(project, dict(dbt_vars or {}))
    found: list[FreshnessSource] = []
    for path, source in project.sources:
        name = source["name"]
        schema = renderer.render(source.get("schema") or name)
        _, source_freshness = _setting(source, "freshness")
        for table in source.get("tables") or []:
            where = f"{path}: sources '{name}' table '{table['name']}'"
            has_own, own = _setting(table, "freshness")
            freshness = {**(source_freshness or {}), **(own or {})} if own or not has_own else {}
            try:
                warn = _after(freshness.get("warn_after"), renderer, where + " warn_after")
                error = _after(freshness.get("error_after"), renderer, where + " error_after")
                if warn is None and error is None:
                    continue
                this = _Relation(schema, table.get("identifier") or table["name"])
                sql = _loaded_at_sql(table, source, this, renderer)
            except jinja2.TemplateError as exc:
                raise QualityGateError(f"{where}: cannot render its freshness: {exc}") from None
            if sql is None:
                raise QualityGateError(
                    f"{where}: has freshness but no loaded_at_query or loaded_at_field"
                )
            found.append(
                FreshnessSource(
                    source=f"{name}.{table['name']}",
                    relation=f"{this.schema}.{this.identifier}",
                    loaded_at_sql=sql,
                    warn_after=warn,
                    error_after=error,
                )
            )
    return sorted(found, key=lambda s: s.source)
