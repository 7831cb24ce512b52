from __future__ import annotations

from datetime import datetime

from ninja import Field, ModelSchema, Schema

from soro_web.lessons.models import Lesson, LessonSection


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
    classes: list[int]
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
    topic: str = Field(..., description="Curriculum topic code, e.g. math-7-01-01")
    title: str = ""
    duration_minutes: int = 45
    language: str = "tg"


class SectionIn(Schema):
    body: str
    title: str | None = None
    revision: int = Field(..., description="The revision the change is based on")


class PublishIn(Schema):
    classes: list[int]


class ConflictOut(Schema):
    detail: str
    section: SectionOut
