"""Lesson text as HTML: escaped first, then paragraphs and bullet lists."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from soro_web.lessons.export import text_blocks
from soro_web.lessons.services import stored_citation_text

register = template.Library()


@register.filter
def lesson_text(text: str) -> SafeString:
    """Plain text written by a teacher or the model, as the export reads it
    (:func:`~soro_web.lessons.export.text_blocks`): paragraphs, and bullets grouped into
    lists. Every piece is escaped; nothing is ever run."""
    html: list[str] = []
    bullets: list[str] = []
    for block in text_blocks((text or "").replace("\r\n", "\n")):
        if block.kind == "bullet":
            bullets.append(f"<li>{escape(block.text)}</li>")
            continue
        if bullets:
            html.append(f"<ul>{''.join(bullets)}</ul>")
            bullets = []
        html.append(f"<p>{'<br>'.join(escape(line) for line in block.text.split(chr(10)))}</p>")
    if bullets:
        html.append(f"<ul>{''.join(bullets)}</ul>")
    # Safe: every piece above was escaped.
    return mark_safe("".join(html))


@register.filter
def citations_text(citations: list[dict[str, Any]]) -> str:
    """ "Алгебра, саҳ. 3; Алгебра, саҳ. 4" (escaped by the template like any text)."""
    return "; ".join(stored_citation_text(item) for item in citations or [])
