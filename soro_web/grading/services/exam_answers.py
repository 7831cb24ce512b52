"""The short answers of a class test, brought into batch grading.

Exam practice scores short answers exactly when an attempt is submitted. Bringing them in
here gives the teacher the rest of the pipeline for them: the review queue for the empty and
the doubtful, feedback, release and the gradebook export. Each question keeps its exam
position as its number; bringing the same test in again adds the attempts submitted since
and changes nothing else (one assignment per test and teacher).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.grading.models import Answer, Assignment, Question
from tutoring.exams.services import short_answers_for_grading, tests_with_short_answers


@dataclass(frozen=True)
class ExamImport:
    assignment: Assignment
    created: int
    unchanged: int
    skipped_questions: int


def exam_tests_for_grading(*, teacher: User) -> list[tuple[int, str]]:
    """The teacher's class tests with short answers, for the "bring in" form."""
    return tests_with_short_answers(teacher=teacher)


@transaction.atomic
def assignment_from_exam(*, teacher: User, test_id: int) -> ExamImport:
    """Create (or top up) the assignment holding the short answers of class test
    ``test_id``. Http404 for a test that is not the teacher's; refused once its grades are
    released."""
    data = short_answers_for_grading(teacher=teacher, test_id=test_id)
    source = f"exams:{data.test_id}"
    assignment = (
        Assignment.objects.select_for_update().filter(teacher=teacher, source=source).first()
    )
    if assignment is None:
        assignment = Assignment.objects.create(
            classroom_id=data.classroom_id,
            teacher=teacher,
            title=_("%(title)s: short answers") % {"title": data.title},
            source=source,
        )
    elif assignment.is_released:
        raise ValidationError(_("The grades of this assignment are released; it is closed."))
    questions: dict[int, Question] = {}
    for short in data.questions:
        questions[short.item_id], _created = Question.objects.get_or_create(
            assignment=assignment,
            number=short.position,
            defaults={
                "text": short.stem,
                "kind": Question.Kind.EXACT,
                "expected_answer": "|".join(short.accepted)[:300],
                "points": short.points,
            },
        )
    have = set(
        Answer.objects.filter(assignment=assignment).values_list("question_id", "student_id")
    )
    fresh = [
        Answer(
            assignment=assignment,
            question=questions[answer.item_id],
            student_id=answer.student_id,
            text=answer.text,
            source=Answer.Source.EXAM,
        )
        for answer in data.answers
        if (questions[answer.item_id].pk, answer.student_id) not in have
    ]
    Answer.objects.bulk_create(fresh)
    return ExamImport(
        assignment=assignment,
        created=len(fresh),
        unchanged=len(data.answers) - len(fresh),
        skipped_questions=data.skipped,
    )
