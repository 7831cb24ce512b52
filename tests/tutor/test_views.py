"""Tutor pages and API: streaming from the tiny model, the page without JavaScript, the
lesson's "ask the tutor" button, refusals (limit, exam), the teachers' and staff views."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from soro_web.lessons.services import lesson_create, lesson_publish
from tests.conftest import People, client_for
from tests.soro_web.test_page_weight import page_weight
from tests.tutor.conftest import TAJIK_REPLY, RecordingClient
from tutoring.tutor import services
from tutoring.tutor.models import Conversation, Message

pytestmark = pytest.mark.django_db

CHAT_PAGE_BUDGET = 40 * 1024


def events_of(response: Any) -> list[dict[str, Any]]:
    assert response["Content-Type"] == "application/x-ndjson" and response.streaming
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingClient:
    """The active model replaced by the recording client (see its docstring for why)."""
    client = RecordingClient()
    monkeypatch.setattr("tutoring.tutor.services.turns.active_model_client", lambda: client)
    return client


def test_the_lesson_page_opens_the_tutor_on_the_lessons_topic(people: People, topic) -> None:  # type: ignore[no-untyped-def]
    lesson = lesson_create(teacher=people.teacher, topic=topic)
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    student = client_for(people.student)
    page = student.get(reverse("lessons:lesson_view", kwargs={"pk": lesson.pk})).content.decode()
    assert "data-ask-tutor" in page
    teacher_page = client_for(people.teacher).get(
        reverse("lessons:lesson_view", kwargs={"pk": lesson.pk})
    )
    assert "data-ask-tutor" not in teacher_page.content.decode()
    response = student.post(reverse("tutor:conversation_start"), {"lesson": lesson.pk})
    conversation = Conversation.objects.get()
    assert response.url == reverse("tutor:conversation_detail", kwargs={"pk": conversation.pk})
    assert (conversation.topic, conversation.lesson_id, conversation.kind) == (
        topic,
        lesson.pk,
        "tutor",
    )
    again = student.post(reverse("tutor:conversation_start"), {"lesson": lesson.pk})
    assert again.url == response.url and Conversation.objects.count() == 1
    # A lesson not shared with the student is not a way in.
    other = client_for(people.student_other)
    assert other.post(reverse("tutor:conversation_start"), {"lesson": lesson.pk}).status_code == 404


def test_the_chat_streams_from_the_tiny_model(  # type: ignore[no-untyped-def]
    people: People, textbook, topic, tiny_version, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short reply keeps the test fast on a busy CPU; the path is the real local engine.
    monkeypatch.setattr("tutoring.tutor.services.turns.REPLY_TOKENS", {"tutor": 12, "teacher": 12})
    conversation = services.tutor_conversation_start(user=people.student, topic_id=topic.pk)
    response = client_for(people.student).post(
        reverse("tutor:conversation_stream", kwargs={"pk": conversation.pk}),
        {"text": "Муодилаи хаттӣ чист?"},
        HTTP_ACCEPT="application/x-ndjson",
    )
    events = events_of(response)
    assert events[0]["type"] == "start" and events[0]["sources"]
    assert sum(e["type"] == "text" for e in events) >= 2
    assert events[-1]["type"] == "saved"
    reply = conversation.messages.get(role="assistant")
    conversation.refresh_from_db()
    assert conversation.model_version == "local:tiny"
    # Random weights do not write Tajik: the reply is kept and marked, not passed off.
    assert reply.is_expected_language is False and events[-1]["warning"]
    page = client_for(people.student).get(
        reverse("tutor:conversation_detail", kwargs={"pk": conversation.pk})
    )
    assert "data-citation" in page.content.decode()


def test_the_chat_works_without_javascript(people: People, recorded: RecordingClient) -> None:
    conversation = services.tutor_conversation_start(user=people.student)
    client = client_for(people.student)
    url = reverse("tutor:conversation_detail", kwargs={"pk": conversation.pk})
    response = client.post(url, {"text": "Муодила <b>чист</b>?"}, follow=True)
    assert response.redirect_chain[-1][0] == url
    html = response.content.decode()
    assert "Муодила &lt;b&gt;чист&lt;/b&gt;?" in html  # escaped
    assert TAJIK_REPLY.split("[1]")[0].strip() in html
    assert "data-teachers-read" in html
    assert client.post(url, {"text": ""}).status_code == 422


def test_refusals_are_clear(
    people: People, recorded: RecordingClient, settings, practice_items
) -> None:  # type: ignore[no-untyped-def]
    settings.SORO_TUTOR_DAILY_MESSAGES = 1
    conversation = services.tutor_conversation_start(user=people.student)
    client = client_for(people.student)
    stream = reverse("tutor:conversation_stream", kwargs={"pk": conversation.pk})
    assert events_of(client.post(stream, {"text": "Муодила чист?"}))[-1]["type"] == "saved"
    limited = client.post(stream, {"text": "Боз?"})
    assert limited.status_code == 429 and limited.json()["code"] == "daily_limit"
    assert "1" in limited.json()["errors"]["text"][0]
    # During a mock exam the tutor says it is off.
    off = client.post(reverse("tutor:conversation_start"), {"item": "practice:in-exam"})
    assert off.status_code == 403
    assert "Ёрдамчӣ ҳангоми имтиҳони озмоишӣ хомӯш аст." in off.content.decode()


def test_teachers_read_flagged_chats_first_and_staff_see_counts(
    people: People, recorded: RecordingClient
) -> None:
    calm = services.tutor_conversation_start(user=people.student)
    client = client_for(people.student)
    client.post(reverse("tutor:conversation_detail", kwargs={"pk": calm.pk}), {"text": "Салом"})
    worried = Conversation.objects.create(user=people.student, kind="tutor", title="Дар хона")
    client.post(
        reverse("tutor:conversation_detail", kwargs={"pk": worried.pk}),
        {"text": "Падарам маро мезанад"},
    )
    assert len(recorded.requests) == 1  # the flagged message never reached the model
    teacher = client_for(people.teacher)
    html = teacher.get(reverse("tutor:student_chats")).content.decode()
    flagged_row = html.index(reverse("tutor:student_chat_detail", kwargs={"pk": worried.pk}))
    calm_row = html.index(reverse("tutor:student_chat_detail", kwargs={"pk": calm.pk}))
    assert html.index("data-flagged") < flagged_row < calm_row
    detail = teacher.get(reverse("tutor:student_chat_detail", kwargs={"pk": worried.pk}))
    assert "Падарам маро мезанад" in detail.content.decode()
    assert "<textarea" in detail.content.decode()  # the note form; the chat has no message form
    assert "chat-form" not in detail.content.decode()
    teacher.post(
        reverse("tutor:note_add", kwargs={"pk": worried.pk}), {"text": "Бо модараш гап задам."}
    )
    assert worried.notes.get().text == "Бо модараш гап задам."
    assert (
        "Бо модараш"
        not in client.get(
            reverse("tutor:conversation_detail", kwargs={"pk": worried.pk})
        ).content.decode()
    )
    staff = client_for(people.staff).get(reverse("tutor:student_chats")).content.decode()
    assert 'data-count="flagged">1<' in staff and 'data-count="conversations">2<' in staff
    assert "Падарам" not in staff and "Дар хона" not in staff


def test_the_api_starts_a_chat_and_streams_a_reply(
    people: People, recorded: RecordingClient, practice_items: None
) -> None:
    client = client_for(people.student)
    created = client.post("/api/tutor/conversations", {}, content_type="application/json")
    assert created.status_code == 201 and created.json()["kind"] == "tutor"
    pk = created.json()["id"]
    response = client.post(
        f"/api/tutor/conversations/{pk}/messages",
        {"text": "Муодила чист?"},
        content_type="application/json",
    )
    events = events_of(response)
    assert [e["type"] for e in events][:2] == ["start", "text"]
    assert events[-2]["type"] == "done" and events[-1]["type"] == "saved"
    detail = client.get(f"/api/tutor/conversations/{pk}").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"]
    assert detail["messages"][1]["text"].startswith("Аввал фикр кунед")
    off = client.post(
        "/api/tutor/conversations",
        {"item_ref": "practice:in-exam"},
        content_type="application/json",
    )
    assert off.status_code == 403 and off.json()["code"] == "exam_open"
    safety = client.post(
        f"/api/tutor/conversations/{pk}/messages",
        {"text": "хочу умереть"},
        content_type="application/json",
    )
    assert events_of(safety)[-1] == {
        "type": "saved",
        "message": Message.objects.filter(is_safety_reply=True).get().pk,
        "flagged": True,
    }


def test_the_chat_page_is_light(people: People, recorded: RecordingClient) -> None:
    conversation = services.tutor_conversation_start(user=people.student)
    for _ in range(10):
        plan = services.tutor_turn_prepare(
            conversation=conversation, user=people.student, text="Муодила чист?"
        )
        list(services.tutor_turn_stream(plan=plan))
    assert conversation.messages.count() == 20
    html = (
        client_for(people.student)
        .get(reverse("tutor:conversation_detail", kwargs={"pk": conversation.pk}))
        .content.decode()
    )
    total, assets = page_weight(html)
    assert any("tutor.js" in asset for asset in assets)
    assert total <= CHAT_PAGE_BUDGET, f"chat page: {total} bytes compressed"


def test_insert_into_a_lesson_section_from_the_teacher_chat(
    people: People, recorded: RecordingClient, topic
) -> None:  # type: ignore[no-untyped-def]
    lesson = lesson_create(teacher=people.teacher, topic=topic)
    section = lesson.sections.get(kind="objectives")
    chat = services.tutor_conversation_start(user=people.teacher)
    teacher = client_for(people.teacher)
    teacher.post(reverse("tutor:conversation_detail", kwargs={"pk": chat.pk}), {"text": "Салом"})
    reply = chat.messages.get(role="assistant")
    page = teacher.get(reverse("tutor:conversation_detail", kwargs={"pk": chat.pk}))
    insert_url = reverse("tutor:reply_insert", kwargs={"pk": chat.pk, "message_pk": reply.pk})
    assert insert_url in page.content.decode()
    choose = teacher.get(insert_url).content.decode()
    assert 'data-insert-section="objectives"' in choose
    done = teacher.post(insert_url, {"lesson": lesson.pk, "section": section.pk})
    assert done.url == f"/lessons/{lesson.pk}/edit/#section-{section.pk}"
    section.refresh_from_db()
    assert section.proposal == reply.text and section.body == ""
