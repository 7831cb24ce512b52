"""Drafting lesson sections with the model from the topic's textbook passages, and starting
a section from the passages themselves.

Passages come through tutoring's door (:mod:`tutoring.services.passages`) and the prompt from
the one module of prompt builders (:mod:`modelops.prompts`), the same builders the
instruction-tuning data is rendered from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from modelops import prompts
from modelops.llm.types import GenerationParams, TextModelClient
from modelops.services import generation_stream, recent_generation_seconds
from soro_web.accounts.models import User
from soro_web.lessons.models import Lesson, LessonSection, LessonVersion
from soro_web.lessons.services.citing import citations_in_text, unknown_markers
from soro_web.lessons.services.editing import (
    lesson_record_change,
    section_lock,
    timed_plan_text,
)
from tutoring.services import PassageRef, passages_by_ids, passages_for_topic

logger = logging.getLogger(__name__)

Kind = LessonSection.Kind

#: Passages shown beside the editor, and how many of them (and how many words of each) go
#: into a draft prompt. Prompts stay short: Tajik costs ~2.8 tokens a word and a CPU model
#: reads a few hundred tokens a second, and the first words should come within 2 seconds.
PANEL_PASSAGES = 6
DRAFT_PASSAGES = 2
DRAFT_PASSAGE_WORDS = 45
#: Reply budgets in tokens (Tajik: ~2.8 a word): the long sections get more room.
DRAFT_MAX_NEW_TOKENS: dict[str, int] = {
    "*": 200,
    LessonSection.Kind.NEW_MATERIAL: 320,
    LessonSection.Kind.WORKED_EXAMPLES: 320,
    LessonSection.Kind.CHECKS: 360,
    LessonSection.Kind.DIFFERENTIATION: 260,
}
INSERT_PASSAGES = 2
#: Drafts are "slow on this server" when the recent ones took longer than this (median of
#: the last five): half of the generation limit, where a teacher starts to wonder.
SLOW_DRAFT_SECONDS = 30.0
#: A model's "[2]": a number in brackets that points at a passage of the prompt.
MARKER = re.compile(r"\[(\d{1,2})\]")


# --- textbook passages ----------------------------------------------------------------------


def lesson_passages(*, lesson: Lesson, user: User, refresh: bool = False) -> list[PassageRef]:
    """The topic's textbook passages the teacher can see, best first.

    Found once with the hybrid search (subject, grade, topic name) and remembered on the
    lesson, so drafting a section does not wait for a search. ``refresh`` searches again
    (a textbook was added); an empty result is always searched again.
    """
    if lesson.passage_ids and not refresh:
        passages = passages_by_ids(lesson.passage_ids)
        if len(passages) == len(lesson.passage_ids):
            return passages
    searched = _passages_search(lesson, user)
    if searched is not None:
        ids = [p.id for p in searched]
        Lesson.objects.filter(pk=lesson.pk).update(passage_ids=ids)
        lesson.passage_ids = ids
    return searched or []


def _passages_search(lesson: Lesson, user: User) -> list[PassageRef] | None:
    """None when the search itself failed (then nothing is remembered)."""
    try:
        return passages_for_topic(user=user, topic=lesson.topic, limit=PANEL_PASSAGES)
    except ValidationError:
        return []
    except Exception:  # the builder stays a complete editor when search is broken
        logger.exception("textbook search failed for lesson %s", lesson.pk)
        return None


def _merge_citations(
    first: Sequence[dict[str, Any]], second: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any]] = set()
    for item in [*first, *second]:
        key = (item.get("book"), item.get("page"))
        if key not in seen:
            seen.add(key)
            merged.append(dict(item))
    return merged


# --- drafting with the model ----------------------------------------------------------------


def draft_prompt(
    *, section: LessonSection, passages: Sequence[PassageRef], instruction: str = ""
) -> prompts.Prompt:
    """The prompt for drafting one section (kept short on purpose, see DRAFT_PASSAGES)."""
    lesson = section.lesson
    topic = lesson.topic
    return prompts.lesson_section(
        kind=section.kind,
        section_title=section.title,
        topic=topic.name,
        subject=topic.subject.name,
        grade=topic.grade.number,
        language=lesson.language,
        passages=[prompts.trim_words(p.text, DRAFT_PASSAGE_WORDS) for p in passages],
        instruction=instruction,
        current_text=section.body,
    )


def cite_markers(text: str, passages: Sequence[PassageRef]) -> str:
    """Turn the model's [1], [2] into "[Алгебра, саҳ. 3]" (unknown numbers are left alone)."""

    def replace(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= len(passages):
            return f"[{passages[number - 1].citation}]"
        return match.group(0)

    return MARKER.sub(replace, text)


def lesson_draft_section(
    *,
    section: LessonSection,
    user: User,
    instruction: str = "",
    allow_ungrounded: bool = False,
    client: TextModelClient | None = None,
) -> Iterator[dict[str, Any]]:
    """Draft one section from the topic's textbook passages, streaming as it is written.

    Yields ``{"type": "start", "grounded", "sources"}``, the model's ``{"type": "text"}``
    pieces, then one of:

    - ``{"type": "saved", "mode": "body" | "proposal", "is_expected_language",
      "unknown_markers"}``: an empty section of a lesson not yet published is filled; a
      section with text, or any section of a published lesson, gets a *proposal* to accept
      or discard; text that fails the language check is always only a proposal, flagged;
    - ``{"type": "error", "reason", "message"}``: the model could not answer; the section is
      unchanged (what arrived before an interruption is kept as a proposal);
    - ``{"type": "no_passages", "message"}``: the topic has no textbook passages and
      ``allow_ungrounded`` was not given.

    The teacher's text is never overwritten by a draft. ``client`` defaults to the active
    model (local engine or server), as everywhere else.
    """
    lesson = section.lesson
    if section.kind == Kind.TIMED_PLAN:
        yield from _draft_timed_plan(section, user)
        return
    passages = lesson_passages(lesson=lesson, user=user)[:DRAFT_PASSAGES]
    if not passages and not allow_ungrounded:
        yield {
            "type": "no_passages",
            "message": _(
                "No textbook passages were found for this topic. You can draft without the "
                "textbook: the section will be marked as not grounded."
            ),
        }
        return
    grounded = bool(passages)
    start_revision, start_body = section.revision, section.body
    with translation.override(lesson.language):
        sources = [{"book": p.book, "page": p.page} for p in passages]
    yield {"type": "start", "grounded": grounded, "sources": sources}
    prompt = draft_prompt(section=section, passages=passages, instruction=instruction)
    events = generation_stream(
        messages=prompt.messages,
        params=GenerationParams(
            max_new_tokens=DRAFT_MAX_NEW_TOKENS.get(section.kind, DRAFT_MAX_NEW_TOKENS["*"]),
            temperature=0.7 if (start_body.strip() or instruction.strip()) else 0.3,
            timeout_s=settings.SORO_LLM_TIMEOUT,
        ),
        purpose="lesson_draft",
        user=user,
        context=prompt.context,
        expected_language=lesson.language,
        client=client,
    )
    pieces: list[str] = []

    def keep_what_arrived() -> bool:
        """An interrupted draft is not thrown away: it waits as a proposal."""
        if not "".join(pieces).strip():
            return False
        _draft_store(
            section,
            user=user,
            text="".join(pieces),
            passages=passages,
            start_revision=start_revision,
            is_expected_language=None,
            force_proposal=True,
        )
        return True

    try:
        for event in events:
            if event["type"] == "text":
                pieces.append(event["text"])
                yield event
            elif event["type"] == "done":
                yield event
                yield _draft_store(
                    section,
                    user=user,
                    text="".join(pieces),
                    passages=passages,
                    start_revision=start_revision,
                    is_expected_language=event.get("is_expected_language"),
                )
            else:  # an error: the teacher's text stays; what arrived is kept to look at
                kept = keep_what_arrived()
                yield {
                    "type": "error",
                    "reason": event.get("reason", "down"),
                    "message": event.get("message", ""),
                    "kept": kept,
                }
    except GeneratorExit:  # the teacher pressed stop, or left
        keep_what_arrived()
        raise
    finally:
        close = getattr(events, "close", None)
        if close is not None:  # stop the model now
            close()


def _draft_store(
    section: LessonSection,
    *,
    user: User,
    text: str,
    passages: Sequence[PassageRef],
    start_revision: int,
    is_expected_language: bool | None,
    force_proposal: bool = False,
) -> dict[str, Any]:
    lesson = section.lesson
    if not text.strip():
        return {
            "type": "error",
            "reason": "empty",
            "message": _("The model wrote nothing. Your text is unchanged; try again."),
        }
    with translation.override(lesson.language):
        text = cite_markers(text.strip(), passages)
    # A source is kept only if the text cites it; a "[3]" that matches no passage stays
    # plain text and is counted in the warning.
    citations = citations_in_text(text, [p.as_citation() for p in passages])
    unknown = unknown_markers(text)
    grounded = bool(passages)
    suspicious = is_expected_language is False
    with transaction.atomic():
        filled = 0
        # A published lesson's sections only ever get proposals: the teacher decides.
        published = Lesson.objects.filter(pk=lesson.pk, status=Lesson.Status.PUBLISHED).exists()
        if not (suspicious or force_proposal or published):
            # Only a section that is still empty and unchanged since the draft began.
            filled = LessonSection.objects.filter(
                pk=section.pk, revision=start_revision, body=""
            ).update(
                body=text,
                citations=citations,
                is_grounded=grounded,
                proposal="",
                proposal_citations=[],
                revision=F("revision") + 1,
                updated_at=timezone.now(),
            )
        if filled:
            lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.DRAFTED)
        else:
            LessonSection.objects.filter(pk=section.pk).update(
                proposal=text,
                proposal_citations=citations,
                proposal_is_grounded=grounded,
                proposal_is_expected_language=is_expected_language,
                updated_at=timezone.now(),
            )
    section.refresh_from_db()
    event: dict[str, Any] = {
        "type": "saved",
        "mode": "body" if filled else "proposal",
        "revision": section.revision,
        "is_expected_language": is_expected_language,
    }
    warnings = []
    if suspicious:
        warnings.append(not_expected_language_message())
    if unknown:
        warnings.append(unknown_markers_message(unknown))
    if warnings:
        event["message"] = " ".join(warnings)
    event["unknown_markers"] = len(unknown)
    return event


