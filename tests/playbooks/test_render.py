"""Templates: every template renders in every locale, RTL where it must, strict and escaped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cxloop.playbooks.render import RenderError, TemplateRenderer, apply

TEMPLATES = Path(__file__).resolve().parents[2] / "playbooks" / "templates"
LOCALES = ["en", "ar", "fa"]

DETRACTOR = {
    "first_name": "Ana",
    "open_text": "Slow <b>support</b>",
    "csm_name": "Carla",
    "account_name": "Acme & Sons",
    "action_id": "act-1",
    "unsubscribe_url": "https://u.example/?c=act-1",
    "postal_address": "Example Co, 1 Example Street",
    "company": "Example Co",
}
ITEM = {
    "account_name": "Acme & Sons",
    "alert_reason": "crossed_into_high",
    "churn_probability": 0.72,
    "probability_change": 0.42,
    "previous_probability": 0.30,
    "previous_risk_band": "medium",
    "previous_scored_date": "2024-05-01",
    "top_drivers": "tickets 90d = 5",
    "drivers": [{"feature": "tickets_90d", "value": "5"}],
    "last_nps_score": 5,
    "last_nps_comment": "Slow <b>support</b>",
    "last_nps_date": "2024-06-04",
    "open_tickets": 1,
    "open_ticket_list": [{"ticket_id": "T1", "opened": "2024-05-30", "priority": "high"}],
    "clv_at_risk_amount": 4530.0,
}
DIGEST = {
    "items": [
        ITEM,
        {
            **ITEM,
            "account_name": "Globex",
            "alert_reason": "worsened",
            "probability_change": None,
            "drivers": [],
            "last_nps_score": None,
            "last_nps_comment": None,
            "last_nps_date": None,
            "open_tickets": 0,
            "open_ticket_list": [],
            "clv_at_risk_amount": None,
        },
    ],
    "recipient_name": "Carla",
    "recipient_email": "carla@vendor.example",
    "action_id": "act-2",
    "unsubscribe_url": "https://u.example/?c=act-2",
    "postal_address": "Example Co",
    "company": "Co",
}
CASES = {"detractor_followup": DETRACTOR, "at_risk_alert": DIGEST}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("template", sorted(CASES))
def test_every_template_renders_in_every_locale(template: str, locale: str) -> None:
    renderer = TemplateRenderer(TEMPLATES)
    assert set(renderer.locales(template)) == set(LOCALES)
    msg = renderer.render(template, locale, CASES[template])
    assert msg.locale == locale
    assert msg.subject and "\n" not in msg.subject
    rtl = locale in {"ar", "fa"}
    assert f'<html lang="{locale}" dir="{"rtl" if rtl else "ltr"}">' in msg.html
    for part in (msg.text, msg.html):
        assert CASES[template]["postal_address"] in part
        assert "act-" in part  # the unsubscribe link carries the action id
    assert "Acme &amp; Sons" in msg.html and "Acme & Sons" in msg.text
    if template == "at_risk_alert":  # the CLV at risk of each account (docs/metrics.md)
        assert all("4530" in part and "CLV" in part for part in (msg.text, msg.html))
    if template == "detractor_followup" or (template == "at_risk_alert" and locale == "en"):
        assert "&lt;b&gt;support&lt;/b&gt;" in msg.html  # autoescaped
        assert "<b>support</b>" in msg.text


def test_unknown_locale_falls_back_to_english_and_regions_are_trimmed() -> None:
    renderer = TemplateRenderer(TEMPLATES)
    assert renderer.render("detractor_followup", "ru", DETRACTOR).locale == "en"
    assert renderer.render("detractor_followup", "ar-EG", DETRACTOR).locale == "ar"
    assert renderer.render("detractor_followup", None, DETRACTOR).locale == "en"


def test_missing_variable_fails_naming_the_file() -> None:
    context = {k: v for k, v in DETRACTOR.items() if k != "postal_address"}
    with pytest.raises(RenderError, match=r"detractor_followup/fa/body.txt.*postal_address"):
        TemplateRenderer(TEMPLATES).render("detractor_followup", "fa", context)


def test_broken_template_syntax_fails_naming_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "detractor_followup", tmp_path / "t")
    (tmp_path / "t" / "en" / "body.html").write_text("<p>\n{% if %}</p>", encoding="utf-8")
    with pytest.raises(RenderError, match=r"t/en/body.html, line 2"):
        TemplateRenderer(tmp_path).render("t", "en", DETRACTOR)


@pytest.mark.parametrize("locale", LOCALES)
def test_shape_substitutes_back_to_the_exact_message(locale: str) -> None:
    renderer = TemplateRenderer(TEMPLATES)
    msg = renderer.render("detractor_followup", locale, DETRACTOR)
    shape = renderer.shape("detractor_followup", msg, DETRACTOR)
    assert shape is not None
    assert "Ana" not in shape.text and "Ana" not in shape.subject
    assert apply(shape.text, shape.substitutions) == msg.text
    assert apply(shape.html, shape.substitutions) == msg.html
    assert apply(shape.subject, shape.substitutions) == msg.subject
    other = {
        **DETRACTOR,
        "first_name": "Bo",
        "action_id": "act-9",
        "unsubscribe_url": "https://u.example/?c=act-9",
    }
    other_shape = renderer.shape(
        "detractor_followup", renderer.render("detractor_followup", locale, other), other
    )
    assert other_shape is not None
    assert (other_shape.subject, other_shape.text, other_shape.html) == (
        shape.subject,
        shape.text,
        shape.html,
    )


def test_shape_refuses_when_a_template_reformats_a_value(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES / "detractor_followup", tmp_path / "t")
    (tmp_path / "t" / "en" / "subject.txt").write_text("{{ first_name|upper }}", encoding="utf-8")
    renderer = TemplateRenderer(tmp_path)
    msg = renderer.render("t", "en", DETRACTOR)
    assert msg.subject == "ANA"
    assert renderer.shape("t", msg, DETRACTOR) is None
