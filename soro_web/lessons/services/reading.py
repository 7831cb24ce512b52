"""Which lessons a person may read or change, and the lists they see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.curriculum.models import Topic
from soro_web.lessons.models import Lesson, LessonSection


def lesson_get_visible(*, user: User, pk: int) -> Lesson:
    """A lesson the user may read, or Http404."""
    lesson = (
        Lesson.objects.visible_to(user)
        .select_related("teacher", "topic__subject", "topic__grade", "published_version")
        .filter(pk=pk)
        .first()
    )
    if lesson is None:
        raise Http404(_("There is no such lesson, or it is not shared with you."))
    return lesson


def lesson_get_for_owner(*, user: User, pk: int) -> Lesson:
    """A lesson the user may change (only its teacher): Http404 when they cannot even see it,
    PermissionDenied when they can read it but it is not theirs."""
    lesson = lesson_get_visible(user=user, pk=pk)
    if lesson.teacher_id != user.pk:
        raise PermissionDenied(_("Only the lesson's teacher can change it."))
    return lesson


def section_get_for_owner(*, user: User, lesson_pk: int, pk: int) -> LessonSection:
    lesson = lesson_get_for_owner(user=user, pk=lesson_pk)
    section = lesson.sections.filter(pk=pk).first()
    if section is None:
        raise Http404(_("This section is no longer in the lesson."))
    section.lesson = lesson
    return section


def lessons_for_user(*, user: User) -> QuerySet[Lesson]:
    """A teacher's own lessons; a student's lessons published to their classes; all for staff."""
    lessons = Lesson.objects.select_related("topic__subject", "topic__grade", "teacher")
    if user.is_staff:
        return lessons.prefetch_related("classes")
    if user.is_teacher:
        return lessons.owned_by(user).prefetch_related("classes")
    # Students: the published version's title (the working copy's may be half-typed).
    return (
        lessons.for_students_of(user).select_related("published_version").order_by("-published_at")
    )


def lessons_library(
    *, user: User, subject_id: int | None = None, grade_id: int | None = None
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


def lesson_create_choices(
    *, teacher: User, params: Mapping[str, Any]
) -> tuple[Topic | None, dict[str, Any]]:
    """What the "new lesson" page starts with: the topic asked for (``?topic=``) and the
    subject and grade whose topics to offer — those asked for, else the topic's, else those
    of the teacher's first class (the topics they most likely teach)."""
    topic_id = params.get("topic") or 0
    chosen = Topic.objects.leaves().filter(pk=topic_id).first() if str(topic_id).isdigit() else None
    if "subject" in params or "grade" in params:
        return chosen, {"subject": params.get("subject", ""), "grade": params.get("grade", "")}
    if chosen is not None:
        return chosen, {"subject": chosen.subject_id, "grade": chosen.grade_id}
    first_class = teacher.classrooms_taught.order_by("pk").first()
    return chosen, {
        "subject": first_class.subject_id if first_class else "",
        "grade": first_class.grade_id if first_class else "",
    }
