"""The short answers of a class test join batch grading: exact questions with the test's
accepted answers, the submitted attempts' answers, graded by the same job; bringing the test
in again adds only new attempts; another teacher's test is not found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from soro_web.grading.models import Answer, Assignment, Grade, Question
from soro_web.grading.services import assignment_from_exam, exam_tests_for_grading
from tests.conftest import People, client_for
from tests.exams.conftest import bank, curriculum  # noqa: F401 - fixtures
from tests.factories import EnrollmentFactory, StudentFactory
from tests.grading.test_services import run_job
from tutoring.exams.models import ExamTest
from tutoring.exams.services import (
    assigned_start,
    attempt_answer_save,
    attempt_submit,
    exam_assign,
)

pytestmark = pytest.mark.usefixtures("bank")

# math-007: 12 (no tolerance); bio-009: хлоропласт | хлоропластҳо; phys-004: 2,7 ± 0,01;
# math-001: a choice question (not brought in).
CODES = ["math-007", "bio-009", "phys-004", "math-001"]


def a_test(people: People) -> ExamTest:
    now = timezone.now()
    return exam_assign(
        teacher=people.teacher,
        classroom_id=people.classroom.pk,
        title="Санҷиши хурд",
        minutes=10,
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(hours=1),
        item_codes=CODES,
    )


def sit(student, test: ExamTest, answers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    attempt = assigned_start(student=student, test_id=test.pk)
    for test_item in test.test_items.select_related("version__item"):
        code = test_item.version.item.code
        if code in answers:
            attempt_answer_save(
                user=student,
                attempt_id=attempt.pk,
                position=test_item.position,
                data={"text": answers[code]},
            )
    attempt_submit(attempt_id=attempt.pk, user=student)


def test_short_answers_are_graded_like_any_exact_question(  # type: ignore[no-untyped-def]
    people: People, django_capture_on_commit_callbacks
) -> None:
    test = a_test(people)
    sit(people.student, test, {"math-007": "12", "bio-009": "Хлоропластҳо", "phys-004": "2,71"})
    assert exam_tests_for_grading(teacher=people.teacher) == [(test.pk, test.title)]
    assert exam_tests_for_grading(teacher=people.teacher_other) == []

    result = assignment_from_exam(teacher=people.teacher, test_id=test.pk)
    assignment = result.assignment
    assert (result.created, result.unchanged, result.skipped_questions) == (2, 0, 1)
    assert assignment.classroom == people.classroom and assignment.source == f"exams:{test.pk}"
    questions = {q.expected_answer: q for q in assignment.questions.all()}
    assert set(questions) == {"12", "хлоропласт|хлоропластҳо"}
    assert all(q.kind == Question.Kind.EXACT for q in questions.values())
    assert set(Answer.objects.filter(assignment=assignment).values_list("source", flat=True)) == {
        "exam"
    }

    run_job(assignment, django_capture_on_commit_callbacks)
    totals = {
        grade.answer.question.expected_answer: grade.total
        for grade in Grade.objects.filter(answer__assignment=assignment, is_current=True)
    }
    assert totals == {"12": 2.0, "хлоропласт|хлоропластҳо": 2.0}  # both right, 2 points each

    # Again, after another student submitted: only the new answers come in.
    classmate = StudentFactory(username="classmate", school=people.student.school)
    EnrollmentFactory(classroom=people.classroom, student=classmate)
    sit(classmate, test, {"math-007": "13"})
    again = assignment_from_exam(teacher=people.teacher, test_id=test.pk)
    assert again.assignment == assignment and (again.created, again.unchanged) == (1, 2)
    assert Assignment.objects.count() == 1 and assignment.questions.count() == 2


def test_another_teachers_test_and_a_test_without_short_questions(people: People) -> None:
    test = a_test(people)
    with pytest.raises(Http404):
        assignment_from_exam(teacher=people.teacher_other, test_id=test.pk)
    now = timezone.now()
    choices_only = exam_assign(
        teacher=people.teacher,
        classroom_id=people.classroom.pk,
        title="Танҳо интихобӣ",
        minutes=10,
        opens_at=now,
        closes_at=now + timedelta(hours=1),
        item_codes=["math-001"],
    )
    with override("en"), pytest.raises(Exception, match="no short-answer questions"):
        assignment_from_exam(teacher=people.teacher, test_id=choices_only.pk)
    assert not Assignment.objects.exists()


def test_the_teacher_brings_a_test_in_from_the_written_work_page(people: People) -> None:
    test = a_test(people)
    sit(people.student, test, {"math-007": "12"})
    client = client_for(people.teacher)
    page = client.get(reverse("grading:assignment_list")).content.decode()
    assert reverse("grading:assignment_from_exam") in page and test.title in page
    response = client.post(reverse("grading:assignment_from_exam"), {"test": test.pk})
    assignment = Assignment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("grading:assignment_detail", args=[assignment.pk])
    # Another teacher's test is not among the choices: the form refuses it, nothing is made.
    other = client_for(people.teacher_other)
    refused = other.post(reverse("grading:assignment_from_exam"), {"test": test.pk})
    assert refused.status_code == 302 and Assignment.objects.count() == 1
