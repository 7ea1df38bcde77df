"""`init_project`: inspect a sources folder, write the proposed cxloop.yaml (validated first,
never over an existing file unless forced) and say what was found."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cxloop.config import load_config
from cxloop.errors import ConfigError, CxloopError
from cxloop.init.detect import Found, detect_folder
from cxloop.init.layout import SourceProposal, propose_sources
from cxloop.init.writer import render_config


@dataclass
class InitResult:
    """What `cxloop init` wrote and found."""

    output: Path
    sources: list[SourceProposal]
    skipped: list[Found]

    def summary(self) -> list[str]:
        """A few lines a person reads: each source, what was skipped, what to fix."""
        lines = [f"Wrote {self.output}: review the guesses in its comments."]
        for source in self.sources:
            lines.append(f"  {source.name} ({source.kind}) in {source.path}/: {_what(source)}")
            lines += [f"    ! {note}" for note in source.notes]
        for item in self.skipped:
            lines.append(f"  skipped {item.path}: {item.evidence}")
        return lines

    def as_dict(self) -> dict[str, object]:
        """The same as JSON-ready data (cxloop init --json)."""
        return {
            "output": str(self.output),
            "sources": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "path": s.path,
                    "written": "yes" if s.accepted else "commented out",
                    "entities": s.entities,
                    "files": [str(p) for p in s.files],
                    "churn_method": s.churn.method if s.churn else None,
                    "surveys": {
                        v.survey_id: {k: g.value for k, g in v.fields.items()} for v in s.surveys
                    },
                    "notes": s.notes,
                }
                for s in self.sources
            ],
            "skipped": [{"file": str(f.path), "why": f.evidence} for f in self.skipped],
        }


def _what(source: SourceProposal) -> str:
    if not source.accepted:
        return f"{', '.join(source.entities)}; written commented out (not read by this version)"
    if source.kind == "qualtrics":
        surveys = [
            f"{s.survey_id} ({', '.join(s.fields)})" if s.has_measure else f"{s.file} (unmapped)"
            for s in source.surveys
        ]
        return f"{len(surveys)} survey(s): " + "; ".join(surveys)
    what = ", ".join(source.entities)
    if source.churn:
        what += f"; churn method {source.churn.method} (proposed as a comment)"
    return what


def init_project(sources: Path, output: Path | None = None, force: bool = False) -> InitResult:
    """Inspect `sources`, write a commented cxloop.yaml to `output` (default in `sources`)."""
    sources = Path(sources)
    if not sources.is_dir():
        raise CxloopError(f"{sources}: not a folder (expected the folder of your exports)")
    output = Path(output) if output else sources / "cxloop.yaml"
    if output.is_dir():
        raise CxloopError(f"{output}: is a folder (expected the path of the file to write)")
    if output.exists() and not force:
        raise CxloopError(
            f"{output}: already exists, not overwritten (pass --force to replace it, "
            "or --output to write elsewhere)"
        )
    found = detect_folder(sources, skip=(output,))
    proposals = propose_sources(sources, found)
    if not proposals:
        raise CxloopError(
            f"{sources}: no export cxloop recognises among {len(found)} file(s) (expected "
            "Salesforce Bulk CSVs, Zendesk API pages, Qualtrics response exports or SendGrid "
            "event batches)"
        )
    _write_valid(output, render_config(sources, proposals))
    return InitResult(output, proposals, [f for f in found if f.system is None])


def _write_valid(output: Path, text: str) -> None:
    """Write to a temporary name, check it loads as a project file, then rename."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cxloop-init-", suffix=".yaml", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            load_config(Path(tmp))
        except ConfigError as exc:
            raise CxloopError(f"the proposed config does not validate (a bug): {exc}") from exc
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
