"""Lesson plans: creating, editing with conflict detection, proposals, history and sharing.

Every entry point (views, API) calls these functions; they own the transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.curriculum.models import Topic
from soro_web.lessons.models import Lesson, LessonSection, LessonVersion, default_audience
from soro_web.lessons.services.citing import citations_in_text

if TYPE_CHECKING:
    from soro_web.accounts.models import User

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


class SectionConflict(Exception):
    """A save was based on an older revision: someone (another tab) saved in between."""

    def __init__(self, section: LessonSection) -> None:
        super().__init__(f"section {section.pk} changed since it was loaded")
        self.section = section


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
                "audience": section.audience,
            }
            for section in lesson.sections.all()
        ],
    }


def lesson_version_record(lesson: Lesson, *, user: User, reason: str) -> LessonVersion:
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


def lesson_record_change(lesson: Lesson, *, user: User, reason: str) -> None:
    Lesson.objects.filter(pk=lesson.pk).update(
        revision=F("revision") + 1, updated_at=timezone.now()
    )
    lesson.refresh_from_db(fields=["revision", "updated_at"])
    lesson_version_record(lesson, user=user, reason=reason)


# --- creating and editing -------------------------------------------------------------------


@transaction.atomic
def lesson_create(
    *,
    teacher: User,
    topic: Topic,
    title: str = "",
    duration_minutes: int = 45,
    language: str = Lesson.Language.TAJIK,
) -> Lesson:
    """A draft lesson on ``topic`` with the default sections (the timed plan filled in)."""
    if not teacher.is_teacher:
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
                audience=default_audience(kind),
            )
            for position, kind in enumerate(DEFAULT_SECTIONS)
        ]
    )
    lesson_version_record(lesson, user=teacher, reason=LessonVersion.Reason.CREATED)
    return lesson


def lesson_create_by_code(
    *,
    teacher: User,
    topic_code: str,
    title: str = "",
    duration_minutes: int = 45,
    language: str = Lesson.Language.TAJIK,
) -> Lesson:
    """:func:`lesson_create` for a topic given by its curriculum code (the API's way)."""
    if not teacher.is_teacher:
        raise PermissionDenied(_("Only teachers can create lessons."))
    topic = Topic.objects.leaves().filter(code=topic_code).first()
    if topic is None:
        raise ValidationError({"topic": _("Choose a topic from the list.")}, code="topic")
    return lesson_create(
        teacher=teacher,
        topic=topic,
        title=title,
        duration_minutes=duration_minutes,
        language=language,
    )


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
def lesson_update(*, lesson: Lesson, user: User, title: str, duration_minutes: int) -> Lesson:
    """Change the lesson's title and duration."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("The lesson needs a title.")}, code="title")
    _check_duration(duration_minutes)
    lesson.title, lesson.duration_minutes = title[:300], duration_minutes
    lesson.save(update_fields=["title", "duration_minutes", "updated_at"])
    lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return lesson


@transaction.atomic
def lesson_section_update(
    *,
    section: LessonSection,
    user: User,
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
    # A source stays only while its marker is in the text (a rewrite by hand drops it).
    fields["citations"] = citations_in_text(fields["body"], section.citations)
    changed = LessonSection.objects.filter(pk=section.pk, revision=base_revision).update(
        **fields, revision=F("revision") + 1, updated_at=timezone.now()
    )
    section.refresh_from_db()
    if changed != 1:
        raise SectionConflict(section)
    lesson_record_change(section.lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return section


@transaction.atomic
def lesson_section_add(
    *, lesson: Lesson, user: User, kind: str = Kind.CUSTOM, title: str = ""
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
        audience=default_audience(kind),
    )
    lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.SECTIONS)
    return section


@transaction.atomic
def lesson_section_remove(*, section: LessonSection, user: User) -> None:
    """Remove a section (the history keeps it, so it can be restored)."""
    lesson = section.lesson
    section.delete()
    _renumber(lesson)
    lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.SECTIONS)


@transaction.atomic
def lesson_section_move(*, section: LessonSection, user: User, direction: str) -> None:
    """Move a section one place up or down."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move a section up or down.")}, code="direction")
    lesson = section.lesson
    ordered = list(lesson.sections.select_for_update().all())
    index = next(i for i, s in enumerate(ordered) if s.pk == section.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    _renumber(lesson, ordered)
    lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.SECTIONS)


