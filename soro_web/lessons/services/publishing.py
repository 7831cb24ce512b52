"""Publishing: students read a snapshot of the lesson (a version of its history), never the
working copy the teacher keeps editing; "publish changes" takes a new snapshot. Each section
has an audience: students read only the sections meant for them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from soro_web.accounts.models import Classroom, User
from soro_web.lessons.models import Lesson, LessonSection, LessonVersion, default_audience
from soro_web.lessons.services.editing import lesson_snapshot

Audience = LessonSection.Audience


@dataclass(frozen=True)
class ReadSection:
    """A section as a reader sees it: from the working copy or from a published snapshot."""

    kind: str
    title: str
    body: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    is_grounded: bool = True
    audience: str = Audience.TEACHER

    @property
    def for_students(self) -> bool:
        return self.audience == Audience.STUDENTS

    @classmethod
    def from_snapshot(cls, item: dict[str, Any]) -> ReadSection:
        kind = item.get("kind", LessonSection.Kind.CUSTOM)
        return cls(
            kind=kind,
            title=item.get("title", ""),
            body=item.get("body", ""),
            citations=list(item.get("citations", [])),
            is_grounded=item.get("is_grounded", True),
            audience=item.get("audience") or default_audience(kind),
        )


@dataclass(frozen=True)
class LessonReading:
    """What one person reads of a lesson, and from which version."""

    sections: list[ReadSection]
    title: str
    duration_minutes: int
    #: True: the teacher's working copy; False: the published snapshot.
    is_working_copy: bool
    #: Only the students' sections (a student, or the teacher looking as one).
    students_only: bool
    version_at: datetime | None


@dataclass(frozen=True)
class Publication:
    """The builder's line: "students see the version of …", and whether it is behind."""

    version_at: datetime | None
    has_unpublished_changes: bool


def empty_sections(lesson: Lesson) -> list[LessonSection]:
    return [section for section in lesson.sections.all() if not section.body.strip()]


def _published_sections(lesson: Lesson) -> list[ReadSection]:
    version = lesson.published_version
    if version is None:
        return []
    return [ReadSection.from_snapshot(item) for item in version.snapshot.get("sections", [])]


def lesson_reading(*, lesson: Lesson, user: User, as_students: bool = False) -> LessonReading:
    """The sections ``user`` reads (with text): the lesson's own teacher the working copy
    (or, ``as_students``, what the students see); a student the published snapshot's
    students' sections; other teachers and staff the published snapshot (staff read a draft's
    working copy)."""
    owner = lesson.teacher_id == user.pk
    students_only = user.is_student or (owner and as_students)
    published = lesson.published_version is not None
    if (owner and not as_students) or (not published and not user.is_student):
        sections = [
            ReadSection(
                kind=s.kind,
                title=s.title,
                body=s.body,
                citations=list(s.citations),
                is_grounded=s.is_grounded,
                audience=s.audience,
            )
            for s in lesson.sections.all()
        ]
        return LessonReading(
            sections=[s for s in sections if s.body.strip()],
            title=lesson.title,
            duration_minutes=lesson.duration_minutes,
            is_working_copy=True,
            students_only=False,
            version_at=None,
        )
    sections = [
        s
        for s in _published_sections(lesson)
        if s.body.strip() and (s.for_students or not students_only)
    ]
    version = lesson.published_version
    snapshot = version.snapshot if version is not None else {}
    return LessonReading(
        sections=sections,
        title=snapshot.get("title") or lesson.title,
        duration_minutes=snapshot.get("duration_minutes") or lesson.duration_minutes,
        is_working_copy=False,
        students_only=students_only,
        version_at=version.created_at if version is not None else None,
    )


def lesson_publication(lesson: Lesson) -> Publication:
    version = lesson.published_version
    if version is None:
        return Publication(version_at=None, has_unpublished_changes=False)
    return Publication(
        version_at=version.created_at,
        has_unpublished_changes=_content(version.snapshot) != _content(lesson_snapshot(lesson)),
    )


def _content(snapshot: dict[str, Any]) -> Any:
    """What students read of a snapshot (older snapshots carry no audience: by kind)."""
    return (
        snapshot.get("title"),
        snapshot.get("duration_minutes"),
        [
            (
                item.get("kind"),
                item.get("title"),
                item.get("body"),
                item.get("citations"),
                item.get("is_grounded", True),
                item.get("audience") or default_audience(item.get("kind", "")),
            )
            for item in snapshot.get("sections", [])
        ],
    )


def empty_sections_message(sections: Sequence[LessonSection]) -> str:
    return _("These sections are empty: %(titles)s. Publish anyway?") % {
        "titles": "; ".join(section.title for section in sections)
    }


@transaction.atomic
def lesson_publish(
    *,
    lesson: Lesson,
    user: User,
    classes: Iterable[Classroom | int],
    publish_anyway: bool = False,
) -> Lesson:
    """Publish the lesson as it is now to some of its teacher's classes (replacing the
    earlier choice; ``classes`` are classrooms or their ids): a snapshot is taken, and
    students read it until the teacher publishes the changes. Empty sections are refused
    unless ``publish_anyway`` (the teacher saw the list and confirmed)."""
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    lesson = Lesson.objects.select_for_update().get(pk=lesson.pk)
    given = list(classes)
    ids = {item if isinstance(item, int) else item.pk for item in given}
    chosen = list(Classroom.objects.filter(pk__in=ids))
    if not chosen:
        raise ValidationError({"classes": _("Choose at least one class.")}, code="no_classes")
    if len(chosen) != len(ids) or any(c.teacher_id != lesson.teacher_id for c in chosen):
        raise ValidationError(
            {"classes": _("You can publish only to your own classes.")}, code="foreign_class"
        )
    empty = empty_sections(lesson)
    if empty and not publish_anyway:
        raise ValidationError(
            {
                "publish_anyway": ValidationError(
                    empty_sections_message(empty), code="empty_sections"
                )
            }
        )
    version = LessonVersion.objects.create(
        lesson=lesson,
        snapshot=lesson_snapshot(lesson),
        reason=LessonVersion.Reason.PUBLISHED,
        created_by=user,
    )
    lesson.status = Lesson.Status.PUBLISHED
    lesson.published_at = lesson.published_at or timezone.now()
    lesson.published_version = version
    lesson.save(update_fields=["status", "published_at", "published_version", "updated_at"])
    lesson.classes.set(chosen)
    return lesson


@transaction.atomic
def lesson_unpublish(*, lesson: Lesson, user: User) -> Lesson:
    """Take the lesson back: students no longer see it, nor the school library."""
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    lesson.status, lesson.published_at = Lesson.Status.DRAFT, None
    lesson.published_version = None
    lesson.save(update_fields=["status", "published_at", "published_version", "updated_at"])
    lesson.classes.clear()
    return lesson
