"""Message templates: Jinja2 per playbook template and locale, strict, HTML autoescaped.

Layout: `<templates>/<template>/<locale>/{subject.txt, body.txt, body.html}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import escape

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})
PARTS = ("subject.txt", "body.txt", "body.html")


class RenderError(ValueError):
    """A template is missing or failed to render; the message names the template file."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    locale: str


@dataclass(frozen=True)
class Shape:
    """A message with per-recipient values replaced by substitution tags (for SendGrid)."""

    subject: str
    text: str
    html: str
    substitutions: dict[str, str]


class TemplateRenderer:
    """Renders a template in a locale; falls back to the default locale when absent."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        loader = jinja2.FileSystemLoader(str(self.templates_dir))
        common = dict(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self._text = jinja2.Environment(autoescape=False, **common)  # noqa: S701 (plain text)
        self._html = jinja2.Environment(autoescape=True, **common)

    def locales(self, template: str) -> list[str]:
        """The locales a template exists in."""
        folder = self.templates_dir / template
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def resolve_locale(self, template: str, locale: str | None, default: str = "en") -> str:
        """`ar-EG` -> `ar` when present, else the default locale."""
        primary = re.split(r"[-_]", (locale or "").strip().lower())[0]
        return primary if primary and primary in self.locales(template) else default

    def render(
        self, template: str, locale: str | None, context: dict[str, Any], default: str = "en"
    ) -> Rendered:
        """Subject, text and HTML for one recipient; RenderError names the failing file."""
        loc = self.resolve_locale(template, locale, default)
        ctx = {**context, "lang": loc, "dir": "rtl" if loc in RTL_LANGUAGES else "ltr"}
        subject, text, html = (self._render_part(template, loc, part, ctx) for part in PARTS)
        return Rendered(" ".join(subject.split()), text, html, loc)

    def _render_part(self, template: str, locale: str, part: str, ctx: dict[str, Any]) -> str:
        name = f"{template}/{locale}/{part}"
        env = self._html if part.endswith(".html") else self._text
        try:
            return env.get_template(name).render(ctx)
        except jinja2.TemplateNotFound as exc:
            raise RenderError(f"{self.templates_dir / name}: template not found") from exc
        except jinja2.TemplateError as exc:
            line = f", line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            raise RenderError(f"{self.templates_dir / name}{line}: {exc}") from exc
        except Exception as exc:  # a filter or test failing on a value
            raise RenderError(f"{self.templates_dir / name}: {type(exc).__name__}: {exc}") from exc

    def shape(self, template: str, rendered: Rendered, context: dict[str, Any]) -> Shape | None:
        """The message with each scalar context value as a substitution tag, if that is exact.

        Renders once with tags in place of values and checks that substituting the real
        values gives back exactly `rendered`; when a template branches on or reformats a
        value the check fails and None is returned (the message is then sent on its own).
        """
        tags: dict[str, tuple[str, str]] = {}
        ctx = dict(context)
        for i, (key, value) in enumerate(sorted(context.items())):
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                tags[key] = (f"-cxv{i}t-", f"-cxv{i}h-")
                ctx[key] = _TagValue(tags[key][0], tags[key][1])
        if not tags:
            return Shape(rendered.subject, rendered.text, rendered.html, {})
        try:
            shaped = self.render(template, rendered.locale, ctx, default=rendered.locale)
        except RenderError:
            return None
        subs: dict[str, str] = {}
        for key, (text_tag, html_tag) in tags.items():
            subs[text_tag] = str(context[key])
            subs[html_tag] = str(escape(str(context[key])))
        used = {t: v for t, v in subs.items() if t in shaped.subject + shaped.text + shaped.html}
        candidate = Shape(shaped.subject, shaped.text, shaped.html, used)
        if (
            apply(candidate.subject, used),
            apply(candidate.text, used),
            apply(candidate.html, used),
        ) != (
            rendered.subject,
            rendered.text,
            rendered.html,
        ):
            return None
        return candidate


class _TagValue(str):
    """A string that renders as one tag in text and another (already safe) in HTML."""

    def __new__(cls, text_tag: str, html_tag: str) -> _TagValue:
        obj = super().__new__(cls, text_tag)
        obj.html_tag = html_tag
        return obj

    def __html__(self) -> str:
        return self.html_tag


def apply(content: str, substitutions: dict[str, str]) -> str:
    """Replace substitution tags the way the provider does (all at once)."""
    if not substitutions:
        return content
    pattern = re.compile("|".join(re.escape(t) for t in substitutions))
    return pattern.sub(lambda m: substitutions[m.group(0)], content)
