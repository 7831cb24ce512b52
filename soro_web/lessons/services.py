"""Lesson plans: creating, editing with conflict detection, drafting with the model from the
topic's textbook passages, history, publishing, the school library and export.

Every entry point (views, API) calls these functions; they own the transactions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from soro_web.accounts.models import Classroom
from soro_web.curriculum.models import Topic
from soro_web.lessons.models import Lesson, LessonSection, LessonVersion

if TYPE_CHECKING:
    from modelops.llm.types import TextModelClient
    from soro_web.lessons.export import LessonDoc
    from tutoring.models import Passage

logger = logging.getLogger(__name__)

Kind = LessonSection.Kind

#: A new lesson's sections, in teaching order.
DEFAULT_SECTIONS: tuple[str, ...] = (
    Kind.OBJECTIVES,
    Kind.PRIOR_KNOWLEDGE,
    Kind.KEY_TERMS,
    Kind.MISCONCEPTIONS,
    Kind.WARM_UP,
    Kind.NEW_MATERIAL,
    Kind.WORKED_EXAMPLES,
    Kind.CHECKS,
    Kind.PRACTICE,
    Kind.DIFFERENTIATION,
    Kind.EXIT_TICKET,
    Kind.HOMEWORK,
    Kind.MATERIALS,
    Kind.TIMED_PLAN,
)

#: The timed plan's share of a lesson, by activity (weights that make up a 45-minute lesson).
TIMED_PLAN_WEIGHTS: tuple[tuple[str, int], ...] = (
    (Kind.WARM_UP, 5),
    (Kind.NEW_MATERIAL, 15),
    (Kind.WORKED_EXAMPLES, 7),
    (Kind.CHECKS, 5),
    (Kind.PRACTICE, 8),
    (Kind.EXIT_TICKET, 3),
    (Kind.HOMEWORK, 2),
)

MIN_DURATION, MAX_DURATION = 10, 240
#: Edits by one person within this window are one entry of the history, not hundreds.
EDIT_COALESCE = timedelta(minutes=10)
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


class SectionConflict(Exception):
    """A save was based on an older revision: someone (another tab) saved in between."""

    def __init__(self, section: LessonSection) -> None:
        super().__init__(f"section {section.pk} changed since it was loaded")
        self.section = section


# --- reading --------------------------------------------------------------------------------


def lesson_get_visible(*, user: Any, pk: int) -> Lesson:
    """A lesson the user may read, or Http404."""
    lesson = (
        Lesson.objects.visible_to(user)
        .select_related("teacher", "topic__subject", "topic__grade")
        .filter(pk=pk)
        .first()
    )
    if lesson is None:
        raise Http404(_("There is no such lesson, or it is not shared with you."))
    return lesson


def lesson_get_for_owner(*, user: Any, pk: int) -> Lesson:
    """A lesson the user may change (only its teacher): Http404 when they cannot even see it,
    PermissionDenied when they can read it but it is not theirs."""
    lesson = lesson_get_visible(user=user, pk=pk)
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    return lesson


def section_get_for_owner(*, user: Any, lesson_pk: int, pk: int) -> LessonSection:
    lesson = lesson_get_for_owner(user=user, pk=lesson_pk)
    section = lesson.sections.filter(pk=pk).first()
    if section is None:
        raise Http404(_("This section is no longer in the lesson."))
    section.lesson = lesson
    return section


def lessons_for_user(*, user: Any) -> QuerySet[Lesson]:
    """A teacher's own lessons; a student's lessons published to their classes; all for staff."""
    lessons = Lesson.objects.select_related("topic__subject", "topic__grade", "teacher")
    if user.is_staff:
        return lessons.prefetch_related("classes")
    if user.is_teacher:
        return lessons.owned_by(user).prefetch_related("classes")
    return lessons.for_students_of(user).order_by("-published_at")


def lessons_library(
    *, user: Any, subject_id: int | None = None, grade_id: int | None = None
) -> QuerySet[Lesson]:
    """Published lessons of the other teachers of the user's school."""
    lessons = Lesson.objects.in_library_of(user).select_related(
        "topic__subject", "topic__grade", "teacher"
    )
    if subject_id:
        lessons = lessons.filter(topic__subject_id=subject_id)
    if grade_id:
        lessons = lessons.filter(topic__grade_id=grade_id)
    return lessons.order_by("-published_at")


