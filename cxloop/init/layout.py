"""From recognised files to proposed sources: each system's folder as its adapter reads it,
Qualtrics exports grouped into surveys (one layout, one name stem), and what is misplaced."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from cxloop.init.detect import Found
from cxloop.init.qualtrics import ExportProfile, merged_columns, profile_export
from cxloop.init.salesforce import ChurnProposal, propose_churn
from cxloop.init.survey import SurveyProposal, propose_survey
from cxloop.init.typeform import describe_forms
from cxloop.sources.salesforce import FILES as SALESFORCE_FILES

READ_NOW = ("salesforce", "hubspot", "zendesk", "qualtrics", "sendgrid")  # written as they are
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# an export's date or period at the end of its name: Qualtrics' own `_May 2, 2024_10.15`,
# `_2025_Q3`, `-2024-05`, ` 20240502`
_PERIOD = re.compile(
    rf"(?P<sep>[ _-]*)(?P<period>(?:{_MONTHS}) \d{{1,2}}, \d{{4}}_\d{{1,2}}\.\d{{2}}"
    r"|\d{4}(?:[ _-]?(?:Q[1-4]|H[12]|\d{2}(?:[ _-]?\d{2})?))?|Q[1-4][ _-]?\d{4})$",
    re.I,
)


@dataclass
class SourceProposal:
    """One `sources` entry: a system's folder, what is in it, and what to review."""

    name: str
    kind: str
    path: str  # relative to the sources folder, POSIX
    files: list[Path]
    entities: list[str]
    file_counts: Counter[str] = field(default_factory=Counter)  # files per entity
    surveys: list[SurveyProposal] = field(default_factory=list)
    churn: ChurnProposal | None = None
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # what a person needs to map it by hand

    @property
    def accepted(self) -> bool:
        """Whether init can write the source as it is (else it is written commented out)."""
        return self.kind in READ_NOW


def propose_sources(sources: Path, found: list[Found]) -> list[SourceProposal]:
    """Every system found, one proposal per folder its adapter would read."""
    by_system: dict[str, list[Found]] = defaultdict(list)
    for item in found:
        if item.system:
            by_system[item.system.split()[0]].append(item)
    proposals = [
        *_salesforce(sources, by_system["salesforce"]),
        *_nested("zendesk", by_system["zendesk"], by_entity_folder=True),
        *_qualtrics(sources, by_system["qualtrics"], found),
        *_nested("sendgrid", by_system["sendgrid"], by_entity_folder=True),
        *_nested("hubspot", by_system["hubspot"], by_entity_folder=True),
        *_nested("typeform", by_system["typeform"], by_entity_folder=False),
    ]
    for proposal in proposals:
        if proposal.kind == "typeform":
            proposal.details = describe_forms([sources / p for p in proposal.files])
    _name(proposals)
    return proposals


def _posix(path: Path) -> str:
    return PurePosixPath(path).as_posix() if str(path) != "." else "."


def _salesforce(sources: Path, found: list[Found]) -> list[SourceProposal]:
    out = []
    for folder, items in _by_folder(found).items():
        proposal = SourceProposal("", "salesforce", _posix(folder), [], [])
        by_object: dict[str, Path] = {}
        for item in items:
            proposal.files.append(item.path)
            expected = SALESFORCE_FILES.get(item.entity.lower(), f"{item.entity}.csv")
            if item.entity in by_object:
                proposal.notes.append(
                    f"{item.path} is a second {item.entity} export in {folder}: keep one"
                )
                continue
            by_object[item.entity] = item.path
            proposal.entities.append(item.entity)
            if item.path.name != expected:
                proposal.notes.append(
                    f"{item.path} is the {item.entity} export; cxloop reads "
                    f"{_posix(folder / expected)}: rename it"
                )
        opportunity, contract = by_object.get("Opportunity"), by_object.get("Contract")
        proposal.churn = propose_churn(
            sources / opportunity if opportunity else None,
            sources / contract if contract else None,
        )
        proposal.notes.extend(proposal.churn.notes)
        out.append(proposal)
    return out


