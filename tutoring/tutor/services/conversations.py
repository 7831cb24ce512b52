"""Conversations: starting one with its context, and reading them (the student's own, the
teacher's view of their classes, the counts staff see)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.curriculum.models import Topic
from soro_web.lessons.services import lesson_get_visible
from tutoring.services import PassageRef, passages_by_ids
from tutoring.tutor.models import Conversation, Message, TeacherNote
from tutoring.tutor.services.items import tutor_item_context

TITLE_CHARS = 120


def conversation_kind_for(user: User) -> str:
    """Students talk to the tutor, teachers to Soro; staff see counts only."""
    if user.is_student:
        return Conversation.Kind.TUTOR
    if user.is_teacher:
        return Conversation.Kind.TEACHER
    raise PermissionDenied(_("Only students and teachers have chats."))


@transaction.atomic
def tutor_conversation_start(
    *,
    user: User,
    lesson_id: int | None = None,
    topic_id: int | None = None,
    item_ref: str = "",
) -> Conversation:
    """A chat about a lesson's topic, a topic or a practice item, or a free one.

    The latest chat of the same user about the same thing is opened again instead of a new
    one. Raises ``Http404`` for a lesson the user may not read, ``TutorOff`` for an item of
    an open exam, ``ValidationError`` for an unknown topic or item.
    """
    kind = conversation_kind_for(user)
    topic: Topic | None = None
    title = ""
    if lesson_id is not None:
        lesson = lesson_get_visible(user=user, pk=lesson_id)
        topic, title = lesson.topic, lesson.title
    if topic_id is not None and topic is None:
        topic = Topic.objects.filter(pk=topic_id).first()
        if topic is None:
            raise ValidationError(_("There is no such topic."), code="topic_unknown")
    item_ref = item_ref.strip()
    if item_ref:
        if kind != Conversation.Kind.TUTOR:
            raise ValidationError(_("Only students ask the tutor about practice items."))
        item = tutor_item_context(student=user, item_ref=item_ref)
        if item is not None:
            title = item.stem
    if not title and topic is not None:
        title = topic.name
    existing = (
        Conversation.objects.owned_by(user)
        .filter(kind=kind, lesson_id=lesson_id, item_ref=item_ref, topic=topic)
        .first()
        if (lesson_id or item_ref or topic)
        else None
    )
    if existing is not None:
        return existing
    return Conversation.objects.create(
        user=user,
        kind=kind,
        topic=topic,
        lesson_id=lesson_id,
        item_ref=item_ref,
        title=title[:TITLE_CHARS],
    )


def conversations_for_user(*, user: User) -> QuerySet[Conversation]:
    """The user's own chats, newest first."""
    return Conversation.objects.owned_by(user).select_related("topic")


def conversation_get_for_owner(*, user: User, pk: int) -> Conversation:
    conversation = (
        (Conversation.objects.owned_by(user).select_related("topic__subject", "topic__grade"))
        .filter(pk=pk)
        .first()
    )
    if conversation is None:
        raise Http404(_("There is no such chat."))
    return conversation


def conversation_get_for_reader(*, user: User, pk: int) -> Conversation:
    """A chat the user may read: their own, or (teachers) one of a student in their class."""
    readable = Q(user=user)
    if user.is_teacher:
        readable |= Q(kind=Conversation.Kind.TUTOR, user__enrollments__classroom__teacher=user)
    conversation = (
        Conversation.objects.filter(readable, pk=pk).select_related("user", "topic").first()
        if not user.is_staff
        else None
    )
    if conversation is None:
        raise Http404(_("There is no such chat, or it is not yours to read."))
    return conversation


def conversation_messages(*, conversation: Conversation) -> list[Message]:
    """The chat's messages in order, each with ``sources``: the passages it cited that are
    still in a current textbook edition."""
    chat = list(conversation.messages.all())
    ids = {pk for message in chat for pk in message.cited_passage_ids or []}
    passages = {p.id: p for p in passages_by_ids(sorted(ids))} if ids else {}
    for message in chat:
        message.sources = [  # type: ignore[attr-defined]
            passages[pk] for pk in message.cited_passage_ids or [] if pk in passages
        ]
    return chat


def conversation_notes(*, conversation: Conversation) -> list[TeacherNote]:
    return list(conversation.notes.select_related("teacher"))


def conversation_passage(*, user: User, conversation_pk: int, passage_id: int) -> PassageRef:
    """A passage the chat cited, for the people who may read the chat."""
    conversation = conversation_get_for_reader(user=user, pk=conversation_pk)
    # JSON containment lookups are not on SQLite: a chat has few messages, check here.
    cited = any(
        passage_id in (ids or [])
        for ids in conversation.messages.values_list("cited_passage_ids", flat=True)
    )
    found = passages_by_ids([passage_id]) if cited else []
    if not found:
        raise Http404(_("This passage is not part of the chat, or the book changed."))
    return found[0]


# --- what teachers and staff see ------------------------------------------------------------


def student_conversations_for_teacher(*, teacher: User) -> QuerySet[Conversation]:
    """Tutor chats of the students in the teacher's classes: flagged ones first."""
    return (
        Conversation.objects.of_students_taught_by(teacher)
        .with_flags()
        .select_related("user", "topic")
        .annotate(message_count=Count("messages", distinct=True))
        .order_by("-has_flag", "-updated_at", "-pk")
    )


@dataclass(frozen=True)
class TutorCounts:
    """What staff see: numbers, never the words of a child's chat."""

    conversations: int
    messages_today: int
    flagged_conversations: int
    stopped_replies: int
    not_expected_language: int


def tutor_counts() -> TutorCounts:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    messages = Message.objects.aggregate(
        today=Count("pk", filter=Q(created_at__gte=start, role=Message.Role.USER)),
        stopped=Count("pk", filter=Q(is_stopped=True)),
        language=Count("pk", filter=Q(is_expected_language=False)),
    )
    return TutorCounts(
        conversations=Conversation.objects.filter(kind=Conversation.Kind.TUTOR).count(),
        messages_today=messages["today"],
        flagged_conversations=Conversation.objects.filter(messages__is_flagged=True)
        .distinct()
        .count(),
        stopped_replies=messages["stopped"],
        not_expected_language=messages["language"],
    )


def teacher_note_add(*, teacher: User, conversation: Conversation, text: str) -> TeacherNote:
    """A teacher's note on a chat of a student in one of their classes."""
    if not teacher.is_teacher or conversation.user_id == teacher.pk:
        raise PermissionDenied(_("Only the student's teachers leave notes."))
    conversation_get_for_reader(user=teacher, pk=conversation.pk)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the note first.")}, code="empty")
    return TeacherNote.objects.create(conversation=conversation, teacher=teacher, text=text)
