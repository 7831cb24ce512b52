"""Lesson text as HTML: escaped first, then paragraphs and bullet lists; the markers of the
section's sources ("[Алгебра, саҳ. 3]") are shown as citations, other brackets as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from soro_web.lessons.export import text_blocks
from soro_web.lessons.services import stored_citation_text
from soro_web.lessons.services import unknown_markers as find_unknown_markers
from soro_web.lessons.services.citing import citation_spans

register = template.Library()


def _inline(line: str, citations: Sequence[dict[str, Any]]) -> str:
    """One line, escaped, its known citation markers wrapped in ``<cite>``."""
    if not citations:
        return escape(line)
    html: list[str] = []
    at = 0
    for start, end in citation_spans(line, citations):
        html.append(escape(line[at:start]))
        html.append(f'<cite class="citation">{escape(line[start:end])}</cite>')
        at = end
    html.append(escape(line[at:]))
    return "".join(html)


@register.filter
def lesson_text(text: str, citations: Sequence[dict[str, Any]] | None = None) -> SafeString:
    """Plain text written by a teacher or the model, as the export reads it
    (:func:`~soro_web.lessons.export.text_blocks`): paragraphs, and bullets grouped into
    lists. Every piece is escaped; nothing is ever run. Given the section's ``citations``,
    their markers are shown as citations; a "[3]" that matches none stays plain text."""
    cited = list(citations or [])
    html: list[str] = []
    bullets: list[str] = []
    for block in text_blocks((text or "").replace("\r\n", "\n")):
        if block.kind == "bullet":
            bullets.append(f"<li>{_inline(block.text, cited)}</li>")
            continue
        if bullets:
            html.append(f"<ul>{''.join(bullets)}</ul>")
            bullets = []
        html.append(
            f"<p>{'<br>'.join(_inline(line, cited) for line in block.text.split(chr(10)))}</p>"
        )
    if bullets:
        html.append(f"<ul>{''.join(bullets)}</ul>")
    # Safe: every piece above was escaped.
    return mark_safe("".join(html))


@register.filter
def citations_text(citations: list[dict[str, Any]]) -> str:
    """ "Алгебра, саҳ. 3; Алгебра, саҳ. 4" (escaped by the template like any text)."""
    return "; ".join(stored_citation_text(item) for item in citations or [])


@register.filter
def unknown_markers(text: str) -> str:
    """ "[3], [7]": the markers of a text that match no textbook passage ("" when none)."""
    return ", ".join(find_unknown_markers(text))
