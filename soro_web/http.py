"""Request types for annotations (what the middleware adds to Django's HttpRequest) and
the streaming response the model features share."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, StreamingHttpResponse

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from soro_web.accounts.models import User


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedRequest(HtmxRequest):
    """A request behind ``login_required`` or a role check: ``user`` is a real user."""

    user: User  # type: ignore[assignment]


def _ndjson(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    try:
        for event in events:
            yield (json.dumps(event, ensure_ascii=False) + "\n").encode()
    finally:
        # The browser left or pressed stop: stop the model and record it now, not whenever
        # the garbage collector gets to the generator.
        close = getattr(events, "close", None)
        if close is not None:
            close()


def ndjson_response(events: Iterator[dict[str, Any]]) -> StreamingHttpResponse:
    """Stream ``events`` as newline-delimited JSON, one line per event, unbuffered."""
    response = StreamingHttpResponse(_ndjson(events), content_type="application/x-ndjson")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each piece on at once
    return response
