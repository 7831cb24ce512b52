from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, ModelSchema, Schema

from soro_web.accounts.models import User
from soro_web.schema_types import BodyGradeNumber, OneLine


class UserOut(ModelSchema):
    is_staff: bool
    school: str | None = Field(None, alias="school.name")

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role"]


class TokenIn(Schema):
    username: Annotated[str, Field(min_length=1, max_length=150), OneLine]
    password: Annotated[str, Field(min_length=1, max_length=1024), OneLine]
    name: Annotated[str, Field(min_length=1, max_length=100), OneLine] = "api"


class TokenOut(Schema):
    token: str
    name: str
    expires_at: datetime | None = None


class TokenInfoOut(Schema):
    """A token as its owner sees it later: never the key, only its first characters."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None


class ClassroomOut(Schema):
    """A class. Its join code is shown only to the people who manage it."""

    id: int
    name: str
    subject: str
    grade: int
    teacher: str
    join_code: str | None = None
    join_code_expires_at: datetime | None = None

    @staticmethod
    def resolve_subject(obj) -> str:  # type: ignore[no-untyped-def]
        return obj.subject.code

    @staticmethod
    def resolve_grade(obj) -> int:  # type: ignore[no-untyped-def]
        return obj.grade.number

    @staticmethod
    def resolve_teacher(obj) -> str:  # type: ignore[no-untyped-def]
        return obj.teacher.display_name

    @staticmethod
    def resolve_join_code(obj, context) -> str | None:  # type: ignore[no-untyped-def]
        return obj.join_code if _manages(obj, context) else None

    @staticmethod
    def resolve_join_code_expires_at(obj, context) -> datetime | None:  # type: ignore[no-untyped-def]
        return obj.join_code_expires_at if _manages(obj, context) else None


def _manages(classroom, context) -> bool:  # type: ignore[no-untyped-def]
    user = context["request"].user
    return bool(user.is_staff or classroom.teacher_id == user.pk)


class ClassroomIn(Schema):
    name: Annotated[str, Field(min_length=1, max_length=120), OneLine]
    subject: Annotated[str, Field(min_length=1, max_length=40), OneLine]
    grade: BodyGradeNumber


class JoinIn(Schema):
    join_code: Annotated[str, Field(min_length=1, max_length=12), OneLine]


class StudentOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str


class ClassroomDetailOut(ClassroomOut):
    students: list[StudentOut]

    @staticmethod
    def resolve_students(obj) -> list:  # type: ignore[no-untyped-def]
        return [enrollment.student for enrollment in obj.enrollments.select_related("student")]
