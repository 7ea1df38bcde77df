"""Render proposed sources as a commented cxloop.yaml: every guess with its evidence."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import get_args

from cxloop.init.layout import SourceProposal
from cxloop.init.survey import Guess, SurveyProposal
from cxloop.survey_mappings import SurveyField

_BARE = re.compile(r"[A-Za-z][\w.-]*")
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n", "~"}
_FIELD_ORDER = get_args(SurveyField)


def render_config(sources_dir: Path, proposals: list[SourceProposal]) -> str:
    """The whole file: a header, `version`, `company` and one entry per proposed source."""
    lines = [
        f"# cxloop.yaml proposed by `cxloop init` from {sources_dir} on {date.today()}.",
        "# Each guess says why in a comment; review those marked 'review' before the first",
        f"# run (cxloop run --sources {sources_dir}). Every key: docs/configuration.md.",
        "# Source paths are relative to the sources folder.",
        "version: 1",
        "company: Example Co  # your company's name, shown in e-mails and reports",
        "",
        "sources:",
    ]
    for proposal in proposals:
        block = _source(proposal)
        lines += block if proposal.accepted else _commented(proposal, block)
    return "\n".join(lines) + "\n"


def scalar(value: str) -> str:
    """A string as a YAML scalar: bare when that is unambiguous, else double-quoted."""
    if _BARE.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.split())


def _source(proposal: SourceProposal) -> list[str]:
    lines = [
        f"  {proposal.name}:",
        f"    kind: {proposal.kind}",
        f"    path: {scalar(proposal.path)}  # {_comment(_contents(proposal))}",
    ]
    lines += [f"    # note: {_comment(note)}" for note in proposal.notes]
    lines += [f"    # {line}" for line in proposal.details]
    if proposal.churn:
        churn = proposal.churn
        lines += [
            "    churn:  # who is a customer and who churned (docs/metrics.md)",
            f"      method: {churn.method}  # {_comment(churn.evidence)}",
        ]
        if churn.columns:
            lines += ["    columns:  # our term field -> the org's own", "      opportunity:"]
            lines += [f"        {ours}: {scalar(theirs)}" for ours, theirs in churn.columns.items()]
    if proposal.surveys:
        lines.append("    surveys:")
        for survey in proposal.surveys:
            lines += _survey(survey)
    return lines


def _contents(proposal: SourceProposal) -> str:
    if proposal.kind == "qualtrics":
        return f"{len(proposal.files)} response export(s)"
    if proposal.kind == "salesforce":
        return ", ".join(proposal.entities)
    return ", ".join(f"{name} ({n} file(s))" for name, n in sorted(proposal.file_counts.items()))


def _survey(survey: SurveyProposal) -> list[str]:
    files = ", ".join(p.name for p in survey.files[:3])
    files += f" and {len(survey.files) - 3} more" if len(survey.files) > 3 else ""
    head = [f"      # {files}" + (f"; languages {survey.languages}" if survey.languages else "")]
    head.append("      # questions (ImportId, export tag, question text, values seen):")
    for q in survey.questions:
        head.append(f'      #   {q.key}  {q.name}  "{_comment(q.label)}"  {q.value_range()}')
    head += [f"      # note: {_comment(note)}" for note in survey.notes]
    body = [
        f"- file: {scalar(survey.file)}",
        f"  survey_id: {scalar(survey.survey_id)}",
        _guess("  kind", survey.kind),
    ]
    if survey.touchpoint:
        body.append(_guess("  touchpoint", survey.touchpoint))
    body += [_guess("  channel", survey.channel), _guess("  encoding", survey.encoding)]
    body.append("  fields:  # our field -> the column's row-3 ImportId")
    for name in _FIELD_ORDER:
        if name in survey.fields:
            body.append(_guess(f"    {name}", survey.fields[name]))
    if not survey.has_measure:
        head.append(
            "      # not mapped: no NPS, CSAT or CES question found (map one, then uncomment)"
        )
        return head + [f"      # {line}" for line in body]
    return head + [f"      {line}" for line in body]


def _guess(key: str, guess: Guess) -> str:
    return f"{key}: {scalar(guess.value)}  # {_comment(guess.evidence)}"


def _commented(proposal: SourceProposal, block: list[str]) -> list[str]:
    why = (
        f"  # {proposal.name}: recognised; a {proposal.kind} source needs what init cannot "
        "guess (typeform: secret_env and a forms[] mapping, docs/configuration.md): "
        "add it, then uncomment"
    )
    return [why] + [f"  # {line.strip() and line[2:]}" for line in block]
