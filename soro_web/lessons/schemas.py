from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, ModelSchema, Schema

from soro_web.languages import Language
from soro_web.lessons.models import Lesson, LessonSection
from soro_web.lessons.services import MAX_DURATION, MIN_DURATION
from soro_web.schema_types import (
    MAX_ID,
    SECTION_BODY_MAX_CHARS,
    BodyId,
    Id,
    ManyLines,
    Number,
    OneLine,
)


class CitationOut(Schema):
    book: str
    page: int | None = None
    passage_id: int | None = None


class SectionOut(ModelSchema):
    citations: list[CitationOut]

    class Meta:
        model = LessonSection
        fields = ["id", "kind", "title", "body", "position", "is_grounded", "revision"]


class LessonOut(ModelSchema):
    """A lesson without its sections (lists)."""

    topic: str = Field(..., alias="topic.code")
    subject: str = Field(..., alias="topic.subject.code")
    grade: int = Field(..., alias="topic.grade.number")
    teacher: str = Field(..., alias="teacher.display_name")
    classes: Annotated[list[Id], Field(max_length=200)]
    updated_at: datetime

    class Meta:
        model = Lesson
        fields = ["id", "title", "duration_minutes", "language", "status", "revision"]

    @staticmethod
    def resolve_classes(obj: Lesson) -> list[int]:
        return sorted(classroom.pk for classroom in obj.classes.all())


class LessonDetailOut(LessonOut):
    sections: list[SectionOut]

    @staticmethod
    def resolve_sections(obj: Lesson) -> list[LessonSection]:
        return list(obj.sections.all())


class LessonIn(Schema):
    topic: Annotated[str, Field(min_length=1, max_length=100), OneLine] = Field(
        ..., description="Curriculum topic code, e.g. math-7-01-01"
    )
    title: Annotated[str, Field(max_length=300), OneLine] = ""
    duration_minutes: Annotated[int, Field(ge=MIN_DURATION, le=MAX_DURATION), Number] = 45
    language: Language = Language.TAJIK


class SectionIn(Schema):
    body: Annotated[str, Field(max_length=SECTION_BODY_MAX_CHARS), ManyLines]
    title: Annotated[str, Field(min_length=1, max_length=300), OneLine] | None = None
    revision: Annotated[int, Field(ge=1, le=MAX_ID), Number] = Field(
        ..., description="The revision the change is based on"
    )


class PublishIn(Schema):
    classes: Annotated[list[BodyId], Field(min_length=1, max_length=200)] = Field(
        ..., description="Ids of the teacher's own classes; at least one"
    )


class ConflictOut(Schema):
    detail: str
    section: SectionOut
