"""Playbook YAML validation: the shipped playbooks load; bad ones name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.playbooks.spec import PlaybookError, load_playbook, load_playbooks

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"

VALID = """
name: {name}
trigger: {{source: marts.fct_survey_responses, where: "nps_score <= 6"}}
key: "x:{{response_id}}"
actions:
  - {{type: email, to: respondent_email, template: detractor_followup}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_playbooks_load() -> None:
    loaded = {lp.spec.name: lp.spec for lp in load_playbooks(PLAYBOOKS)}
    assert set(loaded) == {
        "detractor_followup",
        "at_risk_alert",
        "repeat_complaint",
        "callback_escalation",
    }
    assert [a.type for a in loaded["detractor_followup"].actions] == ["email", "callback_task"]
    assert loaded["at_risk_alert"].actions[0].type == "csm_digest"


def test_valid_minimal_playbook_loads(tmp_path: Path) -> None:
    lp = load_playbook(write(tmp_path, "mini", VALID.format(name="mini")), PLAYBOOKS / "templates")
    assert lp.spec.guardrails.respect_suppressions and lp.spec.guardrails.require_quality_gate


@pytest.mark.parametrize(
    ("text", "key", "why"),
    [
        (VALID.format(name="bad").replace("key:", "kee:"), "key", "Field required"),
        (VALID.format(name="bad").replace("type: email", "type: sms"), "actions.0", "sms"),
        (
            VALID.format(name="bad").replace("to: respondent_email", "to: 'a b'"),
            "actions.0.email.to",
            "pattern",
        ),
        (VALID.format(name="bad").replace('"x:{response_id}"', '"constant"'), "key", "{column}"),
        (
            VALID.format(name="bad") + "guardrails: {max_per_run: 0}\n",
            "guardrails.max_per_run",
            "greater than or equal",
        ),
        (
            VALID.format(name="bad") + "guardrails: {quiet_hours: {start: '21:00', end: '08:00', "
            "default_timezone: Mars/Olympus}}\n",
            "guardrails.quiet_hours.default_timezone",
            "Mars",
        ),
        (
            VALID.format(name="bad").replace("template: detractor_followup", "template: nope"),
            "actions.0.template",
            "no templates",
        ),
        (VALID.format(name="other"), "name", "must match the file name"),
        (
            "name: bad\ntrigger: {source: marts.x, query: select 1}\nkey: 'k:{a}'\nactions: []\n",
            "trigger",
            "exactly one",
        ),
        ("- just\n- a list\n", None, "mapping at the top level"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, key: str | None, why: str) -> None:
    path = write(tmp_path, "bad", text)
    with pytest.raises(PlaybookError) as err:
        load_playbook(path, PLAYBOOKS / "templates")
    message = str(err.value)
    assert str(path) in message
    if key:
        assert f"key '{key}'" in message
    assert why in message


def test_yaml_on_keyword_is_not_a_silent_trap(tmp_path: Path) -> None:
    """YAML 1.1 reads a bare `on:` as true; the join key is spelled `using` and `on` fails."""
    text = VALID.format(name="bad").replace(
        'where: "nps_score <= 6"',
        'where: "true", joins: [{table: marts.dim_customers, on: '
        "customer_id, columns: [first_name]}]",
    )
    with pytest.raises(PlaybookError, match=r"key 'trigger.joins.0.using'"):
        load_playbook(write(tmp_path, "bad", text), PLAYBOOKS / "templates")


def test_unknown_playbook_name_is_reported() -> None:
    with pytest.raises(PlaybookError, match="no_such_playbook"):
        load_playbooks(PLAYBOOKS, ["no_such_playbook"])
