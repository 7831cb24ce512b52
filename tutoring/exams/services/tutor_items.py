"""A practice item as the tutor may see it (the tutor asks; exams never imports the tutor).

The tutor is a feature above exam practice: it calls :func:`item_for_tutor` through the
provider it registers for ``exams:<item id>`` references. An item of an exam the student
has open is refused (the tutor is off until the exam is submitted); an item the student has
not answered comes without its key and explanation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from modelops.prompts import TutorItem
from soro_web.accounts.models import User
from tutoring.exams.models import Attempt, AttemptAnswer, Item, PracticeAnswer
from tutoring.exams.services.scoring import answer_text, key_text


@dataclass(frozen=True)
class TutorOffForExam:
    """The item is in an exam the student has open; ``message`` says so, to the student."""

    message: str


def item_for_tutor(*, student: User, item_id: int) -> TutorItem | TutorOffForExam | None:
    """The approved item ``item_id`` for ``student``'s tutor chat, None when there is none."""
    item = Item.objects.approved().select_related("current").filter(pk=item_id).first()
    if item is None or item.current is None:
        return None
    open_attempt = (
        Attempt.objects.in_progress()
        .filter(student=student, deadline__gt=timezone.now(), test__test_items__version__item=item)
        .exists()
    )
    if open_attempt:
        return TutorOffForExam(
            _(
                "The tutor is off for this question while your exam is open. Submit the "
                "exam first; then the tutor can go through it with you."
            )
        )
    version = item.current
    options = tuple(version.content.get("options", ())) if item.type == "choice" else ()
    answered = (
        PracticeAnswer.objects.filter(student=student, item=item)
        .order_by("-answered_at", "-pk")
        .select_related("version")
        .first()
    )
    if answered is None:
        # A question of an exam the student has submitted counts as answered too.
        exam_answer = (
            AttemptAnswer.objects.filter(
                attempt__student=student, attempt__submitted_at__isnull=False, version__item=item
            )
            .order_by("-saved_at")
            .select_related("version")
            .first()
        )
        answered = exam_answer  # type: ignore[assignment]
    if answered is None:
        return TutorItem(stem=version.stem, options=options)
    given = answered.version
    return TutorItem(
        stem=given.stem,
        options=tuple(given.content.get("options", ())) if item.type == "choice" else (),
        student_answer=answer_text(
            item_type=item.type, content=given.content, answer=answered.answer
        ),
        is_correct=bool(answered.is_correct),
        key=key_text(item_type=item.type, content=given.content),
        explanation=given.explanation,
    )