def section_default_title(*, kind: str, language: str) -> str:
    with translation.override(language):
        return str(Kind(kind).label)


def timed_plan_text(*, duration_minutes: int, language: str) -> str:
    """A plan of activities whose minutes add up to exactly ``duration_minutes``."""
    total_weight = sum(weight for _kind, weight in TIMED_PLAN_WEIGHTS)
    minutes = [
        max(1, round(duration_minutes * weight / total_weight))
        for _kind, weight in TIMED_PLAN_WEIGHTS
    ]
    # Rounding drift goes to the new material, the part with the most room.
    minutes[1] += duration_minutes - sum(minutes)
    with translation.override(language):
        unit = _("min")
        return "\n".join(
            f"- {Kind(kind).label} — {count} {unit}"
            for (kind, _weight), count in zip(TIMED_PLAN_WEIGHTS, minutes, strict=True)
        )


def lesson_snapshot(lesson: Lesson) -> dict[str, Any]:
    return {
        "title": lesson.title,
        "duration_minutes": lesson.duration_minutes,
        "sections": [
            {
                "kind": section.kind,
                "title": section.title,
                "body": section.body,
                "citations": section.citations,
                "is_grounded": section.is_grounded,
            }
            for section in lesson.sections.order_by("position", "pk")
        ],
    }


def _version_record(lesson: Lesson, *, user: Any, reason: str) -> LessonVersion:
    """Record the lesson as it is now. A run of edits by one person is one entry."""
    snapshot = lesson_snapshot(lesson)
    by = user if getattr(user, "is_authenticated", False) else None
    latest = lesson.versions.order_by("-updated_at", "-pk").first()
    if (
        reason == LessonVersion.Reason.EDITED
        and latest is not None
        and latest.reason == LessonVersion.Reason.EDITED
        and latest.created_by_id == getattr(by, "pk", None)
        and timezone.now() - latest.created_at < EDIT_COALESCE
    ):
        latest.snapshot = snapshot
        latest.save(update_fields=["snapshot", "updated_at"])
        return latest
    return LessonVersion.objects.create(
        lesson=lesson, snapshot=snapshot, reason=reason, created_by=by
    )


def _touch(lesson: Lesson, *, user: Any, reason: str) -> None:
    Lesson.objects.filter(pk=lesson.pk).update(
        revision=F("revision") + 1, updated_at=timezone.now()
    )
    lesson.refresh_from_db(fields=["revision", "updated_at"])
    _version_record(lesson, user=user, reason=reason)


# --- creating and editing -------------------------------------------------------------------


@transaction.atomic
def lesson_create(
    *,
    teacher: Any,
    topic: Topic,
    title: str = "",
    duration_minutes: int = 45,
    language: str = Lesson.Language.TAJIK,
) -> Lesson:
    """A draft lesson on ``topic`` with the default sections (the timed plan filled in)."""
    if not getattr(teacher, "is_teacher", False):
        raise PermissionDenied(_("Only teachers can create lessons."))
    _check_duration(duration_minutes)
    if language not in Lesson.Language.values:
        raise ValidationError({"language": _("Choose Tajik, Russian or English.")})
    lesson = Lesson.objects.create(
        teacher=teacher,
        topic=topic,
        title=(title or "").strip()[:300] or topic.name,
        duration_minutes=duration_minutes,
        language=language,
    )
    LessonSection.objects.bulk_create(
        [
            LessonSection(
                lesson=lesson,
                kind=kind,
                title=section_default_title(kind=kind, language=language),
                body=timed_plan_text(duration_minutes=duration_minutes, language=language)
                if kind == Kind.TIMED_PLAN
                else "",
                position=position,
            )
            for position, kind in enumerate(DEFAULT_SECTIONS)
        ]
    )
    _version_record(lesson, user=teacher, reason=LessonVersion.Reason.CREATED)
    return lesson


