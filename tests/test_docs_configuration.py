"""docs/configuration.md shows a valid cxloop.yaml that sets every key the config model has."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from cxloop.config import ProjectConfig, load_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def example(tmp_path: Path) -> ProjectConfig:
    [block] = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    path = tmp_path / "cxloop.yaml"
    path.write_text(block, encoding="utf-8")
    return load_config(path)


def models_in(value: object) -> list[BaseModel]:
    """Every pydantic model inside a value (through lists and dicts)."""
    if isinstance(value, BaseModel):
        return [
            value,
            *[m for name in type(value).model_fields for m in models_in(getattr(value, name))],
        ]
    if isinstance(value, dict):
        return [m for v in value.values() for m in models_in(v)]
    if isinstance(value, list):
        return [m for v in value for m in models_in(v)]
    return []


def test_the_documented_file_is_valid_and_sets_every_key(tmp_path: Path) -> None:
    config = example(tmp_path)
    seen: dict[type, set[str]] = {}
    for model in models_in(config):
        seen.setdefault(type(model), set()).update(model.model_fields_set)
    missing = sorted(
        f"{cls.__name__}.{name}"
        for cls, names in seen.items()
        for name in cls.model_fields
        if name not in names
    )
    assert not missing, f"docs/configuration.md does not show: {missing}"
    assert config.sources["crm"].columns["opportunity"]["Subscription_End_Date__c"]
