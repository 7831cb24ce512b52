"""Exam practice's items in the tutor: ``exams:<item id>`` references.

The tutor sits above exam practice, so it asks exams' service (never its models); the
provider is registered when the app starts."""

from __future__ import annotations

from modelops.prompts import TutorItem
from soro_web.accounts.models import User
from tutoring.tutor.services.items import ItemRefusal


def exam_item_for_tutor(student: User, reference: str) -> TutorItem | ItemRefusal | None:
    from tutoring.exams.services.tutor_items import TutorOffForExam, item_for_tutor

    if not reference.isdigit():
        return None
    found = item_for_tutor(student=student, item_id=int(reference))
    if isinstance(found, TutorOffForExam):
        return ItemRefusal(reason="exam_open", message=found.message)
    return found
