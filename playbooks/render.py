"""Message templates: Jinja2 per playbook template and locale, strict, HTML autoescaped.

Layout: `<templates>/<template>/<locale>/{subject.txt, body.txt, body.html}`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
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
        # templates are code shipped with the run: load each once, never re-stat per message
        common = dict(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._text = jinja2.Environment(autoescape=False, **common)  # noqa: S701 (plain text)
        self._html = jinja2.Environment(autoescape=True, **common)
        self._locales: dict[str, list[str]] = {}
        self._referenced: dict[tuple[str, str], frozenset[str]] = {}
        self._shapes: dict[tuple[Any, ...], Rendered | None] = {}

    def locales(self, template: str) -> list[str]:
        """The locales a template exists in (listed once per renderer)."""
        if template not in self._locales:
            folder = self.templates_dir / template
            found = (
                sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            )
            self._locales[template] = found
        return self._locales[template]

    def referenced(self, template: str, locale: str) -> frozenset[str]:
        """The variables a template's three parts use (parsed once)."""
        key = (template, locale)
        if key not in self._referenced:
            names: set[str] = set()
            for part in PARTS:
                name = f"{template}/{locale}/{part}"
                env = self._html if part.endswith(".html") else self._text
                try:
                    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
                    names |= meta.find_undeclared_variables(env.parse(source))
                except jinja2.TemplateError:
                    return frozenset()  # render() reports the problem with its file
            self._referenced[key] = frozenset(names)
        return self._referenced[key]

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
        names = self.referenced(template, rendered.locale)  # only what the template can show
        for i, key in enumerate(sorted(k for k in names if k in context)):
            value = context[key]
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                tags[key] = (f"-cxv{i}t-", f"-cxv{i}h-")
                ctx[key] = _TagValue(tags[key][0], tags[key][1])
        if not tags:
            return Shape(rendered.subject, rendered.text, rendered.html, {})
        shaped = self._shaped(template, rendered.locale, ctx, tags)
        if shaped is None:
            return None
        subs: dict[str, str] = {}
        for key, (text_tag, html_tag) in tags.items():
            subs[text_tag] = str(context[key])
            subs[html_tag] = str(escape(str(context[key])))
        whole = shaped.subject + shaped.text + shaped.html
        used = {t: v for t, v in subs.items() if t in whole}
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

    def _shaped(
        self,
        template: str,
        locale: str,
        ctx: dict[str, Any],
        tags: dict[str, tuple[str, str]],
    ) -> Rendered | None:
        """The tagged render, memoised on what it can depend on: the locale, which used
        variables are tags, and the values of the used variables that are not."""
        used = self.referenced(template, locale)
        key = (
            template,
            locale,
            tuple(sorted((k, tags[k]) for k in tags if k in used)),
            tuple(sorted((k, repr(ctx.get(k))) for k in used if k not in tags)),
        )
        if key not in self._shapes:
            if len(self._shapes) >= 10_000:  # values that never repeat: do not grow forever
                self._shapes.clear()
            try:
                self._shapes[key] = self.render(template, locale, ctx, default=locale)
            except RenderError:
                self._shapes[key] = None
        return self._shapes[key]


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
    return _tag_pattern(tuple(substitutions)).sub(lambda m: substitutions[m.group(0)], content)


@functools.lru_cache(maxsize=256)
def _tag_pattern(tags: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation of the tags (compiled once per tag set, not per message)."""
    return re.compile("|".join(re.escape(t) for t in tags))
