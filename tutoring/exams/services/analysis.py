"""Teachers' view of a class test: results per student and per topic, item analysis
(facility, point-biserial discrimination, distractor counts, flags) and a CSV or XLSX
export."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from soro_web.accounts.models import Classroom, User
from tutoring.exams.models import Attempt, AttemptAnswer, ExamTest, TestItem
from tutoring.exams.services.scoring import LABELS

# Below these a teacher should look at the item again.
FACILITY_LOW, FACILITY_HIGH, DISCRIMINATION_LOW = 0.2, 0.95, 0.15
MIN_ANSWERS = 5  # fewer answers say little about an item's difficulty


@dataclass
class ItemStats:
    position: int
    code: str
    item_type: str
    topic: str
    answered: int
    facility: float | None  # mean share of the points earned
    discrimination: float | None  # point-biserial of correct vs the rest of the score
    distractors: list[tuple[str, int, bool]] = field(default_factory=list)  # label, count, key
    flags: list[str] = field(default_factory=list)


@dataclass
class TestResults:
    test: ExamTest
    attempts: list[Attempt]
    items: list[ItemStats]
    topics: list[tuple[str, float]]  # topic name, mean facility


def exam_get_for_teacher(*, user: User, pk: int) -> ExamTest:
    """A class test of the teacher's own class (staff: any)."""
    tests = ExamTest.objects.filter(pk=pk, kind=ExamTest.Kind.ASSIGNED).select_related("classroom")
    if not user.is_staff:
        tests = tests.filter(classroom__teacher=user) if user.is_teacher else tests.none()
    test = tests.first()
    if test is None:
        raise Http404(_("No such test."))
    return test


def class_tests_for_teacher(*, user: User) -> list[ExamTest]:
    tests = ExamTest.objects.filter(kind=ExamTest.Kind.ASSIGNED).select_related("classroom")
    if not user.is_staff:
        tests = tests.filter(classroom__teacher=user)
    return list(tests[:100])


def _point_biserial(marks: list[float], rests: list[float]) -> float | None:
    n = len(marks)
    if n < 3:
        return None
    mean_m, mean_r = sum(marks) / n, sum(rests) / n
    cov = sum((m - mean_m) * (r - mean_r) for m, r in zip(marks, rests, strict=True))
    var_m = sum((m - mean_m) ** 2 for m in marks)
    var_r = sum((r - mean_r) ** 2 for r in rests)
    if var_m == 0 or var_r == 0:
        return None
    return cov / math.sqrt(var_m * var_r)


def exam_results(*, user: User, pk: int) -> TestResults:
    """Results of a class test over its submitted attempts."""
    test = exam_get_for_teacher(user=user, pk=pk)
    attempts = list(
        Attempt.objects.filter(test=test).select_related("student").order_by("student__username")
    )
    submitted = [a for a in attempts if a.is_submitted]
    test_items = list(TestItem.objects.filter(test=test).select_related("version__item__topic"))
    answers: dict[tuple[int, int], AttemptAnswer] = {
        (a.attempt_id, a.test_item_id): a
        for a in AttemptAnswer.objects.filter(attempt__in=submitted)
    }
    totals = {a.pk: float(a.score or 0) for a in submitted}
    stats: list[ItemStats] = []
    topic_marks: dict[str, list[float]] = defaultdict(list)
    for test_item in test_items:
        version = test_item.version
        item = version.item
        marks, rests = [], []
        chosen: Counter[int] = Counter()
        for attempt in submitted:
            answer = answers.get((attempt.pk, test_item.pk))
            earned = float(answer.points or 0) if answer else 0.0
            share = earned / float(test_item.points) if test_item.points else 0.0
            marks.append(share)
            rests.append(totals[attempt.pk] - earned)
            if answer and version.type == "choice":
                chosen[answer.answer.get("choice")] += 1
        topic_marks[item.topic.name].extend(marks)
        facility = sum(marks) / len(marks) if marks else None
        discrimination = _point_biserial(marks, rests)
        row = ItemStats(
            position=test_item.position,
            code=item.code,
            item_type=version.type,
            topic=item.topic.name,
            answered=sum(1 for a in submitted if (a.pk, test_item.pk) in answers),
            facility=facility,
            discrimination=discrimination,
        )
        if version.type == "choice":
            key = version.content["answer"]
            row.distractors = [
                (LABELS[i], chosen[i], i == key) for i in range(len(version.content["options"]))
            ]
            if any(chosen[i] > chosen[key] for i in range(4) if i != key):
                row.flags.append(_("a wrong option was chosen more often than the key"))
        if facility is not None and facility < FACILITY_LOW and len(marks) >= MIN_ANSWERS:
            row.flags.append(_("very hard: check the key"))
        if facility is not None and facility > FACILITY_HIGH and len(marks) >= MIN_ANSWERS:
            row.flags.append(_("very easy"))
        if discrimination is not None and discrimination < DISCRIMINATION_LOW:
            row.flags.append(_("does not separate stronger from weaker students"))
        stats.append(row)
    topics = [(name, sum(m) / len(m)) for name, m in topic_marks.items() if m]
    return TestResults(test=test, attempts=attempts, items=stats, topics=topics)


