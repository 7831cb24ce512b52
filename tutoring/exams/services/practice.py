"""Practice by topic: one approved item at a time with immediate feedback, the next item
chosen from what the student has not seen and what they got wrong, mastery per topic."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.utils.translation import gettext as _

from soro_web.accounts.models import User
from soro_web.curriculum.models import Topic
from tutoring.exams.models import Item, PracticeAnswer
from tutoring.exams.services.attempts import citation_for
from tutoring.exams.services.scoring import answer_parse, answer_score, key_text, question_public

WEAK_BELOW = 0.6  # a practised topic under this mastery counts as weak


@dataclass
class TopicMastery:
    topic_id: int
    code: str
    name: str
    subject: str
    items: int
    mastered: int  # items whose latest answer was right
    answered: int  # items answered at least once

    @property
    def percent(self) -> int:
        return round(100 * self.mastered / self.items) if self.items else 0

    @property
    def is_weak(self) -> bool:
        return self.answered > 0 and self.mastered / self.items < WEAK_BELOW


def _latest(student: User, topic_ids: list[int] | None = None) -> dict[int, bool]:
    """Item id → whether the student's latest practice answer to it was right."""
    answers = PracticeAnswer.objects.filter(student=student)
    if topic_ids is not None:
        answers = answers.filter(topic_id__in=topic_ids)
    latest: dict[int, bool] = {}
    for item_id, is_correct in answers.order_by("answered_at", "pk").values_list(
        "item_id", "is_correct"
    ):
        latest[item_id] = is_correct
    return latest


def practice_topics(*, student: User) -> list[TopicMastery]:
    """Every topic with approved items, with the student's mastery, by subject and grade."""
    rows = (
        Item.objects.approved()
        .values("topic_id", "topic__code", "topic__name", "topic__subject__name")
        .annotate(count=Count("pk"))
        .order_by("topic__subject__order", "topic__grade__number", "topic__order")
    )
    latest = _latest(student)
    by_topic: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for topic_id, item_id in (
        Item.objects.approved().filter(pk__in=latest).values_list("topic_id", "pk")
    ):
        by_topic[topic_id][1] += 1
        by_topic[topic_id][0] += int(latest[item_id])
    return [
        TopicMastery(
            topic_id=row["topic_id"],
            code=row["topic__code"],
            name=row["topic__name"],
            subject=row["topic__subject__name"],
            items=row["count"],
            mastered=by_topic[row["topic_id"]][0],
            answered=by_topic[row["topic_id"]][1],
        )
        for row in rows
    ]


def practice_next(
    *, student: User, topic_id: int | None, rng: random.Random | None = None
) -> Item | None:
    """The next item: unseen ones first, then those last answered wrong, then the one
    answered longest ago. ``topic_id`` None means "my weak topics"."""
    if not student.is_student:
        raise PermissionDenied(_("Practice is for students."))
    rng = rng or random.Random()
    if topic_id is None:
        topic_ids = [m.topic_id for m in practice_topics(student=student) if m.is_weak]
        if not topic_ids:
            return None
    else:
        topic_ids = [topic_id]
    items = list(
        Item.objects.approved().filter(topic_id__in=topic_ids).values_list("pk", flat=True)
    )
    if not items:
        raise Http404(_("No questions for this topic yet."))
    latest = _latest(student, topic_ids)
    unseen = [pk for pk in items if pk not in latest]
    wrong = [pk for pk in items if pk in latest and not latest[pk]]
    if unseen or wrong:
        choice = rng.choice(unseen or wrong)
    else:
        answered = list(latest)  # ordered oldest first
        choice = answered[0]
    return Item.objects.select_related("current", "topic").get(pk=choice)


def practice_item(*, student: User, item_id: int) -> Item:
    """An approved item for practice (a forged or draft id is "not found")."""
    if not student.is_student:
        raise PermissionDenied(_("Practice is for students."))
    item = Item.objects.approved().select_related("current", "topic").filter(pk=item_id).first()
    if item is None or item.current is None:
        raise Http404(_("No such question."))
    return item


