"""Mock exams and class tests: building a test from a blueprint, starting and resuming an
attempt, saving answers one by one under a deadline the server holds, submitting once, and
the review with scores by part and subject."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from soro_web.accounts.models import Classroom, User
from tutoring.exams.models import (
    Attempt,
    AttemptAnswer,
    Blueprint,
    ExamTest,
    Item,
    ItemVersion,
    TestItem,
    blueprint_sections_valid,
)
from tutoring.exams.services.scoring import (
    answer_parse,
    answer_score,
    answer_text,
    key_text,
    question_public,
)
from tutoring.services import citation_text

DEMO_BLUEPRINTS = Path(__file__).resolve().parent.parent / "data" / "blueprints.json"


class DeadlinePassed(ValidationError):
    """The attempt's time is over: the answer was refused and the attempt submitted."""


# --- blueprints -----------------------------------------------------------------------


def _check_sections(sections: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(sections, list) or not sections:
        raise ValidationError(_("%(where)s: no sections") % {"where": where})
    if not blueprint_sections_valid(sections):
        raise ValidationError(
            _("%(where)s: each section needs a subject and counts per type") % {"where": where}
        )
    return sections


def blueprints_import(*, path: Path = DEMO_BLUEPRINTS) -> list[Blueprint]:
    """Load blueprints from a JSON file (all or nothing); existing codes are updated."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValidationError(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": error}
        ) from None
    rows = document.get("blueprints") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        raise ValidationError(_("%(path)s has no blueprints") % {"path": path})
    for number, row in enumerate(rows, start=1):
        _check_sections(row.get("sections"), _("blueprint %(number)s") % {"number": number})
    with transaction.atomic():
        return [
            Blueprint.objects.update_or_create(
                code=row["code"],
                defaults={
                    "name": row["name"],
                    "cluster": row.get("cluster"),
                    "minutes": row["minutes"],
                    "scaled_max": row.get("scaled_max", 500),
                    "sections": row["sections"],
                    "is_active": row.get("is_active", True),
                },
            )[0]
            for row in rows
        ]


def blueprints_offered() -> list[Blueprint]:
    return list(Blueprint.objects.filter(is_active=True))


def _section_label(section: Mapping[str, Any]) -> str:
    return f"{section.get('part', '')}:{section['subject']}".strip(":")


def _draw(blueprint: Blueprint, rng: random.Random) -> list[tuple[ItemVersion, str, Decimal]]:
    """Approved items for each section and type, drawn at random; too few is an error."""
    chosen: list[tuple[ItemVersion, str, Decimal]] = []
    for section in blueprint.sections:
        for kind, count in section["counts"].items():
            if not count:
                continue
            items = Item.objects.approved().filter(subject__code=section["subject"], type=kind)
            if section.get("part"):
                items = items.filter(part=section["part"])
            pool = list(items.filter(current__isnull=False).values_list("current_id", flat=True))
            if len(pool) < count:
                raise ValidationError(
                    _(
                        "The bank has %(have)s approved %(type)s questions in %(subject)s; "
                        "the blueprint needs %(need)s."
                    )
                    % {
                        "have": len(pool),
                        "type": kind,
                        "subject": section["subject"],
                        "need": count,
                    }
                )
            points = Decimal(str((section.get("points") or {}).get(kind, 1)))
            versions = ItemVersion.objects.in_bulk(rng.sample(pool, count))
            chosen.extend((versions[pk], _section_label(section), points) for pk in versions)
    return chosen


def _test_create(
    *,
    kind: str,
    title: str,
    creator: User,
    minutes: int,
    drawn: list[tuple[ItemVersion, str, Decimal]],
    blueprint: Blueprint | None = None,
    classroom: Classroom | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> ExamTest:
    test = ExamTest.objects.create(
        kind=kind,
        title=title,
        blueprint=blueprint,
        classroom=classroom,
        created_by=creator,
        minutes=minutes,
        scaled_max=blueprint.scaled_max if blueprint else 500,
        opens_at=opens_at or timezone.now(),
        closes_at=closes_at,
    )
    TestItem.objects.bulk_create(
        TestItem(test=test, position=position, version=version, section=label, points=points)
        for position, (version, label, points) in enumerate(drawn, start=1)
    )
    return test


# --- starting -------------------------------------------------------------------------


def mock_start(*, student: User, blueprint_id: int, seed: int | None = None) -> Attempt:
    """A student starts a mock exam shaped by a blueprint: a new test just for them."""
    if not student.is_student:
        raise PermissionDenied(_("Only students sit mock exams."))
    blueprint = Blueprint.objects.filter(pk=blueprint_id, is_active=True).first()
    if blueprint is None:
        raise Http404(_("No such mock exam."))
    with transaction.atomic():
        drawn = _draw(blueprint, random.Random(seed))
        test = _test_create(
            kind=ExamTest.Kind.MOCK,
            title=blueprint.name,
            creator=student,
            minutes=blueprint.minutes,
            drawn=drawn,
            blueprint=blueprint,
        )
        now = timezone.now()
        return Attempt.objects.create(
            student=student,
            test=test,
            started_at=now,
            deadline=now + timedelta(minutes=test.minutes),
        )


def exam_assign(
    *,
    teacher: User,
    classroom_id: int,
    title: str,
    minutes: int,
    opens_at: datetime,
    closes_at: datetime,
    blueprint_id: int | None = None,
    item_codes: list[str] | None = None,
    points: Mapping[str, float] | None = None,
) -> ExamTest:
    """A teacher assigns a test to their class: a blueprint's draw or a list of approved
    items, the same questions for every student, open within the window."""
    classroom = Classroom.objects.visible_to(teacher).filter(pk=classroom_id).first()
    if classroom is None or not (teacher.is_teacher or teacher.is_staff):
        raise Http404(_("No such class."))
    if closes_at <= opens_at:
        raise ValidationError(_("The test must close after it opens."), code="window")
    if minutes < 1:
        raise ValidationError(_("Give the test at least one minute."), code="minutes")
    blueprint = None
    with transaction.atomic():
        if blueprint_id:
            blueprint = Blueprint.objects.filter(pk=blueprint_id).first()
            if blueprint is None:
                raise ValidationError(_("No such blueprint."), code="blueprint")
            drawn = _draw(blueprint, random.Random())
        else:
            items = list(
                Item.objects.approved()
                .filter(code__in=item_codes or [])
                .select_related("current", "subject")
            )
            if not items or len(items) != len(set(item_codes or [])):
                raise ValidationError(_("Choose approved questions for the test."), code="items")
            weights = {"choice": 1, "matching": 2, "short": 2, **(points or {})}
            drawn = [
                (item.current, f"{item.part}:{item.subject.code}", Decimal(str(weights[item.type])))
                for item in items
                if item.current is not None
            ]
        return _test_create(
            kind=ExamTest.Kind.ASSIGNED,
            title=title,
            creator=teacher,
            minutes=minutes,
            drawn=drawn,
            blueprint=blueprint,
            classroom=classroom,
            opens_at=opens_at,
            closes_at=closes_at,
        )


def exam_assign_choices(*, teacher: User) -> tuple[Any, Any]:
    """The classes a teacher may assign a test to, and the blueprints offered."""
    return Classroom.objects.visible_to(teacher), Blueprint.objects.filter(is_active=True)


def class_tests_for_student(*, student: User) -> list[ExamTest]:
    """The class tests assigned to the student's classes, newest first."""
    return list(
        ExamTest.objects.filter(
            kind=ExamTest.Kind.ASSIGNED, classroom__enrollments__student=student
        ).order_by("-opens_at")
    )


def attempts_for_student(*, student: User) -> list[Attempt]:
    return list(Attempt.objects.filter(student=student).select_related("test")[:50])


def assigned_start(*, student: User, test_id: int) -> Attempt:
    """Start (or resume) the student's attempt at a class test while it is open."""
    test = (
        ExamTest.objects.filter(
            pk=test_id, kind=ExamTest.Kind.ASSIGNED, classroom__enrollments__student=student
        ).first()
        if student.is_student
        else None
    )
    if test is None:
        raise Http404(_("No such test."))
    existing = Attempt.objects.filter(student=student, test=test).first()
    if existing is not None:
        return existing
    now = timezone.now()
    if not test.is_open(now):
        raise ValidationError(_("This test is not open now."), code="closed")
    deadline = now + timedelta(minutes=test.minutes)
    if test.closes_at is not None:
        deadline = min(deadline, test.closes_at)
    with transaction.atomic():
        attempt, _created = Attempt.objects.get_or_create(
            student=student, test=test, defaults={"started_at": now, "deadline": deadline}
        )
    return attempt


# --- answering ------------------------------------------------------------------------


def attempt_get(*, user: User, pk: int) -> Attempt:
    """The student's own attempt; another student's is "not found"."""
    attempt = Attempt.objects.select_related("test").filter(pk=pk, student=user).first()
    if attempt is None:
        raise Http404(_("No such attempt."))
    return attempt


def attempt_check_time(attempt: Attempt) -> Attempt:
    """Submit the attempt if its time is over (the next request after the deadline)."""
    if not attempt.is_submitted and attempt.deadline <= timezone.now():
        attempt_submit(attempt_id=attempt.pk, automatic=True)
        attempt.refresh_from_db()
    return attempt


@dataclass
class AttemptPage:
    attempt: Attempt
    test_item: TestItem
    positions: list[tuple[int, bool]]  # (position, answered)
    answer: dict[str, Any] | None
    saved_at: datetime | None

    @property
    def previous(self) -> int | None:
        return self.test_item.position - 1 if self.test_item.position > 1 else None

    @property
    def next(self) -> int | None:
        last = len(self.positions)
        return self.test_item.position + 1 if self.test_item.position < last else None


def attempt_page(*, user: User, pk: int, position: int) -> AttemptPage:
    """One question of a running attempt with the student's saved answer (never the key)."""
    attempt = attempt_check_time(attempt_get(user=user, pk=pk))
    if attempt.is_submitted:
        raise DeadlinePassed(_("This attempt is submitted."), code="submitted")
    answered = dict(
        AttemptAnswer.objects.filter(attempt=attempt).values_list("test_item__position", "saved_at")
    )
    count = TestItem.objects.filter(test_id=attempt.test_id).count()
    position = min(max(position, 1), max(count, 1))
    test_item = (
        TestItem.objects.select_related("version")
        .filter(test_id=attempt.test_id, position=position)
        .first()
    )
    if test_item is None:
        raise Http404(_("No such question."))
    answer = None
    if position in answered:
        answer = (
            AttemptAnswer.objects.filter(attempt=attempt, test_item=test_item)
            .values_list("answer", flat=True)
            .first()
        )
    return AttemptPage(
        attempt=attempt,
        test_item=test_item,
        positions=[(p, p in answered) for p in range(1, count + 1)],
        answer=answer,
        saved_at=answered.get(position),
    )


def attempt_answer_save(
    *, user: User, attempt_id: int, position: int, data: Mapping[str, Any]
) -> AttemptAnswer:
    """Save (or replace) one answer of a running attempt. After the deadline the answer is
    refused and the attempt submitted; a malformed answer saves nothing."""
    now = timezone.now()
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().filter(pk=attempt_id, student=user).first()
        if attempt is None:
            raise Http404(_("No such attempt."))
        if attempt.is_submitted:
            raise DeadlinePassed(
                _("This attempt is already submitted; the answer was not saved."),
                code="submitted",
            )
        if attempt.deadline <= now:
            overdue = True
        else:
            overdue = False
            test_item = (
                TestItem.objects.select_related("version")
                .filter(test_id=attempt.test_id, position=position)
                .first()
            )
            if test_item is None:
                raise Http404(_("No such question."))
            version = test_item.version
            answer = answer_parse(item_type=version.type, content=version.content, data=data)
            fields = {"version": version, "answer": answer, "saved_at": now}
            rows = AttemptAnswer.objects.filter(attempt=attempt, test_item=test_item)
            if not rows.update(**fields):
                AttemptAnswer.objects.create(attempt=attempt, test_item=test_item, **fields)
            saved = AttemptAnswer(attempt=attempt, test_item=test_item, **fields)
    if overdue:
        attempt_submit(attempt_id=attempt_id, automatic=True)
        raise DeadlinePassed(
            _("Time is up: the answer was not saved and the test was submitted."),
            code="deadline",
        )
    return saved


@dataclass
class AttemptState:
    attempt: Attempt
    questions: list[dict[str, Any]]


def attempt_state(*, user: User, pk: int) -> AttemptState:
    """A running attempt for an API client: every question (no key) with the saved answer."""
    attempt = attempt_check_time(attempt_get(user=user, pk=pk))
    answers = {
        a.test_item_id: a
        for a in AttemptAnswer.objects.filter(attempt=attempt).only(
            "test_item_id", "answer", "saved_at"
        )
    }
    questions = []
    if not attempt.is_submitted:
        for test_item in TestItem.objects.filter(test_id=attempt.test_id).select_related("version"):
            saved = answers.get(test_item.pk)
            questions.append(
                {
                    "position": test_item.position,
                    "points": float(test_item.points),
                    **question_public(
                        item_type=test_item.version.type,
                        stem=test_item.version.stem,
                        content=test_item.version.content,
                    ),
                    "answer": saved.answer if saved else None,
                    "saved_at": saved.saved_at if saved else None,
                }
            )
    return AttemptState(attempt=attempt, questions=questions)


def _quantize(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def attempt_submit(
    *, attempt_id: int, user: User | None = None, automatic: bool = False
) -> Attempt:
    """Submit and score an attempt once. A second submit (another tab, the sweep) finds the
    row already claimed by the conditional UPDATE and changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        rows = Attempt.objects.filter(pk=attempt_id, submitted_at__isnull=True)
        if user is not None:
            rows = rows.filter(student=user)
            if not Attempt.objects.filter(pk=attempt_id, student=user).exists():
                raise Http404(_("No such attempt."))
        claimed = rows.update(submitted_at=now, is_auto_submitted=automatic) == 1
        attempt = Attempt.objects.select_related("test").get(pk=attempt_id)
        if not claimed:
            return attempt
        test_items = list(
            TestItem.objects.filter(test_id=attempt.test_id).select_related("version")
        )
        answers = {a.test_item_id: a for a in AttemptAnswer.objects.filter(attempt=attempt)}
        total = maximum = Decimal(0)
        for test_item in test_items:
            maximum += test_item.points
            answer = answers.get(test_item.pk)
            if answer is None:
                continue
            score = answer_score(
                item_type=test_item.version.type,
                content=test_item.version.content,
                answer=answer.answer,
            )
            answer.is_correct = score.is_correct
            answer.points = _quantize(test_item.points * Decimal(str(score.fraction)))
            total += answer.points
        AttemptAnswer.objects.bulk_update(answers.values(), ["is_correct", "points"])
        attempt.score = _quantize(total)
        attempt.max_score = _quantize(maximum)
        scaled = total / maximum * attempt.test.scaled_max if maximum else Decimal(0)
        attempt.scaled = _quantize(scaled, "0.1")
        attempt.save(update_fields=["score", "max_score", "scaled"])
    return attempt


def attempts_submit_overdue(*, limit: int = 200) -> list[int]:
    """Submit attempts whose time ran out (a bounded batch); returns their ids."""
    ids = list(Attempt.objects.overdue().values_list("pk", flat=True)[:limit])
    for pk in ids:
        attempt_submit(attempt_id=pk, automatic=True)
    return ids


def attempts_submit_overdue_sweep(stale_before: datetime, resend_before: datetime) -> list[int]:
    """The worker's sweep (every ``SORO_JOB_SWEEP_SECONDS``): no attempt stays open past
    its deadline even when the student never comes back."""
    return attempts_submit_overdue()


# --- review ---------------------------------------------------------------------------


@dataclass
class ReviewRow:
    position: int
    section: str
    version: ItemVersion
    part: str
    points: Decimal
    answer: dict[str, Any] | None
    answer_text: str
    is_correct: bool | None
    earned: Decimal
    key: str
    citation: str
    citation_url: str


@dataclass
class Review:
    attempt: Attempt
    rows: list[ReviewRow]
    by_subject: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    by_part: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)


def citation_for(version: ItemVersion, topic_name: str) -> tuple[str, str]:
    """The textbook citation of an item version and a link to that passage in search."""
    reference = version.reference
    if not reference:
        return "", ""
    text = citation_text(book=reference["book"], page=reference.get("page"))
    query = {"q": topic_name}
    if reference.get("subject"):
        query["subject"] = reference["subject"]
    if reference.get("grade"):
        query["grade"] = str(reference["grade"])
    return text, f"{reverse('tutoring:search')}?{urlencode(query)}"


def attempt_review(*, user: User, pk: int) -> Review:
    """The submitted attempt with every item, the student's answer, the key and the
    explanation, and the score by subject and by part. Before submission: refused."""
    attempt = attempt_check_time(attempt_get(user=user, pk=pk))
    if not attempt.is_submitted:
        raise PermissionDenied(_("The review opens when the test is submitted."))
    test_items = list(
        TestItem.objects.filter(test_id=attempt.test_id).select_related(
            "version__item__topic", "version__item__subject"
        )
    )
    answers = {a.test_item_id: a for a in AttemptAnswer.objects.filter(attempt=attempt)}
    subjects: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    parts: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    rows = []
    for test_item in test_items:
        version = test_item.version
        item = version.item
        answer = answers.get(test_item.pk)
        earned = (answer.points or Decimal(0)) if answer else Decimal(0)
        for bucket in (subjects[str(item.subject)], parts[item.part]):
            bucket[0] += earned
            bucket[1] += test_item.points
        citation, url = citation_for(version, item.topic.name)
        rows.append(
            ReviewRow(
                position=test_item.position,
                section=test_item.section,
                version=version,
                part=item.part,
                points=test_item.points,
                answer=answer.answer if answer else None,
                answer_text=answer_text(
                    item_type=version.type, content=version.content, answer=answer.answer
                )
                if answer
                else "",
                is_correct=answer.is_correct if answer else None,
                earned=earned,
                key=key_text(item_type=version.type, content=version.content),
                citation=citation,
                citation_url=url,
            )
        )
    return Review(
        attempt=attempt,
        rows=rows,
        by_subject=[(name, v[0], v[1]) for name, v in subjects.items()],
        by_part=[(name, v[0], v[1]) for name, v in sorted(parts.items())],
    )
