"""The tutor's pages: a student's chats with the tutor, a teacher's chats with Soro, the
passages they cite, and the teacher's read-only view of their students' chats.

Scripts stream a reply (``Accept: application/x-ndjson`` on the stream route); without
JavaScript the message form posts to the chat page and the whole reply comes back in it.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from soro_web.http import AuthenticatedRequest, ndjson_response
from soro_web.permissions import role_required
from tutoring.tutor import services
from tutoring.tutor.forms import InsertForm, MessageForm, NoteForm, StartForm
from tutoring.tutor.models import Conversation


def _chat_context(request: AuthenticatedRequest, conversation: Conversation) -> dict:
    return {
        "conversation": conversation,
        "chat_messages": services.conversation_messages(conversation=conversation),
        "form": MessageForm(),
        "is_tutor": conversation.kind == Conversation.Kind.TUTOR,
    }


@role_required("student", "teacher")
@require_GET
def conversation_list(request: AuthenticatedRequest) -> HttpResponse:
    """The person's chats, and a button for a new one."""
    return render(
        request,
        "tutor/conversation_list.html",
        {
            "conversations": services.conversations_for_user(user=request.user),
            "is_tutor": request.user.is_student,
        },
    )


@role_required("student", "teacher")
@require_POST
def conversation_start(request: AuthenticatedRequest) -> HttpResponse:
    """Open a chat about a lesson, topic or practice item (the "ask the tutor" buttons)."""
    form = StartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This chat cannot be started."))
        return redirect("tutor:conversation_list")
    try:
        conversation = services.tutor_conversation_start(
            user=request.user,
            lesson_id=form.cleaned_data["lesson"],
            topic_id=form.cleaned_data["topic"],
            item_ref=form.cleaned_data["item"],
        )
    except services.TutorOff as off:
        return render(request, "tutor/tutor_off.html", {"reasons": off.messages}, status=403)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("tutor:conversation_list")
    return redirect("tutor:conversation_detail", pk=conversation.pk)


@role_required("student", "teacher")
@require_http_methods(["GET", "POST"])
@never_cache  # back from a cited passage shows the replies that streamed in, not a stale copy
def conversation_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The chat. Without JavaScript a message posts here and the page comes back whole."""
    conversation = services.conversation_get_for_owner(user=request.user, pk=pk)
    if request.method == "POST":
        form = MessageForm(request.POST)
        if form.is_valid():
            try:
                plan = services.tutor_turn_prepare(
                    conversation=conversation, user=request.user, text=form.cleaned_data["text"]
                )
            except ValidationError as error:
                for message in error.messages:
                    messages.error(request, message)
            else:
                for event in services.tutor_turn_stream(plan=plan):
                    if event["type"] == "error":
                        messages.error(request, event["message"])
                    elif event.get("warning"):
                        messages.warning(request, event["warning"])
            return redirect("tutor:conversation_detail", pk=conversation.pk)
        context = _chat_context(request, conversation)
        context["form"] = form
        return render(request, "tutor/conversation.html", context, status=422)
    return render(request, "tutor/conversation.html", _chat_context(request, conversation))


@role_required("student", "teacher")
@require_POST
def conversation_stream(
    request: AuthenticatedRequest, pk: int
) -> HttpResponse | StreamingHttpResponse:
    """One JSON event per line as the reply is written (see ``tutor_turn_stream``)."""
    conversation = services.conversation_get_for_owner(user=request.user, pk=pk)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=422)
    try:
        plan = services.tutor_turn_prepare(
            conversation=conversation, user=request.user, text=form.cleaned_data["text"]
        )
    except services.TutorOff as off:
        return JsonResponse({"errors": {"text": off.messages}, "code": off.code}, status=403)
    except ValidationError as error:
        code = getattr(error, "code", None) or "invalid"
        status = 429 if code == "daily_limit" else 422
        return JsonResponse({"errors": {"text": error.messages}, "code": code}, status=status)
    return ndjson_response(services.tutor_turn_stream(plan=plan))


@role_required("student", "teacher")
@require_GET
def passage_detail(request: AuthenticatedRequest, pk: int, passage_id: int) -> HttpResponse:
    """A textbook passage the chat cited, for the chat's readers."""
    conversation = services.conversation_get_for_reader(user=request.user, pk=pk)
    passage = services.conversation_passage(
        user=request.user, conversation_pk=pk, passage_id=passage_id
    )
    back = (
        reverse("tutor:conversation_detail", kwargs={"pk": pk})
        if conversation.user_id == request.user.pk
        else reverse("tutor:student_chat_detail", kwargs={"pk": pk})
    )
    return render(request, "tutor/passage.html", {"passage": passage, "back_url": back})


@role_required("teacher")
@require_http_methods(["GET", "POST"])
def reply_insert(request: AuthenticatedRequest, pk: int, message_pk: int) -> HttpResponse:
    """Soro's reply into a lesson section, as a proposal the builder shows for accepting."""
    message = services.teacher_reply_get(
        teacher=request.user, conversation_pk=pk, message_pk=message_pk
    )
    if request.method == "POST":
        form = InsertForm(request.POST)
        if form.is_valid():
            section = services.teacher_reply_insert(
                teacher=request.user,
                message=message,
                lesson_id=form.cleaned_data["lesson"],
                section_id=form.cleaned_data["section"],
            )
            messages.info(request, _("The reply is proposed in the section: accept or discard it."))
            builder = reverse("lessons:lesson_builder", kwargs={"pk": section.lesson_id})
            return redirect(f"{builder}#section-{section.pk}")
        messages.error(request, _("Choose a section."))
    return render(
        request,
        "tutor/reply_insert.html",
        {
            "message": message,
            "conversation_pk": pk,
            "lessons": services.insert_targets(teacher=request.user),
        },
    )


# --- teachers and staff ---------------------------------------------------------------------


@role_required("teacher", "staff")
@require_GET
def student_chats(request: AuthenticatedRequest) -> HttpResponse:
    """Teachers: their students' chats, flagged first. Staff: counts only."""
    if request.user.is_staff:
        return render(request, "tutor/student_chats.html", {"counts": services.tutor_counts()})
    return render(
        request,
        "tutor/student_chats.html",
        {"conversations": services.student_conversations_for_teacher(teacher=request.user)},
    )


@role_required("teacher")
@require_GET
def student_chat_detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """A student's chat, read-only, with the teacher's notes."""
    conversation = services.conversation_get_for_reader(user=request.user, pk=pk)
    return render(
        request,
        "tutor/student_chat.html",
        {
            "conversation": conversation,
            "chat_messages": services.conversation_messages(conversation=conversation),
            "notes": services.conversation_notes(conversation=conversation),
            "form": NoteForm(),
        },
    )


@role_required("teacher")
@require_POST
def note_add(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    conversation = services.conversation_get_for_reader(user=request.user, pk=pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        services.teacher_note_add(
            teacher=request.user, conversation=conversation, text=form.cleaned_data["text"]
        )
        messages.success(request, _("The note was saved."))
    else:
        messages.error(request, _("Write the note first."))
    return redirect("tutor:student_chat_detail", pk=conversation.pk)
