"""The lessons API: exact JSON, the same permissions as the pages, 409 on a stale revision."""

from __future__ import annotations

import json

from soro_web.lessons.models import Lesson
from soro_web.lessons.services import lesson_publish
from tests.conftest import People, client_for


def put(client, path: str, data: dict):  # type: ignore[no-untyped-def]
    return client.put(path, json.dumps(data), content_type="application/json")


def post(client, path: str, data: dict):  # type: ignore[no-untyped-def]
    return client.post(path, json.dumps(data), content_type="application/json")


def test_create_read_and_list(people: People, topic) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    response = post(client, "/api/lessons", {"topic": topic.code, "duration_minutes": 40})
    assert response.status_code == 201
    body = response.json()
    lesson = Lesson.objects.get()
    sections = body.pop("sections")
    assert body == {
        "id": lesson.pk,
        "title": "Муодилаи хаттӣ бо як тағйирёбанда",
        "duration_minutes": 40,
        "language": "tg",
        "status": "draft",
        "revision": 1,
        "topic": "math-7-02-01",
        "subject": "math",
        "grade": 7,
        "teacher": "Фирӯз Ҷӯраев",
        "classes": [],
        "updated_at": body["updated_at"],
        "published_version_at": None,
    }
    assert len(sections) == 14
    assert sections[0] == {
        "id": lesson.sections.get(kind="objectives").pk,
        "kind": "objectives",
        "title": "Мақсадҳои дарс",
        "body": "",
        "position": 0,
        "is_grounded": True,
        "revision": 1,
        "audience": "students",
        "citations": [],
    }
    assert client.get(f"/api/lessons/{lesson.pk}").json()["sections"] == sections
    assert [item["id"] for item in client.get("/api/lessons").json()] == [lesson.pk]
    assert client_for(people.teacher_other).get("/api/lessons").json() == []
    bad = post(client, "/api/lessons", {"topic": "no-such-topic"})
    assert bad.status_code == 422 and Lesson.objects.count() == 1


def test_section_update_and_conflict(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    section = lesson.sections.get(kind="objectives")
    path = f"/api/lessons/{lesson.pk}/sections/{section.pk}"
    response = put(client, path, {"body": "Мақсад", "revision": 1})
    assert response.status_code == 200
    assert response.json() == {
        "id": section.pk,
        "kind": "objectives",
        "title": "Мақсадҳои дарс",
        "body": "Мақсад",
        "position": 0,
        "is_grounded": True,
        "revision": 2,
        "audience": "students",
        "citations": [],
    }
    stale = put(client, path, {"body": "Дигар", "revision": 1})
    assert stale.status_code == 409
    assert stale.json()["section"]["body"] == "Мақсад"
    assert "revision 1" in stale.json()["detail"] or "1" in stale.json()["detail"]
    assert lesson.sections.get(kind="objectives").body == "Мақсад"


def test_publish_and_what_students_read(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    path = f"/api/lessons/{lesson.pk}/publish"
    foreign = post(client, path, {"classes": [people.classroom_other.pk]})
    assert foreign.status_code == 422
    # The sections are empty: refused (422, listed) until the teacher says publish anyway.
    asked = post(client, path, {"classes": [people.classroom.pk]})
    assert asked.status_code == 422 and "publish_anyway" in asked.json()["detail"]
    response = post(client, path, {"classes": [people.classroom.pk], "publish_anyway": True})
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["classes"] == [people.classroom.pk]
    student = client_for(people.student)
    assert [item["id"] for item in student.get("/api/lessons").json()] == [lesson.pk]
    assert student.get(f"/api/lessons/{lesson.pk}").status_code == 200
    assert client_for(people.student_other).get(f"/api/lessons/{lesson.pk}").status_code == 404
    section = lesson.sections.first()
    denied = put(
        student, f"/api/lessons/{lesson.pk}/sections/{section.pk}", {"body": "x", "revision": 1}
    )
    assert denied.status_code == 403


def test_bearer_token_clients_use_the_same_rules(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    from soro_web.accounts.services import api_token_create

    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    _token, key = api_token_create(user=people.student)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(f"/api/lessons/{lesson.pk}").status_code == 200
    _token, key = api_token_create(user=people.teacher_other)
    other = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert other.get(f"/api/lessons/{lesson.pk}").status_code == 404