def _check_duration(duration_minutes: int) -> None:
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise ValidationError(
            {
                "duration_minutes": _("A lesson lasts from %(low)s to %(high)s minutes.")
                % {"low": MIN_DURATION, "high": MAX_DURATION}
            },
            code="duration",
        )


@transaction.atomic
def lesson_update(*, lesson: Lesson, user: Any, title: str, duration_minutes: int) -> Lesson:
    """Change the lesson's title and duration."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("The lesson needs a title.")}, code="title")
    _check_duration(duration_minutes)
    lesson.title, lesson.duration_minutes = title[:300], duration_minutes
    lesson.save(update_fields=["title", "duration_minutes", "updated_at"])
    _touch(lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return lesson


@transaction.atomic
def lesson_section_update(
    *,
    section: LessonSection,
    user: Any,
    body: str,
    base_revision: int,
    title: str | None = None,
) -> LessonSection:
    """Save a section's text (and title) if nobody saved it since ``base_revision``.

    Raises SectionConflict (carrying the section as it is now) otherwise: the later save
    never silently erases the earlier one; the person decides.
    """
    fields: dict[str, Any] = {"body": body.replace("\r\n", "\n")}
    if title is not None:
        title = title.strip()
        if not title:
            raise ValidationError({"title": _("The section needs a title.")}, code="title")
        fields["title"] = title[:300]
    changed = LessonSection.objects.filter(pk=section.pk, revision=base_revision).update(
        **fields, revision=F("revision") + 1, updated_at=timezone.now()
    )
    section.refresh_from_db()
    if changed != 1:
        raise SectionConflict(section)
    _touch(section.lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return section


@transaction.atomic
def lesson_section_add(
    *, lesson: Lesson, user: Any, kind: str = Kind.CUSTOM, title: str = ""
) -> LessonSection:
    """Add a section at the end of the lesson."""
    if kind not in Kind.values:
        raise ValidationError({"kind": _("Choose a kind of section.")}, code="kind")
    last = lesson.sections.aggregate(last=Max("position"))["last"]
    section = LessonSection.objects.create(
        lesson=lesson,
        kind=kind,
        title=(title or "").strip()[:300]
        or section_default_title(kind=kind, language=lesson.language),
        position=0 if last is None else last + 1,
    )
    _touch(lesson, user=user, reason=LessonVersion.Reason.SECTIONS)
    return section


@transaction.atomic
def lesson_section_remove(*, section: LessonSection, user: Any) -> None:
    """Remove a section (the history keeps it, so it can be restored)."""
    lesson = section.lesson
    section.delete()
    _renumber(lesson)
    _touch(lesson, user=user, reason=LessonVersion.Reason.SECTIONS)


@transaction.atomic
def lesson_section_move(*, section: LessonSection, user: Any, direction: str) -> None:
    """Move a section one place up or down."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move a section up or down.")}, code="direction")
    lesson = section.lesson
    ordered = list(lesson.sections.select_for_update().order_by("position", "pk"))
    index = next(i for i, s in enumerate(ordered) if s.pk == section.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _renumber(lesson, ordered)
    _touch(lesson, user=user, reason=LessonVersion.Reason.SECTIONS)


def _renumber(lesson: Lesson, ordered: Sequence[LessonSection] | None = None) -> None:
    sections = list(ordered if ordered is not None else lesson.sections.order_by("position", "pk"))
    for position, section in enumerate(sections):
        section.position = position
    LessonSection.objects.bulk_update(sections, ["position"])


@transaction.atomic
def lesson_delete(*, lesson: Lesson, user: Any) -> None:
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    lesson.delete()


@transaction.atomic
def section_proposal_accept(*, section: LessonSection, user: Any) -> LessonSection:
    """Replace the section's text with the proposed one (the history keeps the old text)."""
    # Re-read under a row lock: the caller's copy may predate another tab's autosave, and
    # saving it would put back the old text and reuse a revision number.
    section = _section_locked(section)
    if not section.proposal:
        return section
    section.body = section.proposal
    section.citations = section.proposal_citations
    section.is_grounded = section.proposal_is_grounded
    _clear_proposal(section)
    section.revision += 1
    section.save()
    _touch(section.lesson, user=user, reason=LessonVersion.Reason.DRAFTED)
    return section


@transaction.atomic
def section_proposal_discard(*, section: LessonSection, user: Any) -> LessonSection:
    _clear_proposal(section)
    section.save(
        update_fields=[
            "proposal",
            "proposal_citations",
            "proposal_is_grounded",
            "proposal_is_expected_language",
            "updated_at",
        ]
    )
    return section


def _section_locked(section: LessonSection) -> LessonSection:
    """The section as it is in the database now, locked until the transaction ends."""
    return LessonSection.objects.select_for_update().select_related("lesson").get(pk=section.pk)


def _clear_proposal(section: LessonSection) -> None:
    section.proposal, section.proposal_citations, section.proposal_is_grounded = "", [], True
    section.proposal_is_expected_language = None


@transaction.atomic
def section_insert_passages(*, section: LessonSection, user: Any) -> LessonSection:
    """Append the topic's best textbook passages, each with its citation, to the section:
    a starting text when the model cannot help. Nothing already written is replaced."""
    section = _section_locked(section)
    lesson = section.lesson
    passages = lesson_passages(lesson=lesson, user=user)[:INSERT_PASSAGES]
    if not passages:
        raise ValidationError(_("There are no textbook passages for this topic."), code="none")
    with translation.override(lesson.language):
        quoted = [f"{p.text.strip()} [{_citation(p)}]" for p in passages]
    body = (
        "\n\n".join([section.body.rstrip(), *quoted])
        if section.body.strip()
        else "\n\n".join(quoted)
    )
    section.body = body
    section.citations = _merge_citations(section.citations, _citations(passages))
    section.revision += 1
    section.save()
    _touch(lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return section


# --- history --------------------------------------------------------------------------------


@transaction.atomic
def lesson_version_restore(*, version: LessonVersion, user: Any) -> Lesson:
    """Make the lesson what it was in ``version``. The state being replaced stays in the
    history (every change is recorded as it is made), so a restore can be undone too."""
    lesson = Lesson.objects.select_for_update().get(pk=version.lesson_id)
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    snapshot = version.snapshot
    lesson.title = snapshot.get("title") or lesson.title
    lesson.duration_minutes = snapshot.get("duration_minutes") or lesson.duration_minutes
    lesson.save(update_fields=["title", "duration_minutes", "updated_at"])
    lesson.sections.all().delete()
    LessonSection.objects.bulk_create(
        [
            LessonSection(
                lesson=lesson,
                kind=item.get("kind", Kind.CUSTOM),
                title=item.get("title", ""),
                body=item.get("body", ""),
                citations=item.get("citations", []),
                is_grounded=item.get("is_grounded", True),
                position=position,
            )
            for position, item in enumerate(snapshot.get("sections", []))
        ]
    )
    _touch(lesson, user=user, reason=LessonVersion.Reason.RESTORED)
    return lesson


# --- sharing --------------------------------------------------------------------------------


@transaction.atomic
def lesson_publish(*, lesson: Lesson, user: Any, classes: Iterable[Classroom]) -> Lesson:
    """Publish the lesson to some of its teacher's classes (replacing the earlier choice)."""
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    chosen = list(classes)
    if not chosen:
        raise ValidationError({"classes": _("Choose at least one class.")}, code="no_classes")
    if any(classroom.teacher_id != lesson.teacher_id for classroom in chosen):
        raise ValidationError(
            {"classes": _("You can publish only to your own classes.")}, code="foreign_class"
        )
    lesson.status = Lesson.Status.PUBLISHED
    lesson.published_at = lesson.published_at or timezone.now()
    lesson.save(update_fields=["status", "published_at", "updated_at"])
    lesson.classes.set(chosen)
    return lesson


@transaction.atomic
def lesson_unpublish(*, lesson: Lesson, user: Any) -> Lesson:
    """Take the lesson back: students no longer see it, nor the school library."""
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    lesson.status, lesson.published_at = Lesson.Status.DRAFT, None
    lesson.save(update_fields=["status", "published_at", "updated_at"])
    lesson.classes.clear()
    return lesson


@transaction.atomic
def lesson_copy(*, lesson: Lesson, teacher: Any) -> Lesson:
    """Copy a lesson the teacher can read (e.g. from the school library) into their drafts."""
    if not getattr(teacher, "is_teacher", False):
        raise PermissionDenied(_("Only teachers can create lessons."))
    if not Lesson.objects.visible_to(teacher).filter(pk=lesson.pk).exists():
        raise Http404(_("There is no such lesson, or it is not shared with you."))
    copy = Lesson.objects.create(
        teacher=teacher,
        topic=lesson.topic,
        title=lesson.title,
        duration_minutes=lesson.duration_minutes,
        language=lesson.language,
        copied_from=lesson,
    )
    LessonSection.objects.bulk_create(
        [
            LessonSection(
                lesson=copy,
                kind=section.kind,
                title=section.title,
                body=section.body,
                citations=section.citations,
                is_grounded=section.is_grounded,
                position=section.position,
            )
            for section in lesson.sections.order_by("position", "pk")
        ]
    )
    _version_record(copy, user=teacher, reason=LessonVersion.Reason.COPIED)
    return copy


# --- textbook passages ----------------------------------------------------------------------


def lesson_passages(*, lesson: Lesson, user: Any, refresh: bool = False) -> list[Passage]:
    """The topic's textbook passages the teacher can see, best first.

    Found once with the hybrid search (subject, grade, topic name) and remembered on the
    lesson, so drafting a section does not wait for a search. ``refresh`` searches again
    (a textbook was added); an empty result is always searched again.
    """
    from tutoring.models import Passage

    if lesson.passage_ids and not refresh:
        found = Passage.objects.current().select_related("textbook").in_bulk(lesson.passage_ids)
        passages = [found[pk] for pk in lesson.passage_ids if pk in found]
        if len(passages) == len(lesson.passage_ids):
            return passages
    searched = _passages_search(lesson, user)
    if searched is not None:
        ids = [p.pk for p in searched]
        Lesson.objects.filter(pk=lesson.pk).update(passage_ids=ids)
        lesson.passage_ids = ids
    return searched or []


def _passages_search(lesson: Lesson, user: Any) -> list[Passage] | None:
    """None when the search itself failed (then nothing is remembered)."""
    from tutoring.services import passages_search

    topic = lesson.topic
    try:
        results = passages_search(
            user=user,
            query=topic.name,
            subject=topic.subject.code,
            grade=topic.grade.number,
            limit=PANEL_PASSAGES,
        )
    except ValidationError:
        return []
    except Exception:  # the builder stays a complete editor when search is broken
        logger.exception("textbook search failed for lesson %s", lesson.pk)
        return None
    return [result.passage for result in results]


def _citation(passage: Passage) -> str:
    from tutoring.services import citation

    return citation(passage)


def _citations(passages: Sequence[Passage]) -> list[dict[str, Any]]:
    return [{"book": p.textbook.title, "page": p.page, "passage_id": p.pk} for p in passages]


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


def citation_label(item: dict[str, Any]) -> str:
    """ "Алгебра, саҳ. 3" for a stored citation, in the active language."""
    if item.get("page") is None:
        return str(item.get("book", ""))
    return _("%(title)s, p. %(page)s") % {"title": item.get("book", ""), "page": item.get("page")}


# --- drafting with the model ----------------------------------------------------------------

#: What to write for each kind of section: short, in Tajik (the prompt's tokens are the
#: first words' latency).
KIND_PROMPTS: dict[str, str] = {
    Kind.OBJECTIVES: "Се мақсади дарс: хонанда чиро медонад ва чӣ карда метавонад.",
    Kind.PRIOR_KNOWLEDGE: "Донишҳое, ки хонанда бояд пеш аз ин дарс донад.",
    Kind.KEY_TERMS: "Истилоҳоти асосӣ бо шарҳи кӯтоҳ; баробари русиро дар қавс нависед.",
    Kind.MISCONCEPTIONS: "Ду хатои маъмули хонандагон ва роҳи ислоҳи онҳо.",
    Kind.WARM_UP: "Машқи кӯтоҳи оғозӣ барои панҷ дақиқа.",
    Kind.NEW_MATERIAL: "Шарҳи маводи нав бо забони содда.",
    Kind.WORKED_EXAMPLES: "Ду мисоли ҳалшуда, қадам ба қадам.",
    Kind.CHECKS: (
        "Се саволи тестӣ бо ҷавобҳои А, Б, В. Ҷавоби дурустро нишон диҳед ва шарҳ диҳед, "
        "ки чаро ҳар ҷавоби дигар нодуруст аст."
    ),
    Kind.PRACTICE: "Чор машқ барои кори мустақил, аз осон ба душвор.",
    Kind.DIFFERENTIATION: "Ёрӣ барои хонандагони заиф ва супориши душвор барои қавӣ.",
    Kind.EXIT_TICKET: "Ду саволи кӯтоҳ барои охири дарс.",
    Kind.HOMEWORK: "Вазифаи хонагӣ.",
    Kind.MATERIALS: "Маводи лозимӣ барои дарс.",
}
SYSTEM_PROMPT = (
    "Шумо ба муаллим нақшаи дарс менависед. Аз матнҳои китоб истифода баред ва баъди "
    "фикр рақами матнро дар қавс нависед, масалан [1]."
)
UNGROUNDED_SYSTEM_PROMPT = "Шумо ба муаллим нақшаи дарс менависед."
LANGUAGE_PROMPTS = {"tg": "Бо забони тоҷикӣ.", "ru": "По-русски.", "en": "In English."}
MARKER = re.compile(r"\[(\d{1,2})\]")


def _trim(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def draft_messages(
    *, section: LessonSection, instruction: str = "", grounded: bool = True
) -> list[Any]:
    """The chat for drafting one section: kept short on purpose (see DRAFT_PASSAGES)."""
    from modelops.llm.types import ChatMessage

    lesson = section.lesson
    topic = lesson.topic
    task = KIND_PROMPTS.get(section.kind) or section.title
    lines = [
        f"Мавзӯ: {topic.name} ({topic.subject.name}, синфи {topic.grade.number}).",
        f"Қисми нақша: {section.title}. {task}",
    ]
    if instruction.strip():
        lines.append(f"Талаби муаллим: {instruction.strip()[:200]}")
    lines.append(LANGUAGE_PROMPTS.get(lesson.language, ""))
    system = SYSTEM_PROMPT if grounded else UNGROUNDED_SYSTEM_PROMPT
    return [ChatMessage("system", system), ChatMessage("user", "\n".join(lines).strip())]


def cite_markers(text: str, passages: Sequence[Passage]) -> str:
    """Turn the model's [1], [2] into "[Алгебра, саҳ. 3]" (unknown numbers are left alone)."""

    def replace(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= len(passages):
            return f"[{_citation(passages[number - 1])}]"
        return match.group(0)

    return MARKER.sub(replace, text)


def lesson_draft_section(
    *,
    section: LessonSection,
    user: Any,
    instruction: str = "",
    allow_ungrounded: bool = False,
    client: TextModelClient | None = None,
) -> Iterator[dict[str, Any]]:
    """Draft one section from the topic's textbook passages, streaming as it is written.

    Yields ``{"type": "start", "grounded", "sources"}``, the model's ``{"type": "text"}``
    pieces, then one of:

    - ``{"type": "saved", "mode": "body" | "proposal", "is_expected_language"}``: an empty
      section is filled; a section with text gets a *proposal* to accept or discard; text
      that fails the language check is always only a proposal, flagged;
    - ``{"type": "error", "reason", "message"}``: the model could not answer; the section is
      unchanged (what arrived before an interruption is kept as a proposal);
    - ``{"type": "no_passages", "message"}``: the topic has no textbook passages and
      ``allow_ungrounded`` was not given.

    The teacher's text is never overwritten by a draft. ``client`` defaults to the active
    model (local engine or server), as everywhere else.
    """
    from modelops.llm.types import GenerationParams
    from modelops.services import generation_stream

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
        sources = [{"book": p.textbook.title, "page": p.page} for p in passages]
    yield {"type": "start", "grounded": grounded, "sources": sources}
    events = generation_stream(
        messages=draft_messages(section=section, instruction=instruction, grounded=grounded),
        params=GenerationParams(
            max_new_tokens=DRAFT_MAX_NEW_TOKENS.get(section.kind, DRAFT_MAX_NEW_TOKENS["*"]),
            temperature=0.7 if (start_body.strip() or instruction.strip()) else 0.3,
            timeout_s=settings.SORO_LLM_TIMEOUT,
        ),
        purpose="lesson_draft",
        user=user,
        context=[_trim(p.text, DRAFT_PASSAGE_WORDS) for p in passages],
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
    user: Any,
    text: str,
    passages: Sequence[Passage],
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
    citations = _citations(passages)
    grounded = bool(passages)
    suspicious = is_expected_language is False
    with transaction.atomic():
        filled = 0
        if not (suspicious or force_proposal):
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
            _touch(lesson, user=user, reason=LessonVersion.Reason.DRAFTED)
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
    if suspicious:
        event["message"] = not_expected_language_message()
    return event


def not_expected_language_message() -> str:
    return _(
        "The model's text does not look like the lesson's language, so it was not put into "
        "the lesson. Read it before you accept it, or start from the textbook passages."
    )


def _draft_timed_plan(section: LessonSection, user: Any) -> Iterator[dict[str, Any]]:
    """The timed plan is arithmetic, not prose: computed from the duration, never guessed."""
    lesson = section.lesson
    text = timed_plan_text(duration_minutes=lesson.duration_minutes, language=lesson.language)
    yield {"type": "start", "grounded": False, "sources": []}
    yield {"type": "text", "text": text}
    if not section.body.strip():
        changed = LessonSection.objects.filter(
            pk=section.pk, revision=section.revision, body=""
        ).update(body=text, revision=F("revision") + 1, updated_at=timezone.now())
        if changed:
            _touch(lesson, user=user, reason=LessonVersion.Reason.DRAFTED)
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


# --- export ---------------------------------------------------------------------------------


def lesson_document(*, lesson: Lesson) -> LessonDoc:
    """The lesson as the export core's plain dataclasses, labels in the lesson's language."""
    from soro_web.lessons.export import CitationDoc, LessonDoc, SectionDoc

    with translation.override(lesson.language):
        labels = {
            "subject": _("Subject"),
            "grade": _("Grade"),
            "topic": _("Topic"),
            "teacher": _("Teacher"),
            "duration": _("Duration"),
            "minutes": _("min"),
            "sources": _("Sources"),
            "page": _("p."),
            "ungrounded": _("Not grounded in the textbook"),
        }
        topic = lesson.topic
        return LessonDoc(
            title=lesson.title,
            subject=topic.subject.localized_name(lesson.language),
            grade=topic.grade.name,
            topic=topic.name,
            teacher=lesson.teacher.display_name,
            duration_minutes=lesson.duration_minutes,
            sections=tuple(
                SectionDoc(
                    title=section.title,
                    body=section.body,
                    citations=tuple(
                        CitationDoc(book=str(c.get("book", "")), page=c.get("page"))
                        for c in section.citations
                    ),
                    is_grounded=section.is_grounded,
                )
                for section in lesson.sections.order_by("position", "pk")
            ),
            labels=labels,
        )


def lesson_file_name(*, lesson: Lesson, extension: str) -> str:
    """A file name teachers recognise; safe on every system (letters, digits, dashes)."""
    stem = re.sub(r"[^\w]+", "-", lesson.title, flags=re.UNICODE).strip("-_")[:60]
    return f"{stem or 'lesson'}-{lesson.pk}.{extension}"
