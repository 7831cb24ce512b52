"""The exams API: the same rules as the pages, keys only with feedback or after submission."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from tests.conftest import People, client_for
from tutoring.exams.models import Attempt, AttemptAnswer, Item


def send(client, method: str, url: str, data: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    return getattr(client, method)(url, json.dumps(data or {}), content_type="application/json")


def test_a_mock_exam_through_the_api(people: People, tiny_blueprint) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    response = send(client, "post", "/api/exams/attempts", {"blueprint_id": tiny_blueprint.pk})
    assert response.status_code == 201
    attempt = response.json()
    assert len(attempt["questions"]) == 3 and attempt["seconds_left"] > 290
    text = json.dumps(attempt, ensure_ascii=False)
    assert '"answer": null' in text and "pairs" not in text and "explanation" not in text
    matching = next(q for q in attempt["questions"] if q["type"] == "matching")
    url = f"/api/exams/attempts/{attempt['id']}/answers/{matching['position']}"
    missing = send(client, "put", url, {"pairs": {"0": 1}})
    assert missing.status_code == 422 and not AttemptAnswer.objects.exists()
    saved = send(client, "put", url, {"pairs": {"0": 0, "1": 1, "2": 2, "3": 3}})
    assert saved.status_code == 200 and saved.json()["answer"] == {
        "pairs": {"0": 0, "1": 1, "2": 2, "3": 3}
    }
    # another device resumes with the answer kept
    again = client_for(people.student).get(f"/api/exams/attempts/{attempt['id']}").json()
    kept = next(q for q in again["questions"] if q["position"] == matching["position"])
    assert kept["answer"] == {"pairs": {"0": 0, "1": 1, "2": 2, "3": 3}}
    # another student sees nothing of it
    other = client_for(people.student_other)
    assert other.get(f"/api/exams/attempts/{attempt['id']}").status_code == 404
    assert send(other, "put", url, {"pairs": {"0": 0, "1": 1, "2": 2, "3": 3}}).status_code == 404
    assert client.get(f"/api/exams/attempts/{attempt['id']}/review").status_code == 403
    submitted = send(client, "post", f"/api/exams/attempts/{attempt['id']}/submit").json()
    assert submitted["submitted_at"] and submitted["max_score"] == 5.0
    twice = send(client, "post", f"/api/exams/attempts/{attempt['id']}/submit").json()
    assert twice == submitted
    review = client.get(f"/api/exams/attempts/{attempt['id']}/review").json()
    assert len(review["rows"]) == 3 and all(
        row["key"] and row["explanation"] for row in review["rows"]
    )
    assert review["attempt"]["scaled"] == submitted["scaled"]


def test_answers_after_the_deadline_are_refused(people: People, tiny_blueprint) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    attempt = send(
        client, "post", "/api/exams/attempts", {"blueprint_id": tiny_blueprint.pk}
    ).json()
    Attempt.objects.filter(pk=attempt["id"]).update(deadline=timezone.now() - timedelta(seconds=1))
    response = send(
        client, "put", f"/api/exams/attempts/{attempt['id']}/answers/1", {"choice": "А"}
    )
    assert response.status_code == 422 and "Вақт тамом шуд" in response.json()["detail"][0]
    assert Attempt.objects.get(pk=attempt["id"]).is_auto_submitted
    assert not AttemptAnswer.objects.exists()


def test_practice_through_the_api(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    item = Item.objects.get(code="chem-019")
    question = client.get(f"/api/exams/practice/next?topic_id={item.topic_id}").json()
    assert "answer" not in {k for k, v in question.items() if v is not None}
    feedback = send(
        client, "post", f"/api/exams/practice/items/{item.pk}/answer", {"choice": "В"}
    ).json()
    assert feedback["is_correct"] is True and feedback["key"].startswith("В)")
    topics = client.get("/api/exams/practice/topics").json()
    assert next(t for t in topics if t["topic_id"] == item.topic_id)["mastered"] == 1
    assert (
        send(client, "post", "/api/exams/practice/items/999999/answer", {"choice": 1}).status_code
        == 404
    )
    teacher = client_for(people.teacher)
    assert teacher.get("/api/exams/practice/topics").status_code == 403