@dataclass
class Feedback:
    item: Item
    answer: dict[str, Any]
    is_correct: bool
    fraction: float
    key: str
    citation: str
    citation_url: str


def practice_answer(*, student: User, item_id: int, data: Mapping[str, Any]) -> Feedback:
    """Check a practice answer at once and keep it (for mastery and the next item)."""
    item = practice_item(student=student, item_id=item_id)
    version = item.current
    assert version is not None
    answer = answer_parse(item_type=version.type, content=version.content, data=data)
    score = answer_score(item_type=version.type, content=version.content, answer=answer)
    PracticeAnswer.objects.create(
        student=student,
        item=item,
        version=version,
        topic_id=item.topic_id,
        answer=answer,
        is_correct=score.is_correct,
    )
    citation, url = citation_for(version, item.topic.name)
    return Feedback(
        item=item,
        answer=answer,
        is_correct=score.is_correct,
        fraction=score.fraction,
        key=key_text(item_type=version.type, content=version.content),
        citation=citation,
        citation_url=url,
    )


def topic_get(*, topic_id: int) -> Topic:
    topic = Topic.objects.select_related("subject").filter(pk=topic_id).first()
    if topic is None:
        raise Http404(_("No such topic."))
    return topic


def practice_pack(*, student: User, topic_id: int) -> dict[str, Any]:
    """A topic's approved items with keys and explanations, for practising offline. Only
    practice items: the questions of a mock exam or class test are never in a pack."""
    if not student.is_student:
        raise PermissionDenied(_("Practice is for students."))
    topic = topic_get(topic_id=topic_id)
    items = []
    for item in (
        Item.objects.approved().filter(topic=topic, current__isnull=False).select_related("current")
    ):
        version = item.current
        assert version is not None
        citation, url = citation_for(version, topic.name)
        items.append(
            {
                "id": item.pk,
                **question_public(
                    item_type=version.type, stem=version.stem, content=version.content
                ),
                "key": version.content,
                "key_text": key_text(item_type=version.type, content=version.content),
                "explanation": version.explanation,
                "citation": citation,
                "citation_url": url,
            }
        )
    return {"topic": {"id": topic.pk, "name": topic.name}, "items": items}


@dataclass
class SyncReport:
    stored: int
    repeated: int
    refused: list[str]


def practice_sync(*, student: User, answers: list[Mapping[str, Any]]) -> SyncReport:
    """Store answers given offline, each exactly once (by its ``client_id``), scored again
    on the server. An answer for an item that is gone or malformed is refused by id."""
    import uuid

    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    if not student.is_student:
        raise PermissionDenied(_("Practice is for students."))
    report = SyncReport(stored=0, repeated=0, refused=[])
    for entry in answers:
        try:
            client_id = uuid.UUID(str(entry.get("client_id")))
            item = practice_item(student=student, item_id=int(entry.get("item_id") or 0))
        except (ValueError, Http404):
            report.refused.append(str(entry.get("client_id")))
            continue
        if PracticeAnswer.objects.filter(client_id=client_id).exists():
            report.repeated += 1
            continue
        version = item.current
        assert version is not None
        try:
            answer = answer_parse(
                item_type=version.type, content=version.content, data=entry.get("answer") or {}
            )
        except ValidationError:
            report.refused.append(str(client_id))
            continue
        score = answer_score(item_type=version.type, content=version.content, answer=answer)
        try:
            with transaction.atomic():
                PracticeAnswer.objects.create(
                    student=student,
                    item=item,
                    version=version,
                    topic_id=item.topic_id,
                    answer=answer,
                    is_correct=score.is_correct,
                    client_id=client_id,
                )
        except IntegrityError:  # the same answer arrived twice at once
            report.repeated += 1
            continue
        report.stored += 1
    return report
