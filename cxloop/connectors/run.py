"""Pull one source: credentials, client, store; each stream from its cursor, page by page.

`pull_source` is what the `pull` flow's task runs per source; `check_source` is `--check`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import ProjectConfig, SourceConfig
from cxloop.connectors.base import Connector, PullContext, Stream
from cxloop.connectors.credentials import SecretLoader, resolve_credentials
from cxloop.connectors.http import ApiClient
from cxloop.connectors.progress import PageEvent, emit
from cxloop.connectors.registry import CONNECTORS
from cxloop.connectors.store import PullStore
from cxloop.errors import ConfigError

log = logging.getLogger(__name__)


def pullable_sources(config: ProjectConfig, only: list[str] | None = None) -> list[str]:
    """The sources with an `api` block, by name; `only` names sources or kinds."""
    with_api = [name for name, src in config.sources.items() if src.api is not None]
    if not only:
        return with_api
    known = set(config.sources) | {src.kind for src in config.sources.values()}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ConfigError(f"pull: no configured source or kind named {', '.join(unknown)}")
    chosen = [n for n in with_api if n in only or config.sources[n].kind in only]
    missing = [n for n in only if n in config.sources and config.sources[n].api is None]
    if missing:
        raise ConfigError(
            f"key 'sources.{missing[0]}.api': not set, so there is nothing to pull "
            "(expected base_url/subdomain and credentials; docs/connectors.md)"
        )
    return chosen


def connector_for(name: str, cfg: SourceConfig) -> tuple[Connector, ApiConfig]:
    """The source's connector and API settings, or a ConfigError naming the key."""
    if cfg.api is None:
        raise ConfigError(f"key 'sources.{name}.api': not set (docs/connectors.md)")
    connector = CONNECTORS.get(cfg.kind)
    if connector is None:
        raise ConfigError(
            f"key 'sources.{name}.api': no API connector for kind {cfg.kind} "
            f"(connectors: {', '.join(sorted(CONNECTORS))})"
        )
    unknown = sorted(set(cfg.api.entities or ()) - set(connector.entities))
    if unknown:
        raise ConfigError(
            f"key 'sources.{name}.api.entities': {', '.join(unknown)} not pulled by the "
            f"{cfg.kind} connector (expected some of {', '.join(connector.entities) or 'none'})"
        )
    return connector, cfg.api


def open_client(
    name: str, cfg: SourceConfig, load_secret: SecretLoader | None = None
) -> tuple[Connector, ApiClient]:
    """The connector and an authenticated client for a source."""
    connector, api = connector_for(name, cfg)
    base_url = api.base_url or connector.base_url(api)
    if not base_url:
        raise ConfigError(
            f"key 'sources.{name}.api': no base_url and no subdomain (expected one of them)"
        )
    if connector.authorize is not None:
        headers = connector.authorize(
            name, base_url, api, lambda roles: resolve_credentials(name, api, roles, load_secret)
        )
    else:
        headers = connector.headers(resolve_credentials(name, api, connector.credentials,
                                                        load_secret))  # fmt: skip
    client = ApiClient(
        source=name,
        base_url=base_url,
        headers=headers,
        timeout_seconds=api.timeout_seconds,
        max_retries=api.max_retries,
    )
    return connector, client


def pull_source(
    sources_dir: str | Path,
    name: str,
    cfg: SourceConfig,
    *,
    since: datetime | None = None,
    load_secret: SecretLoader | None = None,
    client: ApiClient | None = None,
) -> dict[str, Any]:
    """Pull every stream of one source into its folder; returns pages and records per stream.

    With `since`, each stream starts there instead of at its cursor (a backfill: records
    already landed come back as duplicates and do not land again).
    """
    if client is None:
        connector, client = open_client(name, cfg, load_secret)
    else:
        connector, _ = connector_for(name, cfg)
    api = cfg.api
    assert api is not None
    start = since or _start_of(api)
    folder = Path(sources_dir) / cfg.path
    ctx = PullContext(name, cfg, api, client, start, folder)
    report: dict[str, Any] = {"streams": {}}
    started = time.perf_counter()
    with client, PullStore.locked(folder) as store:
        for stream in connector.streams(cfg):
            if api.entities and stream.entity not in api.entities:
                continue
            report["streams"][stream.name] = _pull_stream(ctx, connector, store, stream, since)
    report["pages"] = sum(s["pages"] for s in report["streams"].values())
    report["records"] = sum(s["records"] for s in report["streams"].values())
    report["requests"] = client.stats.requests
    report["retries"] = client.stats.retries
    report["rate_limited"] = client.stats.rate_limited
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def _pull_stream(
    ctx: PullContext,
    connector: Connector,
    store: PullStore,
    stream: Stream,
    since: datetime | None,
) -> dict[str, Any]:
    state = store.stream(stream.name, stream.path_for)
    # a stream that follows another's landed pages (HubSpot associations) keeps its cursor on
    # a backfill: the pages the backfill lands come after it anyway
    backfill = since is not None and not stream.options.get("follows_pages")
    cursor = None if backfill else state.cursor
    pages = records = 0
    started = time.perf_counter()
    for page in connector.fetch(ctx, stream, cursor):
        if page.body is None:
            store.save_cursor(stream.name, page.cursor)
            continue
        store.commit_page(
            stream.name, stream.path_for(state.next_seq), page.body, page.records, page.cursor
        )
        pages += 1
        records += page.records
        emit(PageEvent(ctx.source, stream.name, pages, records, time.perf_counter() - started))
    seconds = time.perf_counter() - started
    emit(PageEvent(ctx.source, stream.name, pages, records, seconds, done=True))
    log.info("%s %s: %d pages, %d records", ctx.source, stream.name, pages, records)
    return {"pages": pages, "records": records, "seconds": round(seconds, 3)}


def check_source(
    name: str, cfg: SourceConfig, load_secret: SecretLoader | None = None
) -> dict[str, Any]:
    """`--check`: credentials resolve and one cheap call succeeds; writes nothing."""
    connector, client = open_client(name, cfg, load_secret)
    assert cfg.api is not None
    with client:
        seen = connector.check(PullContext(name, cfg, cfg.api, client, None))
    return {"ok": True, "base_url": client.base_url, "checked": seen}


def _start_of(api: ApiConfig) -> datetime | None:
    if api.start_date is None:
        return None
    return datetime(api.start_date.year, api.start_date.month, api.start_date.day, tzinfo=UTC)
