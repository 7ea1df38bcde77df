"""Propose a survey mapping from profiled exports: which question is NPS, CSAT or CES, the open
text, the respondent's identity, the survey kind, channel and encoding; each with its evidence."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cxloop.init.qualtrics import OPEN_TEXT, QUESTION, ColumnProfile, ExportProfile
from cxloop.sources.qualtrics import METADATA, NOT_LANDED

SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
# words of each measure's usual question, in English and a few other languages
KEYWORDS = {
    "nps": re.compile(
        r"recomm?end|recomend|empfehl|raccomand|aanbevel|aanrad|tavsiye"
        r"|توصي|ترشيح|تنصح|توصیه|پیشنهاد|おすすめ|勧め|薦め|推奨|推荐",
        re.I,
    ),
    "csat": re.compile(
        r"\bsatisf|zufrieden|soddisf|tevreden|memnun|راض|رضا|رضایت|満足|满意"
        r"|\brat(?:e|ing)\b|bewert|évalu|califi|avali|تقيم|تقييم|評価",
        re.I,
    ),
    "ces": re.compile(
        r"\beas(?:y|e|ier|ily)\b|\beffort|f[aá]cil|einfach|\bleicht|aufwand|makkelijk"
        r"|eenvoudig|kolay|سهل|سهولة|جهد|آسان|簡単|容易|轻松",
        re.I,
    ),
}
CHANNELS = {"email": "email", "sms": "sms", "anonymous": "web", "gl": "web", "social": "social"}
_KIND_WORDS = (
    ("in_the_moment", re.compile(r"in[\W_]?app|moment|interaction|pulse", re.I)),
    ("transactional", re.compile(r"transaction|post[\W_]?(ticket|call|chat|purchase)", re.I)),
    ("relational", re.compile(r"relation|quarterly|annual|yearly", re.I)),
)
_IDENTITY_NAMES = {
    "ticket_id": re.compile(r"(zendesk)?_?ticket_?(id|number)?", re.I),
    "touchpoint": re.compile(r"touch_?point|interaction(_?type)?", re.I),
    "channel": re.compile(r"channel", re.I),
    "language": re.compile(r"lang(uage)?|locale", re.I),
    "phone": re.compile(r"(mobile_?)?phone(_?number)?|mobile|tel", re.I),
    "first_name": re.compile(r"first_?name|given_?name", re.I),
    "last_name": re.compile(r"last_?name|surname|family_?name", re.I),
    "full_name": re.compile(r"(full_?)?name", re.I),
}
_METADATA_KEYS = set(METADATA) | NOT_LANDED
_MOSTLY = 0.8


@dataclass(frozen=True)
class Guess:
    """A proposed value and why."""

    value: str
    evidence: str


@dataclass
class SurveyProposal:
    """One `surveys[]` entry to review."""

    file: str
    survey_id: str
    files: list[Path]
    kind: Guess
    touchpoint: Guess | None
    channel: Guess
    encoding: Guess
    fields: dict[str, Guess]
    questions: list[ColumnProfile]
    languages: str
    notes: list[str] = field(default_factory=list)

    @property
    def has_measure(self) -> bool:
        """The config needs at least one of nps, csat, ces."""
        return bool(set(SCALES) & set(self.fields))


def propose_survey(
    file: str, survey_id: str, exports: list[ExportProfile], columns: list[ColumnProfile]
) -> SurveyProposal:
    """A mapping for the exports that share one layout (columns summed over them)."""
    by_key = {c.key: c for c in columns}
    notes: list[str] = []
    fields = _measures(columns, by_key, notes)
    fields |= _open_text(columns)
    fields |= _identity(columns, by_key, notes)
    kind = _kind(file, fields)
    touchpoint = None
    if kind.value == "relational":
        touchpoint = Guess("relationship", "a relational survey asks about the relationship")
    elif "ticket_id" in fields:
        touchpoint = Guess("support_ticket", "each response follows a support ticket")
    return SurveyProposal(
        file=file,
        survey_id=survey_id,
        files=[e.path for e in exports],
        kind=kind,
        touchpoint=touchpoint,
        channel=_channel(by_key.get("distributionChannel")),
        encoding=_encoding(exports[0]),
        fields=fields,
        questions=[c for c in columns if c.key.startswith("QID")],
        languages=_shares(by_key.get("userLanguage")),
        notes=notes,
    )


def _measures(
    columns: list[ColumnProfile], by_key: dict[str, ColumnProfile], notes: list[str]
) -> dict[str, Guess]:
    """Each measure's best question: an NPS group column, the question's words, its range."""
    candidates: list[tuple[int, str, ColumnProfile, str]] = []
    for column in columns:
        total = sum(column.integers.values())
        if not QUESTION.fullmatch(column.key) or not total or total < 0.9 * column.filled:
            continue
        fits = {m: _inside(column, lo, hi) / total for m, (lo, hi) in SCALES.items()}
        tightest = min(
            (m for m in SCALES if fits[m] >= 0.98),
            key=lambda m: SCALES[m][1] - SCALES[m][0],
            default=None,
        )
        for measure, (lo, hi) in SCALES.items():
            word = KEYWORDS[measure].search(column.label)
            few_outside = total - _inside(column, lo, hi) <= max(2, total // 10)
            if measure == "nps" and f"{column.key}_NPS_GROUP" in by_key:
                score, why = 3, f"has an NPS group column ({column.key}_NPS_GROUP)"
            elif word and few_outside:
                score, why = 2, f'"{word.group(0)}" in the question'
            elif measure == tightest:
                score, why = 1, f"only the range fits a {lo}-{hi} scale; no telling word: review"
            else:
                continue
            candidates.append((score, measure, column, why + _outside(column, lo, hi)))
    chosen: dict[str, Guess] = {}
    used: set[str] = set()
    for _score, measure, column, why in sorted(candidates, key=lambda c: -c[0]):
        if measure in chosen or column.key in used:
            continue
        used.add(column.key)
        chosen[measure] = Guess(column.key, f"{_describe(column)}: {why}")
        if measure == "nps" and f"{column.key}_NPS_GROUP" in by_key:
            chosen["nps_group"] = Guess(f"{column.key}_NPS_GROUP", "the NPS question's group")
    if not chosen:
        notes.append(
            "no question has 0-10, 1-5 or 1-7 integer answers (a choice-text export? cxloop "
            "reads the numeric one): map a measure by hand"
        )
    return chosen


def _inside(column: ColumnProfile, low: int, high: int) -> int:
    return sum(n for value, n in column.integers.items() if low <= value <= high)


def _outside(column: ColumnProfile, low: int, high: int) -> str:
    """`; 2 answers outside 1-5 (6): quarantined, or list them under not_applicable`."""
    outside = sorted(v for v in column.integers if not low <= v <= high)
    if not outside:
        return ""
    count = sum(column.integers[v] for v in outside)
    codes = ", ".join(map(str, outside))
    return (
        f"; {count} answer(s) outside {low}-{high} ({codes}) are quarantined at ingest,"
        " unless they are an N/A choice (not_applicable)"
    )


def _describe(column: ColumnProfile) -> str:
    label = column.label if len(column.label) <= 70 else column.label[:67] + "..."
    return f'{column.name} "{label}", {column.value_range()}'


def _open_text(columns: list[ColumnProfile]) -> dict[str, Guess]:
    texts = [c for c in columns if OPEN_TEXT.fullmatch(c.key) and c.texts]
    if not texts:
        return {}
    best = max(texts, key=lambda c: (c.texts, c.text_chars))
    return {
        "open_text": Guess(best.key, f'{best.name} "{best.label}": free text, {best.texts} answers')
    }


def _identity(
    columns: list[ColumnProfile], by_key: dict[str, ColumnProfile], notes: list[str]
) -> dict[str, Guess]:
    """Respondent identity and interaction keys from embedded data (or question) columns."""
    found: dict[str, Guess] = {}
    recipient = by_key.get("recipientEmail")
    if recipient and recipient.emails:
        notes.append(
            f"RecipientEmail holds {recipient.emails} e-mail address(es): identity uses it "
            "without a mapping"
        )
    reference = by_key.get("externalDataReference")
    if reference and reference.sfid_prefixes["003"]:
        notes.append("ExternalReference holds Contact Ids (003...): identity uses it as they are")
    for column in columns:
        if column.key in _METADATA_KEYS or not column.filled:
            continue
        found.update(_identity_of(column, found, recipient))
    if "language" in found and by_key.get("userLanguage") and by_key["userLanguage"].filled:
        del found["language"]  # UserLanguage is used when `language` is not mapped
    return found


def _identity_of(
    column: ColumnProfile, found: dict[str, Guess], recipient: ColumnProfile | None
) -> dict[str, Guess]:
    where = f"{column.name} ({'question' if column.key.startswith('QID') else 'embedded data'})"
    if column.share(column.emails) >= _MOSTLY and "email" not in found:
        if recipient is None or column.emails > recipient.emails:
            return {"email": Guess(column.key, f"{where}: {column.emails} e-mail addresses")}
        return {}
    for field_name, prefix in (("contact_id", "003"), ("account_id", "001")):
        count = column.sfid_prefixes[prefix]
        if column.share(count) >= _MOSTLY and field_name not in found:
            why = f"{where}: {count} Salesforce ids starting {prefix}"
            return {field_name: Guess(column.key, why)}
    if column.key.startswith("QID"):
        return {}
    for field_name, pattern in _IDENTITY_NAMES.items():
        if field_name in found or not pattern.fullmatch(column.key):
            continue
        if field_name == "ticket_id" and sum(column.integers.values()) < _MOSTLY * column.filled:
            continue
        if field_name in ("touchpoint", "channel") and column.share(column.texts) < _MOSTLY:
            continue
        return {field_name: Guess(column.key, f"{where}: e.g. {', '.join(column.samples)}")}
    return {}


def _kind(file: str, fields: dict[str, Guess]) -> Guess:
    if "ticket_id" in fields:
        return Guess(
            "transactional", f"each response is keyed by a ticket ({fields['ticket_id'].value})"
        )
    if "touchpoint" in fields:
        why = f"each response names the interaction it follows ({fields['touchpoint'].value})"
        return Guess("in_the_moment", why)
    for kind, words in _KIND_WORDS:
        match = words.search(file)
        if match:
            return Guess(kind, f'"{match.group(0)}" in the file name')
    if set(fields) & set(SCALES) == {"nps"}:
        return Guess("relational", "an NPS survey with no interaction key; review")
    return Guess("transactional", "no interaction key and no telling file name; review")


def _channel(column: ColumnProfile | None) -> Guess:
    if column is None or not column.values:
        return Guess("email", "no DistributionChannel values; the default")
    value, count = column.values.most_common(1)[0]
    ours = CHANNELS.get(value.lower(), value.lower())
    return Guess(ours, f"DistributionChannel is {value!r} in {count} of {column.filled} responses")


def _encoding(export: ExportProfile) -> Guess:
    if export.not_utf8 is None:
        return Guess("utf-8", "decodes as UTF-8")
    line, byte = export.not_utf8
    why = f"byte 0x{byte:02x} on line {line} is not UTF-8; its words read as {export.encoding}"
    return Guess(export.encoding, why)


def _shares(column: ColumnProfile | None) -> str:
    """`EN 61%, AR 20%` from a column's values."""
    if column is None or not column.filled:
        return ""
    counts: Counter[str] = column.values
    return ", ".join(f"{v} {round(100 * n / column.filled)}%" for v, n in counts.most_common(5))
