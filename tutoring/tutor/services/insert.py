"""Soro's teacher chat → a lesson: a reply goes into a section as a proposal, with the
passages it cited, through the lesson builder's own proposal flow (lessons' services)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.lessons.services import lessons_for_user, section_get_for_owner, section_propose
from tutoring.services import passages_by_ids
from tutoring.tutor.models import Conversation, Message
from tutoring.tutor.services.conversations import conversation_get_for_owner


def teacher_reply_get(*, teacher: User, conversation_pk: int, message_pk: int) -> Message:
    """One of Soro's replies in the teacher's own chat, or Http404."""
    conversation = conversation_get_for_owner(user=teacher, pk=conversation_pk)
    message = (
        conversation.messages.filter(
            pk=message_pk, role=Message.Role.ASSISTANT, is_safety_reply=False
        ).first()
        if conversation.kind == Conversation.Kind.TEACHER
        else None
    )
    if message is None:
        raise Http404(_("There is no such reply in your chat."))
    return message


def insert_targets(*, teacher: User) -> list[Any]:
    """The teacher's own lessons with their sections, newest first."""
    return list(lessons_for_user(user=teacher).prefetch_related("sections"))


def teacher_reply_insert(*, teacher: User, message: Message, lesson_id: int, section_id: int):  # type: ignore[no-untyped-def]
    """Propose the reply's text for the section, citing the passages the reply was
    grounded in; the teacher accepts or discards it in the builder."""
    section = section_get_for_owner(user=teacher, lesson_pk=lesson_id, pk=section_id)
    passages = passages_by_ids(message.cited_passage_ids or [])
    return section_propose(
        section=section,
        user=teacher,
        text=message.text,
        citations=[p.as_citation() for p in passages],
        is_expected_language=message.is_expected_language,
    )