def unknown_markers_message(markers: Sequence[str]) -> str:
    return _(
        "Markers that match no textbook passage: %(markers)s. They are plain text, not sources."
    ) % {"markers": ", ".join(markers)}


def draft_slowness_note() -> str:
    """Said before a draft starts when the measured drafts of this server are slow ("" when
    they are not, or none was measured yet)."""
    seconds = recent_generation_seconds(purpose="lesson_draft")
    if seconds is None or seconds < SLOW_DRAFT_SECONDS:
        return ""
    return _(
        "Drafts are slow on this server: the recent ones took about %(seconds)s seconds each. "
        "You can stop a draft at any time; what was written is kept as a proposal."
    ) % {"seconds": round(seconds)}


def not_expected_language_message() -> str:
    return _(
        "The model's text does not look like the lesson's language, so it was not put into "
        "the lesson. Read it before you accept it, or start from the textbook passages."
    )


def _draft_timed_plan(section: LessonSection, user: User) -> Iterator[dict[str, Any]]:
    """The timed plan is arithmetic, not prose: computed from the duration, never guessed."""
    lesson = section.lesson
    text = timed_plan_text(duration_minutes=lesson.duration_minutes, language=lesson.language)
    yield {"type": "start", "grounded": False, "sources": []}
    yield {"type": "text", "text": text}
    if not section.body.strip() and not lesson.is_published:
        changed = LessonSection.objects.filter(
            pk=section.pk, revision=section.revision, body=""
        ).update(body=text, revision=F("revision") + 1, updated_at=timezone.now())
        if changed:
            lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.DRAFTED)
            section.refresh_from_db()
            yield {"type": "saved", "mode": "body", "revision": section.revision}
            return
    LessonSection.objects.filter(pk=section.pk).update(
        proposal=text,
        proposal_citations=[],
        proposal_is_grounded=True,
        proposal_is_expected_language=None,
    )
    section.refresh_from_db()
    yield {"type": "saved", "mode": "proposal", "revision": section.revision}


@transaction.atomic
def section_insert_passages(*, section: LessonSection, user: User) -> LessonSection:
    """Append the topic's best textbook passages, each with its citation, to the section:
    a starting text when the model cannot help. Nothing already written is replaced."""
    section = section_lock(section)
    lesson = section.lesson
    passages = lesson_passages(lesson=lesson, user=user)[:INSERT_PASSAGES]
    if not passages:
        raise ValidationError(_("There are no textbook passages for this topic."), code="none")
    with translation.override(lesson.language):
        quoted = [f"{p.text.strip()} [{p.citation}]" for p in passages]
    body = (
        "\n\n".join([section.body.rstrip(), *quoted])
        if section.body.strip()
        else "\n\n".join(quoted)
    )
    section.body = body
    section.citations = _merge_citations(section.citations, [p.as_citation() for p in passages])
    section.revision += 1
    section.save()
    lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return section
