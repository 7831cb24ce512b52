"""The staff model playground: a reply streamed into the page as it is generated."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from modelops.forms import PlaygroundForm
from modelops.llm.types import ChatMessage, GenerationParams
from modelops.services import generation_stream, model_health
from soro_web.http import AuthenticatedRequest, ndjson_response
from soro_web.permissions import staff_required


def _request_from(form: PlaygroundForm) -> tuple[list[ChatMessage], GenerationParams]:
    data = form.cleaned_data
    messages = []
    if data["system"].strip():
        messages.append(ChatMessage("system", data["system"]))
    messages.append(ChatMessage("user", data["message"]))
    params = GenerationParams(
        max_new_tokens=data["max_new_tokens"], temperature=data["temperature"]
    )
    return messages, params


@staff_required
@require_http_methods(["GET", "POST"])
def playground(request: AuthenticatedRequest) -> HttpResponse:
    """Without JavaScript the form posts here and the whole reply comes back in the page."""
    form = PlaygroundForm(request.POST or None)
    reply, outcome, error = "", None, None
    if request.method == "POST" and form.is_valid():
        messages, params = _request_from(form)
        for event in generation_stream(
            messages=messages, params=params, purpose="playground", user=request.user
        ):
            if event["type"] == "text":
                reply += event["text"]
            elif event["type"] == "done":
                outcome = event
            else:
                error = event["message"]
    return render(
        request,
        "modelops/playground.html",
        {
            "form": form,
            "reply": reply,
            "outcome": outcome,
            "error": error,
            "health": model_health(),
        },
    )


@staff_required
@require_POST
def playground_stream(request: AuthenticatedRequest) -> HttpResponse | StreamingHttpResponse:
    """One JSON event per line as the reply is produced (text pieces, then done or error)."""
    form = PlaygroundForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=422)
    messages, params = _request_from(form)
    events = generation_stream(
        messages=messages, params=params, purpose="playground", user=request.user
    )
    return ndjson_response(events)
