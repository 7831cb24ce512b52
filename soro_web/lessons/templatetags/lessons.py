"""Lesson text as HTML: escaped first, then paragraphs and bullet lists."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from soro_web.lessons.services import citation_label

register = template.Library()


@register.filter
def lesson_text(text: str) -> SafeString:
    """Plain text written by a teacher or the model: blank lines separate paragraphs and
    lines starting with "- " are bullets. Every piece is escaped; nothing is ever run."""
    blocks: list[str] = []
    for block in (text or "").replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(f"<li>{escape(line.lstrip()[2:])}</li>" for line in lines)
            blocks.append(f"<ul>{items}</ul>")
        else:
            paragraph: list[str] = []
            bullets: list[str] = []
            for line in lines:
                if line.lstrip().startswith("- "):
                    if paragraph:
                        blocks.append(f"<p>{'<br>'.join(paragraph)}</p>")
                        paragraph = []
                    bullets.append(f"<li>{escape(line.lstrip()[2:])}</li>")
                else:
                    if bullets:
                        blocks.append(f"<ul>{''.join(bullets)}</ul>")
                        bullets = []
                    paragraph.append(escape(line))
            if paragraph:
                blocks.append(f"<p>{'<br>'.join(paragraph)}</p>")
            if bullets:
                blocks.append(f"<ul>{''.join(bullets)}</ul>")
    # Safe: every piece above was escaped.
    return mark_safe("".join(blocks))


@register.filter
def citations_text(citations: list[dict[str, Any]]) -> str:
    """ "Алгебра, саҳ. 3; Алгебра, саҳ. 4" (escaped by the template like any text)."""
    return "; ".join(citation_label(item) for item in citations or [])