def _renumber(lesson: Lesson, ordered: Sequence[LessonSection] | None = None) -> None:
    sections = list(ordered if ordered is not None else lesson.sections.all())
    for position, section in enumerate(sections):
        section.position = position
    LessonSection.objects.bulk_update(sections, ["position"])


@transaction.atomic
def lesson_delete(*, lesson: Lesson, user: User) -> None:
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    lesson.delete()


@transaction.atomic
def section_proposal_accept(*, section: LessonSection, user: User) -> LessonSection:
    """Replace the section's text with the proposed one (the history keeps the old text)."""
    # Re-read under a row lock: the caller's copy may predate another tab's autosave, and
    # saving it would put back the old text and reuse a revision number.
    section = section_lock(section)
    if not section.proposal:
        return section
    section.body = section.proposal
    section.citations = section.proposal_citations
    section.is_grounded = section.proposal_is_grounded
    _clear_proposal(section)
    section.revision += 1
    section.save()
    lesson_record_change(section.lesson, user=user, reason=LessonVersion.Reason.DRAFTED)
    return section


@transaction.atomic
def section_audience_set(*, section: LessonSection, user: User, audience: str) -> LessonSection:
    """Who reads the section once published: the teacher only, or the students too."""
    if audience not in LessonSection.Audience.values:
        raise ValidationError({"audience": _("Choose who reads this section.")}, code="audience")
    section = section_lock(section)
    if section.lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    if section.audience != audience:
        section.audience = audience
        section.save(update_fields=["audience", "updated_at"])
        lesson_record_change(section.lesson, user=user, reason=LessonVersion.Reason.EDITED)
    return section


@transaction.atomic
def section_proposal_discard(*, section: LessonSection, user: User) -> LessonSection:
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


@transaction.atomic
def section_propose(
    *,
    section: LessonSection,
    user: User,
    text: str,
    citations: Sequence[dict[str, Any]],
    is_expected_language: bool | None = None,
) -> LessonSection:
    """Put ``text`` beside the section as a proposal that the teacher accepts or discards in
    the builder (the drafts' flow): the section's own text is never replaced here. Used by
    Soro's teacher chat ("insert into lesson section"). Only the lesson's teacher."""
    if section.lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    if not text.strip():
        raise ValidationError(_("There is no text to insert."), code="empty")
    section = section_lock(section)
    section.proposal = text.strip()
    section.proposal_citations = [dict(citation) for citation in citations]
    section.proposal_is_grounded = bool(citations)
    section.proposal_is_expected_language = is_expected_language
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


def section_lock(section: LessonSection) -> LessonSection:
    """The section as it is in the database now, locked until the transaction ends."""
    return LessonSection.objects.select_for_update().select_related("lesson").get(pk=section.pk)


def _clear_proposal(section: LessonSection) -> None:
    section.proposal, section.proposal_citations, section.proposal_is_grounded = "", [], True
    section.proposal_is_expected_language = None


@transaction.atomic
def lesson_version_restore(*, version: LessonVersion, user: User) -> Lesson:
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
                audience=item.get("audience") or default_audience(item.get("kind", Kind.CUSTOM)),
                position=position,
            )
            for position, item in enumerate(snapshot.get("sections", []))
        ]
    )
    lesson_record_change(lesson, user=user, reason=LessonVersion.Reason.RESTORED)
    return lesson


@transaction.atomic
def lesson_copy(*, lesson: Lesson, teacher: User) -> Lesson:
    """Copy a lesson the teacher can read (e.g. from the school library) into their drafts."""
    if not teacher.is_teacher:
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
    # Another teacher's lesson is copied as its students read it (the published snapshot),
    # never from the working copy its teacher is still editing.
    if lesson.teacher_id != teacher.pk and lesson.published_version is not None:
        items = list(lesson.published_version.snapshot.get("sections", []))
    else:
        items = lesson_snapshot(lesson)["sections"]
    LessonSection.objects.bulk_create(
        [
            LessonSection(
                lesson=copy,
                kind=item.get("kind", Kind.CUSTOM),
                title=item.get("title", ""),
                body=item.get("body", ""),
                citations=item.get("citations", []),
                is_grounded=item.get("is_grounded", True),
                position=position,
                audience=item.get("audience") or default_audience(item.get("kind", "")),
            )
            for position, item in enumerate(items)
        ]
    )
    lesson_version_record(copy, user=teacher, reason=LessonVersion.Reason.COPIED)
    return copy
