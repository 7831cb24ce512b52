"""The tutor on exam practice's items: opened from a practice question after an answer,
off for the questions of an exam the student has open, never given an open item's key."""

from __future__ import annotations

import pytest
from django.urls import reverse

from modelops.prompts import TutorItem
from tests.conftest import People, client_for
from tests.exams.conftest import bank, curriculum, tiny_blueprint  # noqa: F401
from tutoring.exams.models import Item
from tutoring.exams.services import attempt_submit, mock_start
from tutoring.exams.services.scoring import key_text
from tutoring.tutor.models import Conversation
from tutoring.tutor.services.items import TutorOff, tutor_item_context

pytestmark = pytest.mark.django_db


def test_after_a_wrong_answer_the_tutor_opens_on_the_item_with_what_was_answered(
    people: People,
    bank,  # noqa: F811
) -> None:
    item = Item.objects.get(code="chem-019")
    assert item.type == "choice"
    wrong = str((int(item.current.content["answer"]) + 1) % 4)
    reference = f"exams:{item.pk}"

    # Before answering: the question and options only.
    before = tutor_item_context(student=people.student, item_ref=reference)
    assert before == TutorItem(
        stem=item.current.stem, options=tuple(item.current.content["options"])
    )

    client = client_for(people.student)
    practice = reverse("exams:practice_item", kwargs={"pk": item.pk}) + f"?topic={item.topic_id}"
    page = client.post(practice, {"choice": wrong}).content.decode()
    assert f'name="item" value="exams:{item.pk}"' in page and "data-ask-tutor" in page

    after = tutor_item_context(student=people.student, item_ref=reference)
    assert after is not None and after.is_correct is False
    assert after.key == key_text(item_type=item.type, content=item.current.content)
    assert after.student_answer and after.explanation == item.current.explanation

    response = client.post(reverse("tutor:conversation_start"), {"item": reference})
    chat = Conversation.objects.get(user=people.student)
    assert response.status_code == 302 and response["Location"].endswith(f"/{chat.pk}/")
    assert chat.item_ref == reference and chat.title == item.current.stem[: len(chat.title)]


def test_the_tutor_is_off_for_the_questions_of_an_open_exam(people: People, tiny_blueprint) -> None:  # noqa: F811
    attempt = mock_start(student=people.student, blueprint_id=tiny_blueprint.pk, seed=1)
    version = attempt.test.test_items.first().version
    reference = f"exams:{version.item_id}"
    with pytest.raises(TutorOff) as off:
        tutor_item_context(student=people.student, item_ref=reference)
    assert off.value.code == "exam_open"
    response = client_for(people.student).post(
        reverse("tutor:conversation_start"), {"item": reference}
    )
    assert response.status_code == 403
    assert not Conversation.objects.exists()
    # Another student (no exam open) may ask about the same question.
    assert tutor_item_context(student=people.student_other, item_ref=reference) is not None
    # Once submitted, the student may go through it with the tutor.
    attempt_submit(attempt_id=attempt.pk, user=people.student)
    assert tutor_item_context(student=people.student, item_ref=reference) is not None


def test_unknown_or_unapproved_items_are_not_found(people: People, bank) -> None:  # noqa: F811
    from django.core.exceptions import ValidationError

    item = Item.objects.get(code="chem-019")
    Item.objects.filter(pk=item.pk).update(status=Item.Status.DRAFT)
    for reference in (f"exams:{item.pk}", "exams:999999", "exams:abc"):
        with pytest.raises(ValidationError) as missing:
            tutor_item_context(student=people.student, item_ref=reference)
        assert missing.value.code == "item_unknown"
