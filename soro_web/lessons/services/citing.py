"""Citations in a section's text: a source is kept only while its marker ("[Алгебра, саҳ. 3]")
is in the text; a bare "[3]" that matches no passage is plain text, and counted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

#: A number in brackets left in a text: the model's marker for a passage it was not given.
UNKNOWN_MARKER = re.compile(r"\[\d{1,3}\]")


def citation_pattern(citation: dict[str, Any]) -> re.Pattern[str] | None:
    """The marker of one stored citation, in any language: "[Алгебра 7, саҳ. 3]",
    "[Алгебра 7, стр. 3]", "[Алгебра 7, p. 3]" (or "[Алгебра 7]" without a page)."""
    book = str(citation.get("book") or "").strip()
    if not book:
        return None
    page = citation.get("page")
    tail = rf",[^\[\]\d]{{0,16}}{int(page)}" if page is not None else ""
    return re.compile(rf"\[{re.escape(book)}{tail}\]")


def citations_in_text(text: str, citations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The citations whose marker is still in ``text`` (in their order; two passages of
    one page share a marker, so they are one source)."""
    kept, seen = [], set()
    for citation in citations:
        key = (citation.get("book"), citation.get("page"))
        pattern = citation_pattern(citation)
        if key not in seen and pattern is not None and pattern.search(text or ""):
            seen.add(key)
            kept.append(dict(citation))
    return kept


def unknown_markers(text: str) -> list[str]:
    """The "[3]"s of a text that point at no passage, each once, in order."""
    seen: list[str] = []
    for marker in UNKNOWN_MARKER.findall(text or ""):
        if marker not in seen:
            seen.append(marker)
    return seen


def citation_spans(text: str, citations: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """Where the known markers are in ``text`` (start, end), sorted, not overlapping."""
    spans: list[tuple[int, int]] = []
    for citation in citations:
        pattern = citation_pattern(citation)
        if pattern is not None:
            spans.extend(match.span() for match in pattern.finditer(text))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            continue
        merged.append((start, end))
    return merged
