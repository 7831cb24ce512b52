from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

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
        fields = ["id", "kind", "title", "body", "position", "is_grounded", "revision", "audience"]


class ReadSectionOut(Schema):
    """A section as its reader reads it: the teacher's working copy (with ``id`` and
    ``revision`` to change it), or the published version (students: only theirs)."""

    id: int | None = None
    kind: str
    title: str
    body: str
    position: int | None = None
    is_grounded: bool = True
    revision: int | None = None
    audience: str
    citations: list[CitationOut]


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
    #: Its teacher: the working copy. Everybody else: the published version (students
    #: only the sections meant for them); ``published_version_at`` says of when.
    sections: list[ReadSectionOut]
    published_version_at: datetime | None = None

    @staticmethod
    def resolve_sections(obj: Lesson) -> list[Any]:
        read = getattr(obj, "read_sections", None)
        return list(obj.sections.all()) if read is None else read

    @staticmethod
    def resolve_published_version_at(obj: Lesson) -> datetime | None:
        version = obj.published_version
        return version.created_at if version is not None else None


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
    publish_anyway: bool = Field(
        False, description="Publish although some sections are empty (422 lists them otherwise)"
    )


class ConflictOut(Schema):
    detail: str
    section: SectionOut