def _nested(kind: str, found: list[Found], *, by_entity_folder: bool) -> list[SourceProposal]:
    """Zendesk, SendGrid and HubSpot read `<path>/<entity>/*.json`; others: the files' folder."""
    groups: dict[Path, list[Found]] = defaultdict(list)
    notes: dict[Path, list[str]] = defaultdict(list)
    for item in found:
        parent = item.path.parent
        if not by_entity_folder:
            groups[parent].append(item)
        elif parent.name == item.entity:
            groups[parent.parent].append(item)
        else:
            groups[parent].append(item)
            notes[parent].append(
                f"{item.path} is a {kind} {item.entity} file; cxloop reads "
                f"<path>/{item.entity}/*.json: move it into a folder named {item.entity}"
            )
    out = []
    for folder, items in sorted(groups.items()):
        entities = sorted({i.entity for i in items if i.entity})
        proposal = SourceProposal(
            "", kind, _posix(folder), [i.path for i in items], entities, notes=notes[folder]
        )
        proposal.file_counts.update(i.entity for i in items if i.entity)
        unread = sorted({i.entity for i in items if i.system and "not read" in i.system})
        if unread:
            proposal.notes.append(
                f"{', '.join(unread)}: recognised, not read by this version of cxloop"
            )
        out.append(proposal)
    return out


def _by_folder(found: list[Found]) -> dict[Path, list[Found]]:
    groups: dict[Path, list[Found]] = defaultdict(list)
    for item in found:
        groups[item.path.parent].append(item)
    return dict(sorted(groups.items()))


def _qualtrics(sources: Path, found: list[Found], every: list[Found]) -> list[SourceProposal]:
    out = []
    for folder, items in _by_folder(found).items():
        proposal = SourceProposal(
            "", "qualtrics", _posix(folder), [i.path for i in items], ["responses"]
        )
        strangers = [
            f.path
            for f in every
            if f.path.parent == folder and f.path.suffix.lower() == ".csv" and f not in items
        ]
        if strangers:
            proposal.notes.append(
                f"the Qualtrics ingest reads every *.csv in {_posix(folder)}/: move "
                f"{', '.join(map(str, strangers))} out of it"
            )
        exports = [profile_export(sources / i.path, i.path) for i in items]
        names = [e.path.name for e in exports]
        taken: set[str] = set()
        for glob, group in _surveys(exports):
            survey_id = _unique(_slug(_stem(group[0].path.name)[0]) or "survey", taken)
            patterns = [glob] if _only(glob, group, names) else [e.path.name for e in group]
            for pattern in patterns:
                mine = [e for e in group if fnmatch(e.path.name, pattern)]
                survey = propose_survey(pattern, survey_id, mine, merged_columns(mine))
                proposal.surveys.append(survey)
                if not survey.has_measure:
                    proposal.notes.append(
                        f"{pattern}: no NPS, CSAT or CES question found; the Qualtrics ingest "
                        "stops on a file no survey maps: map it or move it out"
                    )
        out.append(proposal)
    return out


def _surveys(exports: list[ExportProfile]) -> list[tuple[str, list[ExportProfile]]]:
    """(file glob, exports): one group per layout and name stem, a period made `*`."""
    groups: dict[tuple[tuple[str, ...], str], list[ExportProfile]] = defaultdict(list)
    globs: dict[tuple[tuple[str, ...], str], str] = {}
    for export in exports:
        stem, glob = _stem(export.path.name)
        key = (export.layout, stem)
        groups[key].append(export)
        globs[key] = glob
    return [(globs[key], group) for key, group in groups.items()]


def _stem(name: str) -> tuple[str, str]:
    """A file name without its period, and the glob for every period: (stem, glob)."""
    base, dot, ext = name.rpartition(".")
    base, ext = (base, dot + ext) if dot else (name, "")
    match = _PERIOD.search(base)
    if not match or match.start() == 0:
        return base, name
    stem = base[: match.start()]
    return stem, f"{stem}{match.group('sep')}*{ext}"


def _only(glob: str, group: list[ExportProfile], names: list[str]) -> bool:
    """The glob matches the group's files and no other file of the folder."""
    mine = {e.path.name for e in group}
    return {n for n in names if fnmatch(n, glob)} == mine


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text.lower()).strip("_")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _name(proposals: list[SourceProposal]) -> None:
    """A source is named after its kind; a second folder of a kind adds the folder."""
    taken: set[str] = set()
    for proposal in proposals:
        base = proposal.kind
        if base in taken:
            base = f"{proposal.kind}_{_slug(proposal.path) or 'root'}"
        proposal.name = _unique(base, taken)
