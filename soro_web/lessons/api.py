"""Lessons API: list, read, create, change a section (409 on a stale revision), publish.

The same rules as the pages: a teacher changes only their own lessons; staff read all;
students read what was published to their classes; anything else is 404.
"""

from __future__ import annotations

from dataclasses import asdict

from django.utils.translation import gettext as _
from ninja import Router, Status

from soro_web.http import AuthenticatedRequest
from soro_web.lessons import services
from soro_web.lessons.schemas import (
    ConflictOut,
    LessonDetailOut,
    LessonIn,
    LessonOut,
    PublishIn,
    SectionIn,
    SectionOut,
)
from soro_web.schema_types import Id, errors

router = Router(tags=["lessons"])


@router.get("/lessons", response={200: list[LessonOut], **errors()})
def lessons_list(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    lessons = list(services.lessons_for_user(user=request.user).prefetch_related("classes"))
    if request.user.is_student:
        # Students read the published version: its title, not the working copy's.
        for lesson in lessons:
            snapshot = lesson.published_version.snapshot if lesson.published_version else {}
            lesson.title = snapshot.get("title") or lesson.title
    return lessons


@router.post("/lessons", response={201: LessonDetailOut, **errors(400, 403)})
def lessons_create(request: AuthenticatedRequest, payload: LessonIn):  # type: ignore[no-untyped-def]
    lesson = services.lesson_create_by_code(
        teacher=request.user,
        topic_code=payload.topic,
        title=payload.title,
        duration_minutes=payload.duration_minutes,
        language=payload.language,
    )
    return Status(201, lesson)


@router.get("/lessons/{lesson_id}", response={200: LessonDetailOut, **errors(404)})
def lessons_detail(request: AuthenticatedRequest, lesson_id: Id):  # type: ignore[no-untyped-def]
    lesson = services.lesson_get_visible(user=request.user, pk=lesson_id)
    reading = services.lesson_reading(lesson=lesson, user=request.user)
    if not reading.is_working_copy:
        lesson.read_sections = [asdict(section) for section in reading.sections]  # type: ignore[attr-defined]
        if lesson.published_version is not None:
            lesson.title = lesson.published_version.snapshot.get("title") or lesson.title
    return lesson


@router.put(
    "/lessons/{lesson_id}/sections/{section_id}",
    response={200: SectionOut, **errors(400, 403, 404), 409: ConflictOut},
)
def lessons_section_update(  # type: ignore[no-untyped-def]
    request: AuthenticatedRequest, lesson_id: Id, section_id: Id, payload: SectionIn
):
    section = services.section_get_for_owner(user=request.user, lesson_pk=lesson_id, pk=section_id)
    try:
        return services.lesson_section_update(
            section=section,
            user=request.user,
            body=payload.body,
            title=payload.title,
            base_revision=payload.revision,
        )
    except services.SectionConflict as conflict:
        return Status(
            409,
            {
                "detail": _(
                    "The section was changed after revision %(revision)s. Read it again and "
                    "send your change based on its current revision."
                )
                % {"revision": payload.revision},
                "section": conflict.section,
            },
        )


@router.post("/lessons/{lesson_id}/publish", response={200: LessonOut, **errors(400, 403, 404)})
def lessons_publish(request: AuthenticatedRequest, lesson_id: Id, payload: PublishIn):  # type: ignore[no-untyped-def]
    lesson = services.lesson_get_for_owner(user=request.user, pk=lesson_id)
    return services.lesson_publish(
        lesson=lesson,
        user=request.user,
        classes=payload.classes,
        publish_anyway=payload.publish_anyway,
    )
