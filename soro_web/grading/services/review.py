"""The teacher's side after grading: the review queue, accepting or editing a proposed grade
(each change in the append-only audit trail), releasing the grades to the students, the
gradebook export, and what a student sees once the grades are released."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from soro_web.grading.models import Answer, Assignment, AuditEntry, Grade, Rubric

if TYPE_CHECKING:
    from soro_web.accounts.models import User


def _snapshot(grade: Grade) -> dict[str, Any]:
    return {
        "status": grade.status,
        "scores": list(grade.scores),
        "total": grade.total,
        "feedback": grade.feedback,
        "agreement": grade.agreement,
        "review_reasons": list(grade.review_reasons),
    }


def grade_counts(*, assignment: Assignment) -> dict[str, int]:
    """How many answers are graded, to review, failed and not graded yet."""
    counts = Grade.objects.filter(answer__assignment=assignment, is_current=True).aggregate(
        graded=Count("pk", filter=Q(status=Grade.Status.GRADED)),
        review=Count("pk", filter=Q(status=Grade.Status.REVIEW)),
        failed=Count("pk", filter=Q(status=Grade.Status.FAILED)),
    )
    answers = Answer.objects.filter(assignment=assignment).count()
    counts["answers"] = answers
    counts["ungraded"] = answers - counts["graded"] - counts["review"] - counts["failed"]
    return counts


def review_queue(*, assignment: Assignment) -> list[Grade]:
    """The current grades the teacher must look at, in question and student order."""
    return list(
        Grade.objects.filter(
            answer__assignment=assignment, is_current=True, status=Grade.Status.REVIEW
        )
        .select_related("answer__question", "answer__student")
        .order_by("answer__question__number", "answer__student__username")
    )


def grade_get_for_teacher(*, user: User, pk: int) -> Grade:
    grade = (
        Grade.objects.select_related(
            "answer__question", "answer__student", "answer__assignment__classroom"
        )
        .filter(pk=pk, is_current=True, answer__assignment__classroom__teacher=user)
        .first()
    )
    if grade is None:
        raise Http404(_("No such grade, or it is not yours."))
    return grade


def grade_rubric(grade: Grade) -> Rubric | None:
    if not grade.rubric_version:
        return None
    return Rubric.objects.filter(
        question_id=grade.answer.question_id, version=grade.rubric_version
    ).first()


def grade_criteria(grade: Grade) -> list[dict[str, Any]]:
    """The rubric's criteria with the proposed points, for the review page."""
    rubric = grade_rubric(grade)
    if rubric is None:
        question = grade.answer.question
        return [
            {
                "name": _("Answer"),
                "levels": [
                    {"points": 0, "descriptor": _("wrong")},
                    {"points": question.points, "descriptor": question.expected_answer},
                ],
                "proposed": grade.scores[0] if grade.scores else None,
            }
        ]
    return [
        {**criterion, "proposed": grade.scores[index] if index < len(grade.scores) else None}
        for index, criterion in enumerate(rubric.criteria)
    ]


@transaction.atomic
def grade_accept(*, grade: Grade, user: User) -> Grade:
    """The teacher accepts the proposed grade as it is."""
    _check_open(grade.answer.assignment)
    if grade.status == Grade.Status.FAILED:
        raise ValidationError(_("This answer could not be graded; retry it or edit the grade."))
    before = _snapshot(grade)
    grade.status, grade.is_teacher_checked = Grade.Status.GRADED, True
    grade.save(update_fields=["status", "is_teacher_checked", "updated_at"])
    _audit(grade, user, AuditEntry.Action.ACCEPT, before)
    return grade


@transaction.atomic
def grade_edit(*, grade: Grade, user: User, scores: list[float], feedback: str) -> Grade:
    """The teacher sets the points per criterion and the feedback. Each value must be one of
    the criterion's levels."""
    _check_open(grade.answer.assignment)
    criteria = grade_criteria(grade)
    if len(scores) != len(criteria):
        raise ValidationError(_("Give points for every criterion."))
    for value, criterion in zip(scores, criteria, strict=True):
        allowed = {float(level["points"]) for level in criterion["levels"]}
        if float(value) not in allowed:
            raise ValidationError(
                _("“%(name)s”: %(points)s is not one of its levels.")
                % {"name": criterion["name"], "points": value}
            )
    before = _snapshot(grade)
    grade.scores = [float(value) for value in scores]
    grade.total = float(sum(grade.scores))
    if grade.max_total == 0:
        grade.max_total = float(
            sum(max(level["points"] for level in c["levels"]) for c in criteria)
        )
    grade.feedback = feedback.strip()
    grade.status, grade.is_teacher_checked = Grade.Status.GRADED, True
    grade.error = ""
    grade.save()
    _audit(grade, user, AuditEntry.Action.EDIT, before)
    return grade


