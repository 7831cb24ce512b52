"""One turn of a chat: check the message, ground it, ask the model, keep the reply.

:func:`tutor_turn_prepare` does everything before the model (normalisation, the safety
check, the daily limit, the exam check, retrieval, the prompt) and saves the person's
message; :func:`tutor_turn_stream` streams the reply through the one generation path and
saves what arrived, also when the stream is stopped or cut.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from modelops import prompts
from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable, TextModelClient
from modelops.services import active_model_client, generation_stream, model_error_message
from soro_web.accounts.models import User
from soro_web.accounts.services import classrooms_for_user
from tutoring.services import PassageRef, passages_by_ids, passages_search, text_normalize
from tutoring.tutor.models import Conversation, Message
from tutoring.tutor.services.items import tutor_item_context
from tutoring.tutor.services.safety import safety_check, safety_reply

logger = logging.getLogger(__name__)

#: Passages per prompt and words of each: prompts stay short so the first word comes fast
#: (Tajik costs ~2.8 tokens a word on a school's CPU). The engine trims further when the
#: prompt does not fit: passages first, then the oldest turns.
TURN_PASSAGES = 2
PASSAGE_WORDS = 45
#: Earlier messages sent with a turn (three exchanges).
HISTORY_MESSAGES = 6
MESSAGE_CHARS = 1000
REPLY_TOKENS = {Conversation.Kind.TUTOR: 200, Conversation.Kind.TEACHER: 320}
#: The model's "[2]": a number in brackets that points at a passage of the prompt.
MARKER = re.compile(r"\[(\d{1,2})\]")


@dataclass(frozen=True)
class TurnPlan:
    """What a turn will send (``prompt``), or the fixed safety reply it already saved."""

    conversation: Conversation
    user: User
    user_message: Message
    language: str
    level: int | None = None
    prompt: prompts.Prompt | None = None
    passages: tuple[PassageRef, ...] = ()
    safety_message: Message | None = None


def _language() -> str:
    language = (translation.get_language() or "tg").split("-")[0]
    return language if language in prompts.LANGUAGE_LINES else "tg"


def messages_today(*, user: User) -> int:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return Message.objects.filter(
        conversation__user=user, role=Message.Role.USER, created_at__gte=start
    ).count()


def _check_daily_limit(user: User) -> None:
    limit = settings.SORO_TUTOR_DAILY_MESSAGES
    if messages_today(user=user) >= limit:
        raise ValidationError(
            ngettext(
                "You have sent the tutor %(limit)d message today, the most for one day. "
                "Come back tomorrow, or ask your teacher.",
                "You have sent the tutor %(limit)d messages today, the most for one day. "
                "Come back tomorrow, or ask your teacher.",
                limit,
            )
            % {"limit": limit},
            code="daily_limit",
        )


def hint_level(*, earlier_questions: int, item: prompts.TutorItem | None) -> int:
    """Socratic by default: a first hint (1), a stronger one (2), the explanation (3) only
    after the student has tried the item or asked twice before. Never 3 for an item the
    student has not answered (its key is not in the prompt anyway)."""
    tried = item is not None and item.is_correct is not None
    level = min(1 + earlier_questions + (1 if tried else 0), 3)
    if item is not None and item.is_correct is None:
        level = min(level, 2)
    return level


def _scopes(user: User, conversation: Conversation) -> list[tuple[str | None, int | None]]:
    """Where to search: the chat's topic; else a student's classes; else every book."""
    if conversation.topic is not None:
        return [(conversation.topic.subject.code, conversation.topic.grade.number)]
    if user.is_student:
        scopes: set[tuple[str | None, int | None]] = {
            (c.subject.code, c.grade.number) for c in classrooms_for_user(user=user)
        }
        if scopes:
            return sorted(scopes, key=str)[:4]
    return [(None, None)]


def turn_passages(*, user: User, conversation: Conversation, text: str) -> list[PassageRef]:
    """The best passages for the message among the books the user may read (the search's
    permission filter), within the chat's topic or the student's grades and subjects."""
    query = f"{conversation.topic.name} {text}" if conversation.topic is not None else text
    found: list[tuple[float, int]] = []
    for subject, grade in _scopes(user, conversation):
        try:
            results = passages_search(
                user=user, query=query, subject=subject, grade=grade, limit=TURN_PASSAGES
            )
        except ValidationError:  # no searchable word: the tutor answers without books
            return []
        except Exception:  # a broken index must not break the chat
            logger.exception("textbook search failed for conversation %s", conversation.pk)
            return []
        found.extend((result.score, result.passage.pk) for result in results)
    ids: list[int] = []
    for _score, pk in sorted(found, reverse=True):
        if pk not in ids:
            ids.append(pk)
    return passages_by_ids(ids[:TURN_PASSAGES])


def _history(conversation: Conversation, *, before: Message) -> list[ChatMessage]:
    """Earlier turns, without the flagged messages and the fixed safety replies."""
    earlier = (
        conversation.messages.filter(pk__lt=before.pk, is_flagged=False, is_safety_reply=False)
        .order_by("-pk")
        .values_list("role", "text")[:HISTORY_MESSAGES]
    )
    return [ChatMessage(role, text) for role, text in reversed(list(earlier))]


def tutor_turn_prepare(*, conversation: Conversation, user: User, text: str) -> TurnPlan:
    """Check and save the person's message and build what the model will be sent.

    In this order: the text is normalised (invisible characters, look-alike letters); a
    student's message that matches the safety word lists is flagged and answered with the
    fixed reply at once (no model, no limit: a child in trouble is always answered); the
    tutor refuses items of an open exam (``TutorOff``); a student past the daily limit gets
    ``ValidationError`` (code ``daily_limit``); then the passages and the prompt.
    """
    if conversation.user_id != user.pk:
        raise PermissionDenied(_("This is not your chat."))
    text = text_normalize(text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write a message first.")}, code="empty")
    if len(text) > MESSAGE_CHARS:
        raise ValidationError(
            {"text": _("Write at most %(count)d characters.") % {"count": MESSAGE_CHARS}},
            code="too_long",
        )
    language = _language()
    is_student_chat = conversation.kind == Conversation.Kind.TUTOR
    if is_student_chat:
        verdict = safety_check(text)
        if not verdict.is_safe:
            with transaction.atomic():
                message = Message.objects.create(
                    conversation=conversation,
                    role=Message.Role.USER,
                    text=text,
                    is_flagged=True,
                    flag_reason=verdict.category,
                )
                reply = Message.objects.create(
                    conversation=conversation,
                    role=Message.Role.ASSISTANT,
                    text=safety_reply(),
                    is_safety_reply=True,
                )
                conversation.save(update_fields=["updated_at"])
            return TurnPlan(
                conversation=conversation,
                user=user,
                user_message=message,
                language=language,
                safety_message=reply,
            )
    item = (
        tutor_item_context(student=user, item_ref=conversation.item_ref)
        if is_student_chat and conversation.item_ref
        else None
    )
    if is_student_chat:
        _check_daily_limit(user)
    earlier_questions = conversation.messages.filter(
        role=Message.Role.USER, is_flagged=False
    ).count()
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, text=text
        )
        conversation.save(update_fields=["updated_at"])
    passages = turn_passages(user=user, conversation=conversation, text=text)
    context = [prompts.trim_words(p.text, PASSAGE_WORDS) for p in passages]
    history = _history(conversation, before=message)
    if is_student_chat:
        level: int | None = hint_level(earlier_questions=earlier_questions, item=item)
        topic = conversation.topic
        grade = topic.grade.number if topic is not None else _student_grade(user)
        prompt = prompts.tutor_reply(
            message=text,
            grade=grade,
            subject=topic.subject.name if topic is not None else "",
            level=level or 1,
            history=history,
            item=item,
            language=language,
            passages=context,
        )
    else:
        level = None
        prompt = prompts.teacher_chat(
            message=text, history=history, language=language, passages=context
        )
    return TurnPlan(
        conversation=conversation,
        user=user,
        user_message=message,
        language=language,
        level=level,
        prompt=prompt,
        passages=tuple(passages),
    )


def _student_grade(user: User) -> int:
    grades = sorted(c.grade.number for c in classrooms_for_user(user=user))
    return grades[-1] if grades else 11


def _sources(conversation: Conversation, passages: Sequence[PassageRef]) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "citation": p.citation,
            "url": reverse(
                "tutor:passage_detail",
                kwargs={"pk": conversation.pk, "passage_id": p.id},
            ),
        }
        for p in passages
    ]


def cite_markers(text: str, passages: Sequence[PassageRef]) -> str:
    """The model's [1], [2] as "[Алгебра 7, саҳ. 3]" (unknown numbers are left alone)."""

    def replace(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= len(passages):
            return f"[{passages[number - 1].citation}]"
        return match.group(0)

    return MARKER.sub(replace, text)


def _reply_store(
    plan: TurnPlan,
    text: str,
    *,
    first_piece_seconds: float | None,
    seconds: float,
    done: dict[str, Any] | None = None,
) -> Message | None:
    if not text.strip():
        return None
    with translation.override(plan.language):
        text = cite_markers(text.strip(), plan.passages)
    message = Message.objects.create(
        conversation=plan.conversation,
        role=Message.Role.ASSISTANT,
        text=text,
        cited_passage_ids=[p.id for p in plan.passages],
        hint_level=plan.level,
        language=(done or {}).get("language") or "",
        is_expected_language=(done or {}).get("is_expected_language"),
        first_piece_seconds=first_piece_seconds,
        seconds=round(seconds, 3),
        is_stopped=done is None,
    )
    Conversation.objects.filter(pk=plan.conversation.pk).update(updated_at=timezone.now())
    return message


def _saved_event(message: Message | None, plan: TurnPlan) -> dict[str, Any]:
    if message is None:
        return {
            "type": "error",
            "reason": "empty",
            "message": _("The model wrote nothing. Ask again in other words."),
        }
    event: dict[str, Any] = {
        "type": "saved",
        "message": message.pk,
        "is_stopped": message.is_stopped,
        "is_expected_language": message.is_expected_language,
    }
    if message.is_expected_language is False:
        event["warning"] = not_expected_language_message(plan.language)
    return event


def not_expected_language_message(language: str) -> str:
    del language  # one sentence for every language of the chat
    return _("This reply does not look like it is in the chat's language. Read it with care.")


def tutor_turn_stream(
    *, plan: TurnPlan, client: TextModelClient | None = None
) -> Iterator[dict[str, Any]]:
    """Stream the reply as events, saving it when it ends.

    Yields ``{"type": "start", "message", "level", "sources"}`` (sources: id, citation and
    the link of each passage in the prompt), ``{"type": "text"}`` pieces, then
    ``{"type": "done", …}`` and ``{"type": "saved", "message", "is_expected_language"}``,
    or ``{"type": "error", "reason", "message", "kept"}``. A safety reply comes as one text
    event and ``{"type": "saved", "flagged": true}``. Closing the stream early (stop, a
    lost connection) stops the model and keeps what arrived, marked as stopped.
    """
    conversation = plan.conversation
    with translation.override(plan.language):
        sources = _sources(conversation, plan.passages)
    yield {
        "type": "start",
        "message": plan.user_message.pk,
        "level": plan.level,
        "sources": sources,
    }
    if plan.safety_message is not None:
        yield {"type": "text", "text": plan.safety_message.text}
        yield {"type": "saved", "message": plan.safety_message.pk, "flagged": True}
        return
    assert plan.prompt is not None
    try:
        client = client or active_model_client()
    except ModelUnavailable as error:
        yield {"type": "error", "reason": error.reason, "message": model_error_message(error)}
        return
    Conversation.objects.filter(pk=conversation.pk).update(model_version=client.name[:120])
    started = time.perf_counter()
    first_piece: float | None = None
    pieces: list[str] = []
    stored = False
    events = generation_stream(
        messages=plan.prompt.messages,
        params=GenerationParams(
            max_new_tokens=REPLY_TOKENS[Conversation.Kind(conversation.kind)],
            temperature=0.3,
            timeout_s=settings.SORO_LLM_TIMEOUT,
        ),
        purpose="tutor" if conversation.kind == Conversation.Kind.TUTOR else "teacher_chat",
        user=plan.user,
        context=plan.prompt.context,
        expected_language=plan.language,
        client=client,
    )

    def keep(done: dict[str, Any] | None = None) -> Message | None:
        nonlocal stored
        stored = True
        return _reply_store(
            plan,
            "".join(pieces),
            first_piece_seconds=first_piece,
            seconds=time.perf_counter() - started,
            done=done,
        )

    try:
        for event in events:
            if event["type"] == "text":
                if first_piece is None:
                    first_piece = round(time.perf_counter() - started, 3)
                pieces.append(event["text"])
                yield event
            elif event["type"] == "done":
                yield event
                yield _saved_event(keep(event), plan)
            else:  # cut mid-way or down: what arrived is kept, marked as stopped
                kept = keep() is not None
                yield {**event, "kept": kept}
    except GeneratorExit:  # the person pressed stop, or left
        if not stored:
            keep()
        raise
    finally:
        close = getattr(events, "close", None)
        if close is not None:  # stop the model now
            close()
