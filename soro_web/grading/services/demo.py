"""The grading demo: a written history assignment in Tajik (two exact questions and one open
question with a rubric) and 30 answers of ten students, a few of them deliberately weak,
off-language, empty or copied (soro_web/grading/data/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import transaction

from soro_web.accounts.models import Classroom, Enrollment, User
from soro_web.grading.models import Assignment
from soro_web.grading.services.assignments import answers_import, assignment_create, question_add

DATA = Path(__file__).resolve().parents[1] / "data"
DEMO_ASSIGNMENT = DATA / "demo_assignment.json"
DEMO_ANSWERS = DATA / "demo_answers.csv"


def demo_spec() -> dict[str, Any]:
    return json.loads(DEMO_ASSIGNMENT.read_text(encoding="utf-8"))


@transaction.atomic
def grading_demo_students(*, classroom: Classroom, password: str | None = None) -> int:
    """Enrol the demo assignment's ten students in ``classroom`` (creating their accounts
    when missing). Returns how many rows were created."""
    created = 0
    for username, first, last in demo_spec()["students"]:
        student = User.objects.filter(username=username).first()
        if student is None:
            student = User(
                username=username,
                first_name=first,
                last_name=last,
                role=User.Role.STUDENT,
                school=classroom.school,
            )
            if password:
                student.set_password(password)
            else:
                student.set_unusable_password()
            student.save()
            created += 1
        created += int(Enrollment.objects.get_or_create(classroom=classroom, student=student)[1])
    return created


@transaction.atomic
def grading_demo_load(
    *, classroom: Classroom, password: str | None = None, with_answers: bool = True
) -> Assignment:
    """Create the demo assignment for ``classroom`` with its questions and, unless
    ``with_answers`` is false, import the 30 demo answers. Safe to run again: an existing
    demo assignment of the class is returned as it is."""
    spec = demo_spec()
    existing = Assignment.objects.filter(classroom=classroom, title=spec["title"]).first()
    if existing is not None:
        return existing
    grading_demo_students(classroom=classroom, password=password)
    assignment = assignment_create(
        teacher=classroom.teacher, classroom=classroom, title=spec["title"]
    )
    for question in spec["questions"]:
        question_add(assignment=assignment, **question)
    if with_answers:
        answers_import(
            assignment=assignment, name=DEMO_ANSWERS.name, content=DEMO_ANSWERS.read_bytes()
        )
    return assignment


def grading_demo_seed(*, classroom: Classroom, password: str | None = None) -> bool:
    """The demo assignment with its answers in ``classroom`` (for ``seed_demo``); returns
    whether it was created now."""
    exists = Assignment.objects.filter(classroom=classroom, title=demo_spec()["title"]).exists()
    if not exists:
        grading_demo_load(classroom=classroom, password=password)
    return not exists