def _audit(grade: Grade, user: User, action: str, before: dict[str, Any]) -> None:
    AuditEntry.objects.create(
        assignment_id=grade.answer.assignment_id,
        answer=grade.answer,
        actor=user,
        action=action,
        before=before,
        after=_snapshot(grade),
        model_version=grade.model_version,
        prompt_checksum=grade.prompt_checksum,
    )


def _check_open(assignment: Assignment) -> None:
    if assignment.is_released:
        raise ValidationError(_("The grades of this assignment are released; it is closed."))


@transaction.atomic
def assignment_release(*, assignment: Assignment, user: User) -> Assignment:
    """Show the grades to the students. Refused while answers wait for review, failed, or
    have no grade yet (the message gives the count)."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.is_released:
        raise ValidationError(_("The grades are already released."))
    counts = grade_counts(assignment=assignment)
    if not counts["answers"]:
        raise ValidationError(_("There are no answers to release."))
    if counts["review"]:
        raise ValidationError(
            ngettext(
                "%(count)d answer is still waiting for your review.",
                "%(count)d answers are still waiting for your review.",
                counts["review"],
            )
            % {"count": counts["review"]}
        )
    if counts["failed"]:
        raise ValidationError(
            ngettext(
                "%(count)d answer failed to grade; retry or edit it first.",
                "%(count)d answers failed to grade; retry or edit them first.",
                counts["failed"],
            )
            % {"count": counts["failed"]}
        )
    if counts["ungraded"]:
        raise ValidationError(
            ngettext(
                "%(count)d answer has no grade yet; grade all first.",
                "%(count)d answers have no grade yet; grade all first.",
                counts["ungraded"],
            )
            % {"count": counts["ungraded"]}
        )
    assignment.released_at = timezone.now()
    assignment.save(update_fields=["released_at"])
    AuditEntry.objects.create(
        assignment=assignment,
        actor=user,
        action=AuditEntry.Action.RELEASE,
        before={"released": False},
        after={"released": True, "grades": counts["graded"]},
    )
    return assignment


def audit_trail(*, assignment: Assignment) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(assignment=assignment).select_related(
            "actor", "answer__student", "answer__question"
        )
    )


# --- the gradebook --------------------------------------------------------------------------


@dataclass(frozen=True)
class GradebookRow:
    student: str
    name: str
    points: list[float | None]
    total: float
    max_total: float


def gradebook(*, assignment: Assignment) -> tuple[list[str], list[GradebookRow]]:
    """One row per student of the class: points per question (blank when not answered or
    not graded), total and maximum."""
    questions = list(assignment.questions.all())
    grades = {
        (g.answer.student_id, g.answer.question_id): g
        for g in Grade.objects.filter(answer__assignment=assignment, is_current=True)
        .exclude(status=Grade.Status.FAILED)
        .select_related("answer")
    }
    header = [f"{_('Question')} {q.number}" for q in questions]
    rows = []
    for enrollment in assignment.classroom.enrollments.select_related("student").order_by(
        "student__username"
    ):
        student = enrollment.student
        points: list[float | None] = []
        total = max_total = 0.0
        for question in questions:
            grade = grades.get((student.pk, question.pk))
            points.append(grade.total if grade else None)
            if grade:
                total += grade.total
                max_total += grade.max_total
        rows.append(
            GradebookRow(
                student=student.username,
                name=student.display_name,
                points=points,
                total=total,
                max_total=max_total,
            )
        )
    return header, rows


def gradebook_export(*, assignment: Assignment, file_format: str) -> tuple[bytes, str]:
    """The gradebook as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read
    Tajik letters) or XLSX. Returns the bytes and the content type."""
    header, rows = gradebook(assignment=assignment)
    table: list[list[Any]] = [
        [_("Student"), _("Name"), *header, _("Total"), _("Out of")],
        *[[r.student, r.name, *r.points, r.total, r.max_total] for r in rows],
    ]
    if file_format == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = _("Gradebook")[:31]
        for row in table:
            sheet.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return (
            buffer.getvalue(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    text = io.StringIO()
    writer = csv.writer(text)
    for row in table:
        writer.writerow(["" if cell is None else cell for cell in row])
    return ("\ufeff" + text.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"


# --- the student's view ---------------------------------------------------------------------


def student_results(*, assignment: Assignment, student: User) -> list[dict[str, Any]]:
    """The student's answers, and their grades and feedback only once released."""
    answers = {
        a.question_id: a
        for a in Answer.objects.filter(assignment=assignment, student=student).prefetch_related(
            "grades"
        )
    }
    results = []
    for question in assignment.questions.all():
        answer = answers.get(question.pk)
        grade = None
        if answer is not None and assignment.is_released:
            grade = next((g for g in answer.grades.all() if g.is_current), None)
        results.append({"question": question, "answer": answer, "grade": grade})
    return results
