"""An assigned test's short answers, as batch grading takes them in.

Batch grading sits above exam practice: it calls :func:`short_answers_for_grading` and gets
plain data (exams never imports grading). A teacher brings the short answers of a class test
into the grading queue to review the answers the exact rule rejected, give feedback, release
and export them with the rest of the class's written work. Numeric questions with a tolerance
stay with the exam's own scoring: an accepted-answers list cannot say "12 ± 0,5".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from soro_web.accounts.models import Classroom, User
from tutoring.exams.models import AttemptAnswer, ExamTest, ItemType, TestItem


@dataclass(frozen=True)
class ShortQuestion:
    item_id: int
    position: int
    stem: str
    accepted: tuple[str, ...]
    points: int


@dataclass(frozen=True)
class ShortAnswer:
    student_id: int
    item_id: int
    text: str


@dataclass(frozen=True)
class TestShortAnswers:
    test_id: int
    title: str
    classroom_id: int
    questions: tuple[ShortQuestion, ...]
    answers: tuple[ShortAnswer, ...]
    skipped: int  # short questions with a numeric tolerance, scored by the exam itself


def _tests_of(teacher: User) -> QuerySet[ExamTest]:
    return ExamTest.objects.filter(
        kind=ExamTest.Kind.ASSIGNED, classroom__in=Classroom.objects.taught_by(teacher)
    )


def tests_with_short_answers(*, teacher: User) -> list[tuple[int, str]]:
    """(id, title) of the teacher's class tests that have short-answer questions."""
    return list(
        _tests_of(teacher)
        .filter(test_items__version__type=ItemType.SHORT)
        .distinct()
        .order_by("-opens_at", "-pk")
        .values_list("pk", "title")
    )


def _accepted(content: dict) -> tuple[str, ...] | None:  # type: ignore[type-arg]
    numeric = content.get("numeric")
    if numeric is not None:
        if float(numeric.get("tolerance", 0)) > 0:
            return None
        return (f"{numeric['value']:g}".replace(".", ","),)
    return tuple(content.get("answers", ()))


def short_answers_for_grading(*, teacher: User, test_id: int) -> TestShortAnswers:
    """The short questions of the teacher's class test ``test_id`` with the answers of the
    submitted attempts. Http404 for a test that is not theirs; ValidationError when it has
    no short question that exact matching can score."""
    test = _tests_of(teacher).filter(pk=test_id).first()
    if test is None or test.classroom_id is None:
        raise Http404(_("No such test."))
    questions: list[ShortQuestion] = []
    skipped = 0
    test_items = (
        TestItem.objects.filter(test=test, version__type=ItemType.SHORT)
        .select_related("version")
        .order_by("position")
    )
    for test_item in test_items:
        accepted = _accepted(test_item.version.content)
        if accepted is None:
            skipped += 1
            continue
        points = int(Decimal(test_item.points).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        questions.append(
            ShortQuestion(
                item_id=test_item.version.item_id,
                position=test_item.position,
                stem=test_item.version.stem,
                accepted=accepted,
                points=max(points, 1),
            )
        )
    if not questions:
        raise ValidationError(
            _("This test has no short-answer questions that can be graded by exact answers."),
            code="no_short_questions",
        )
    wanted = {question.item_id for question in questions}
    rows = (
        AttemptAnswer.objects.filter(
            attempt__test=test,
            attempt__submitted_at__isnull=False,
            test_item__version__type=ItemType.SHORT,
        )
        .values_list("attempt__student_id", "test_item__version__item_id", "answer")
        .order_by("attempt__student_id", "test_item__position")
    )
    answers = tuple(
        ShortAnswer(student_id=student, item_id=item, text=str((answer or {}).get("text", "")))
        for student, item, answer in rows
        if item in wanted
    )
    return TestShortAnswers(
        test_id=test.pk,
        title=test.title,
        classroom_id=test.classroom_id,
        questions=tuple(questions),
        answers=answers,
        skipped=skipped,
    )
