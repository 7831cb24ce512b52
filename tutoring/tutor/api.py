"""Tutor API for mobile clients: the same rules as the pages (only students and teachers
chat; a chat is read by its owner), and the reply streamed as NDJSON like the builder's."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from ninja import Router, Status

from soro_web.http import AuthenticatedRequest, ndjson_response
from soro_web.schema_types import Id, errors
from tutoring.tutor import services
from tutoring.tutor.schemas import (
    ConversationDetailOut,
    ConversationIn,
    ConversationOut,
    MessageIn,
    MessageOut,
    RefusalOut,
)

router = Router(tags=["tutor"])


@router.get("/tutor/conversations", response={200: list[ConversationOut], **errors(403)})
def tutor_conversations_list(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    services.conversation_kind_for(request.user)  # staff: 403
    return services.conversations_for_user(user=request.user)


@router.post(
    "/tutor/conversations",
    response={201: ConversationOut, **errors(400, 404), 403: RefusalOut},
)
def tutor_conversations_create(request: AuthenticatedRequest, payload: ConversationIn):  # type: ignore[no-untyped-def]
    try:
        conversation = services.tutor_conversation_start(
            user=request.user,
            lesson_id=payload.lesson_id,
            topic_id=payload.topic_id,
            item_ref=payload.item_ref,
        )
    except services.TutorOff as off:
        return Status(403, {"detail": " ".join(off.messages), "code": off.code or "off"})
    return Status(201, conversation)


@router.get(
    "/tutor/conversations/{conversation_id}", response={200: ConversationDetailOut, **errors(404)}
)
def tutor_conversations_detail(request: AuthenticatedRequest, conversation_id: Id):  # type: ignore[no-untyped-def]
    conversation = services.conversation_get_for_owner(user=request.user, pk=conversation_id)
    chat = services.conversation_messages(conversation=conversation)
    return {
        **{field: getattr(conversation, field) for field in ConversationOut.model_fields},
        "messages": [
            {
                **{field: getattr(m, field) for field in MessageOut.model_fields if field != "id"},
                "id": m.pk,
                "sources": [
                    {"id": p.id, "citation": p.citation}
                    for p in m.sources  # type: ignore[attr-defined]
                ],
            }
            for m in chat
        ],
    }


@router.post(
    "/tutor/conversations/{conversation_id}/messages",
    response={200: None, **errors(400, 404), 403: RefusalOut, 429: RefusalOut},
    openapi_extra={
        "responses": {
            200: {
                "description": "The reply as NDJSON events, one JSON object a line",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            }
        }
    },
)
def tutor_messages_send(  # type: ignore[no-untyped-def]
    request: AuthenticatedRequest, conversation_id: Id, payload: MessageIn
) -> HttpResponse | StreamingHttpResponse:
    """Send a message; the reply streams back as ``application/x-ndjson``, one event a line:
    ``start`` (sources with links), ``text`` pieces, then ``done`` + ``saved`` or
    ``error`` (what arrived is kept). A safety reply is one ``text`` and ``saved`` with
    ``flagged``. Refusals are JSON: 403 tutor off, 429 daily limit, 422 invalid."""
    conversation = services.conversation_get_for_owner(user=request.user, pk=conversation_id)
    try:
        plan = services.tutor_turn_prepare(
            conversation=conversation, user=request.user, text=payload.text
        )
    except services.TutorOff as off:
        return JsonResponse({"detail": " ".join(off.messages), "code": off.code}, status=403)
    except ValidationError as error:
        code = getattr(error, "code", None) or "invalid"
        status = 429 if code == "daily_limit" else 422
        return JsonResponse({"detail": " ".join(error.messages), "code": code}, status=status)
    return ndjson_response(services.tutor_turn_stream(plan=plan))
