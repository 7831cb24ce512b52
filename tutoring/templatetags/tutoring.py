from django import template
from django.utils.safestring import SafeString, mark_safe

from tutoring.services import highlight, snippet

register = template.Library()


@register.simple_tag
def highlighted(result) -> SafeString:  # type: ignore[no-untyped-def]
    """The passage text, escaped, with the words that matched the query marked."""
    return mark_safe(highlight(result.passage.text, result.matched))


@register.simple_tag
def result_snippet(result) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """About forty words around the first match (``html``), and whether more is left
    (``more``: then the whole passage is shown on demand)."""
    html, more = snippet(result.passage.text, result.matched)
    return {"html": mark_safe(html), "more": more}
