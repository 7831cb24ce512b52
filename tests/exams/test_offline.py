"""Offline practice: the pack holds only practice items; synced answers are stored once."""

from __future__ import annotations

import json
import uuid

from django.urls import reverse

from tests.conftest import People, client_for
from tutoring.exams.models import Item, PracticeAnswer
from tutoring.exams.services import mock_start


def test_the_pack_has_the_topics_approved_items_with_keys(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    item = Item.objects.get(code="chem-019")
    Item.objects.filter(topic=item.topic).exclude(pk=item.pk).update(status="draft")
    pack = (
        client_for(people.student)
        .get(reverse("exams:practice_pack", kwargs={"pk": item.topic_id}))
        .json()
    )
    assert [entry["id"] for entry in pack["items"]] == [item.pk]
    assert pack["items"][0]["key"] == {"options": item.current.content["options"], "answer": 2}
    assert pack["items"][0]["explanation"] == item.current.explanation


def test_synced_answers_are_stored_exactly_once_and_scored_again(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    item = Item.objects.get(code="chem-019")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    answers = [
        {"client_id": first, "item_id": item.pk, "answer": {"choice": 2}},
        {"client_id": second, "item_id": item.pk, "answer": {"choice": 0}},
        {"client_id": "not-an-id", "item_id": item.pk, "answer": {"choice": 0}},
        {"client_id": str(uuid.uuid4()), "item_id": 999999, "answer": {"choice": 0}},
    ]
    url = reverse("exams:practice_sync")
    body = json.dumps({"answers": answers})
    reply = client.post(url, body, content_type="application/json").json()
    assert (reply["stored"], reply["repeated"], len(reply["refused"])) == (2, 0, 2)
    again = client.post(url, body, content_type="application/json").json()
    assert (again["stored"], again["repeated"]) == (0, 2)
    stored = PracticeAnswer.objects.order_by("answered_at", "pk")
    assert [(str(a.client_id), a.is_correct) for a in stored] == [(first, True), (second, False)]
    bad = client.post(url, "{", content_type="application/json")
    assert bad.status_code == 422 and PracticeAnswer.objects.count() == 2


def test_a_mock_exams_keys_are_never_in_a_pack(people: People, tiny_blueprint) -> None:  # type: ignore[no-untyped-def]
    attempt = mock_start(student=people.student, blueprint_id=tiny_blueprint.pk, seed=1)
    tested = attempt.test.test_items.first().version.item
    tested.status = "draft"  # a class-test-only item: not approved for practice
    tested.save()
    pack = (
        client_for(people.student)
        .get(reverse("exams:practice_pack", kwargs={"pk": tested.topic_id}))
        .json()
    )
    assert tested.pk not in [entry["id"] for entry in pack["items"]]