def _exam_results_rows(*, user: User, pk: int) -> list[list[Any]]:
    """The rows of the results export: one per student (score, maximum, scaled, submitted),
    an empty row, then the item analysis."""
    results = exam_results(user=user, pk=pk)
    rows: list[list[Any]] = [
        [_("student"), _("score"), _("maximum"), _("scaled score"), pgettext("exam", "submitted")]
    ]
    for attempt in results.attempts:
        rows.append(
            [
                attempt.student.username,
                attempt.score if attempt.score is not None else "",
                attempt.max_score if attempt.max_score is not None else "",
                attempt.scaled if attempt.scaled is not None else "",
                attempt.submitted_at.isoformat() if attempt.submitted_at else "",
            ]
        )
    rows.append([])
    rows.append(
        [_("question"), _("code"), _("facility"), _("discrimination"), _("choices"), _("flags")]
    )
    for row in results.items:
        rows.append(
            [
                row.position,
                row.code,
                "" if row.facility is None else f"{row.facility:.2f}",
                "" if row.discrimination is None else f"{row.discrimination:.2f}",
                " ".join(f"{label}:{count}" for label, count, _key in row.distractors),
                "; ".join(row.flags),
            ]
        )
    return rows


def exam_results_csv(*, user: User, pk: int) -> str:
    """One row per student (score, maximum, scaled, submitted), then the item analysis."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(_exam_results_rows(user=user, pk=pk))
    return out.getvalue()


def exam_results_xlsx(*, user: User, pk: int) -> bytes:
    """The rows of ``exam_results_csv`` as an XLSX workbook (one sheet)."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Results")[:31]
    for row in _exam_results_rows(user=user, pk=pk):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@dataclass
class StudentHistory:
    classroom: Classroom
    student: User
    attempts: list[Attempt]
    topics: list[Any]  # practice.TopicMastery of the topics the student practised


def student_history(*, user: User, classroom_id: int, student_id: int) -> StudentHistory:
    """A student's attempts and practice mastery, for the teacher of their class (or staff)."""
    from tutoring.exams.services.practice import practice_topics

    classroom = Classroom.objects.visible_to(user).filter(pk=classroom_id).first()
    if classroom is None or not (user.is_teacher or user.is_staff):
        raise Http404(_("No such class."))
    student = User.objects.filter(pk=student_id, enrollments__classroom=classroom).first()
    if student is None:
        raise Http404(_("No such student in this class."))
    attempts = list(
        Attempt.objects.filter(student=student).select_related("test").order_by("-started_at")
    )
    topics = [topic for topic in practice_topics(student=student) if topic.answered]
    return StudentHistory(classroom=classroom, student=student, attempts=attempts, topics=topics)
