"""The playbook YAML schema: trigger, key, actions and guardrails, validated on load.

Every error names the playbook file and the key that is wrong.
"""

from __future__ import annotations

import string
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TABLE_PATTERN = r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$"
COLUMN_PATTERN = r"^[A-Za-z_]\w*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

Column = Annotated[str, Field(pattern=COLUMN_PATTERN)]


class PlaybookError(ValueError):
    """A playbook file is wrong, or its trigger cannot run; the message names file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Join(_Strict):
    """Columns looked up from another table (left join on shared key columns)."""

    table: str = Field(pattern=TABLE_PATTERN)
    using: list[Column] = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)

    @field_validator("using", mode="before")
    @classmethod
    def _one_or_many(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v


class Trigger(_Strict):
    """Which rows call for action: `source` + `where` (+ `joins`), or a full `query`."""

    source: str | None = Field(default=None, pattern=TABLE_PATTERN)
    where: str | None = None
    joins: list[Join] = []
    query: str | None = None
    params: dict[str, float | int | str] = {}

    @model_validator(mode="after")
    def _source_or_query(self) -> Trigger:
        if (self.source is None) == (self.query is None):
            raise ValueError("give exactly one of 'source' (with 'where') or 'query'")
        if self.query is not None and (self.where or self.joins):
            raise ValueError("'where' and 'joins' go with 'source', not with 'query'")
        return self


class EmailAction(_Strict):
    """One personal e-mail per trigger row."""

    type: Literal["email"]
    to: Column
    template: str = Field(pattern=NAME_PATTERN)
    locale_from: Column | None = None
    default_locale: str = "en"
    opted_out_from: Column | None = None


class CallbackTaskAction(_Strict):
    """A task for a person (the account's CSM) to call the customer back."""

    type: Literal["callback_task"]
    assignee_from: Column
    due_in_business_days: int = Field(2, ge=0, le=60)
    due_in_business_hours: float | None = Field(
        None, gt=0, le=480, description="the SLA in business hours; wins over the days"
    )
    reason: str = "Follow up"


class CsmDigestAction(_Strict):
    """One e-mail per recipient per run listing all of that recipient's trigger rows."""

    type: Literal["csm_digest"]
    to: Column
    template: str = Field(pattern=NAME_PATTERN)
    name_from: Column | None = None
    locale_from: Column | None = None
    default_locale: str = "en"


Action = Annotated[EmailAction | CallbackTaskAction | CsmDigestAction, Field(discriminator="type")]


class QuietHours(_Strict):
    """No messages between start and end, in the recipient's local time."""

    start: time
    end: time
    timezone_from: Column | None = None
    default_timezone: str = "UTC"

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {v!r}") from exc
        return v


class Guardrails(_Strict):
    cooldown_hours: float = Field(0, ge=0)
    max_per_run: int | None = Field(None, ge=1)
    quiet_hours: QuietHours | None = None
    respect_suppressions: bool = True
    require_quality_gate: bool = True


class Playbook(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    trigger: Trigger
    key: str
    actions: list[Action] = Field(min_length=1)
    guardrails: Guardrails = Guardrails()

    @field_validator("key")
    @classmethod
    def _key_has_fields(cls, v: str) -> str:
        if not key_fields(v):
            raise ValueError("needs at least one {column} so that each row gets its own key")
        return v

    @model_validator(mode="after")
    def _one_digest_only(self) -> Playbook:
        kinds = [a.type for a in self.actions]
        if "csm_digest" in kinds and len(kinds) > 1:
            raise ValueError("a csm_digest playbook has that one action only")
        return self


class LoadedPlaybook(BaseModel):
    """A validated playbook and the file it came from (for error messages)."""

    model_config = ConfigDict(frozen=True)

    spec: Playbook
    file: Path


def key_fields(template: str) -> list[str]:
    """The {column} names a key or reason template uses."""
    try:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError as exc:
        raise ValueError(f"not a valid {{column}} template: {exc}") from exc


def load_playbook(path: Path, templates_dir: Path = TEMPLATES_DIR) -> LoadedPlaybook:
    """Read and validate one playbook YAML; errors name the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise PlaybookError(f"{path}: cannot read: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise PlaybookError(f"{path}: expected a mapping at the top level")
    try:
        spec = Playbook.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PlaybookError(f"{path}: key '{key}': {first['msg']}{more}") from exc
    if spec.name != path.stem:
        raise PlaybookError(f"{path}: key 'name': {spec.name!r} must match the file name")
    for i, action in enumerate(spec.actions):
        if isinstance(action, EmailAction | CsmDigestAction):
            folder = templates_dir / action.template / action.default_locale
            if not folder.is_dir():
                raise PlaybookError(f"{path}: key 'actions.{i}.template': no templates at {folder}")
    return LoadedPlaybook(spec=spec, file=path)


def load_playbooks(
    folder: Path, names: list[str] | None = None, templates_dir: Path | None = None
) -> list[LoadedPlaybook]:
    """All playbooks in a folder (or the named ones, in that order)."""
    folder = Path(folder)
    templates_dir = templates_dir or folder / "templates"
    if names is None:
        files = sorted(folder.glob("*.yaml"))
    else:
        files = [folder / f"{n}.yaml" for n in names]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise PlaybookError(f"no such playbook: {', '.join(missing)}")
    return [load_playbook(f, templates_dir) for f in files]
