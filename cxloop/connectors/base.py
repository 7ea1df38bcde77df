"""What a connector is: the streams it pulls, how it authenticates, and its page fetcher.

A connector module (`zendesk.py`, ...) exports `CONNECTOR = Connector(...)`; the registry in
`cxloop/connectors/__init__.py` maps source kinds to connectors. The framework (`run.py`)
resolves credentials, opens the client and the store, and for each stream hands the fetcher
the saved cursor; the fetcher yields `Page`s, each written durably before the next is asked
for, so the fetcher never writes files or state itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import SourceConfig
from cxloop.connectors.http import ApiClient


@dataclass(frozen=True)
class Stream:
    """One cursor's worth of data: a Zendesk resource, a Typeform form, a Qualtrics survey."""

    name: str  # the key of its cursor in state.json
    entity: str  # what `api.entities` selects by
    path_for: Callable[[int], str]  # page number -> path relative to the source folder
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One API answer to land as it came, and where the next request starts after it.

    `body` None means nothing to write (an empty page): the cursor still moves.
    """

    body: bytes | None
    records: int
    cursor: dict[str, Any] | None


@dataclass(frozen=True)
class PullContext:
    """What a fetcher gets besides its stream and cursor."""

    source: str  # the source's name in cxloop.yaml
    cfg: SourceConfig
    api: ApiConfig
    client: ApiClient
    since: datetime | None  # where to start when there is no cursor (None: everything)
    folder: Path | None = None  # the source's folder: a stream may read pages landed before it


Resolve = Callable[[tuple[str, ...]], dict[str, str]]
Authorize = Callable[[str, str, ApiConfig, Resolve], dict[str, str]]
Fetcher = Callable[[PullContext, Stream, "dict[str, Any] | None"], Iterator[Page]]


@dataclass(frozen=True)
class Connector:
    """A source kind's API connector."""

    kind: str
    credentials: tuple[str, ...]  # the keys `api.credentials` must name
    base_url: Callable[[ApiConfig], str | None]  # the vendor's default (None: must be set)
    headers: Callable[[Mapping[str, str]], dict[str, str]]  # credentials -> auth headers
    streams: Callable[[SourceConfig], list[Stream]]
    fetch: Fetcher
    check: Callable[[PullContext], str]  # one cheap call; says what it saw
    entities: tuple[str, ...] = ()  # what `api.entities` may name (empty: not selectable)
    # auth headers from a token endpoint (OAuth), before the client opens: (source, base_url,
    # api, resolve) -> headers, where resolve(roles) gives those credentials' values (a connector
    # with several auth flows picks the roles by what api.credentials names); None: `headers`
    authorize: Authorize | None = None
