"""What one ingest run works on: where it reads and writes, and the files of each entity.

Shared by the ingest itself (cxloop.sources.ingest) and its worker processes
(cxloop.sources.workers).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from cxloop.config import ProjectConfig
from cxloop.sources.digests import DIGESTS_FILE, FileDigests


@dataclass(frozen=True)
class IngestRun:
    """Where one ingest run reads and writes."""

    sources_dir: Path
    config: ProjectConfig
    warehouse: Path
    lake_dir: Path

    @functools.cached_property
    def digests(self) -> FileDigests:
        """The source files' hashes remembered from earlier runs (cxloop.sources.digests)."""
        return FileDigests(self.lake_dir / DIGESTS_FILE)


@dataclass(frozen=True)
class EntityJob:
    """The files of one entity of one configured source."""

    source_name: str
    kind: str
    entity: str
    files: list[Path] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Report key, e.g. `salesforce.account`."""
        return f"{self.kind}.{self.entity}"
