"""Fixtures shared by every test: the named people of the permission matrix."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation

from soro_web.accounts.models import Classroom, User
from tests.factories import (
    PASSWORD,
    ClassroomFactory,
    EnrollmentFactory,
    SchoolFactory,
    StaffFactory,
    StudentFactory,
    TeacherFactory,
)

ROLES = ["anonymous", "student", "student_other", "teacher", "teacher_other", "staff"]


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    """Every test starts in Tajik. The language middleware activates the request's language
    in the thread and leaves it there (the next request activates its own), so a test
    client request with another language cookie would otherwise leak into the next test
    of the same worker."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@dataclass
class People:
    """A teacher and their class with a student; a teacher of another school with a class
    and a student; and an administrator."""

    teacher: User
    teacher_other: User
    student: User
    student_other: User
    staff: User
    classroom: Classroom
    classroom_other: Classroom

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)


@pytest.fixture
def people(db) -> People:  # type: ignore[no-untyped-def]
    school, school_other = SchoolFactory(), SchoolFactory()
    teacher = TeacherFactory(username="teacher", school=school)
    teacher_other = TeacherFactory(username="teacher_other", school=school_other)
    classroom = ClassroomFactory(teacher=teacher, name="7А")
    classroom_other = ClassroomFactory(teacher=teacher_other, name="7Б")
    student = StudentFactory(username="student", school=school)
    student_other = StudentFactory(username="student_other", school=school_other)
    EnrollmentFactory(classroom=classroom, student=student)
    EnrollmentFactory(classroom=classroom_other, student=student_other)
    staff = StaffFactory(username="staff")
    return People(
        teacher=teacher,
        teacher_other=teacher_other,
        student=student,
        student_other=student_other,
        staff=staff,
        classroom=classroom,
        classroom_other=classroom_other,
    )


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def password() -> str:
    return PASSWORD
