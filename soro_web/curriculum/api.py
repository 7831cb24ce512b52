"""Read-only API for the curriculum."""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from soro_web.curriculum.models import Grade, Subject, Topic
from soro_web.curriculum.schemas import GradeOut, SubjectOut, TopicOut
from soro_web.schema_types import GradeNumber, OneLine, errors

router = Router(tags=["curriculum"])


class TopicsQuery(Schema):
    subject: Annotated[str, Field(max_length=40), OneLine] | None = Field(
        None, description="A subject code, e.g. math; an unknown code lists no topics"
    )
    grade: GradeNumber | None = None


@router.get("/subjects", response={200: list[SubjectOut], **errors()})
def curriculum_subjects(request: HttpRequest):  # type: ignore[no-untyped-def]
    return Subject.objects.all()


@router.get("/grades", response={200: list[GradeOut], **errors()})
def curriculum_grades(request: HttpRequest):  # type: ignore[no-untyped-def]
    return Grade.objects.all()


@router.get("/topics", response={200: list[TopicOut], **errors()})
def curriculum_topics(request: HttpRequest, filters: Query[TopicsQuery]):  # type: ignore[no-untyped-def]
    topics = Topic.objects.select_related("subject", "grade", "parent")
    if filters.subject:
        topics = topics.filter(subject__code=filters.subject)
    if filters.grade:
        topics = topics.filter(grade__number=filters.grade)
    return topics
