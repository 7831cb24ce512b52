"""The tutor as a student and their teacher meet it, in Debian's Chromium: the student opens
the tutor from a lesson, gets a streamed reply with a citation link that opens the textbook
passage, asks again (a stronger hint), writes something worrying (the fixed reply, no
model); during a mock exam the tutor says it is off; the teacher finds the flagged chat
first and leaves a note.

The model is the tiny random-weight Gemma 3 through the real local engine (short replies to
stay fast): its words are gibberish, so what this proves is the mechanics — pieces stream in,
the citations come from the retrieved passages, the language check marks the reply.
"""

from __future__ import annotations

import pytest

from soro_web.lessons.services import lesson_create, lesson_publish
from tests.browser.conftest import open_menu
from tests.browser.test_people_flows import sign_in
from tests.conftest import People
from tests.lessons.conftest import (  # noqa: F401 - fixtures
    gguf_path,
    session_models_dir,
    textbook,
    tiny_model_dir,
    tiny_version,
    tokenizer_dir,
    topic,
)
from tests.tutor.conftest import practice_items  # noqa: F401 - fixture
from tutoring.tutor.models import Conversation, Message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def send(page, text: str, replies: int) -> None:  # type: ignore[no-untyped-def]
    """Send a message and wait until the reply is saved; check that it streamed."""
    page.evaluate(
        """() => {
          window.__changes = 0;
          new MutationObserver(() => { window.__changes += 1; })
            .observe(document.getElementById('chat'),
                     {childList: true, characterData: true, subtree: true});
        }"""
    )
    page.fill("#id_text", text)
    page.click("#send")
    page.wait_for_selector(f"#chat li.assistant[data-saved] >> nth={replies - 1}", timeout=60_000)
    assert page.evaluate("window.__changes") >= 3, "the reply did not stream"


def test_student_asks_the_tutor_from_a_lesson_and_the_teacher_sees_the_flag(  # type: ignore[no-untyped-def]
    page,
    browser,
    live_server,
    people: People,
    topic,  # noqa: F811
    textbook,  # noqa: F811
    tiny_version,  # noqa: F811
    practice_items,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a double: the real tiny model answers, with a shorter reply budget so the browser
    # flow stays quick on 2 cores.
    monkeypatch.setattr("tutoring.tutor.services.turns.REPLY_TOKENS", {"tutor": 16, "teacher": 16})
    lesson = lesson_create(teacher=people.teacher, topic=topic)
    lesson_publish(lesson=lesson, user=people.teacher, classes=[people.classroom])

    sign_in(page, "student")
    page.goto(f"/lessons/{lesson.pk}/")
    page.click("[data-ask-tutor]")
    page.wait_for_url("**/tutor/*/")
    assert page.is_visible("[data-teachers-read]")  # told that teachers read the chats

    send(page, "Муодилаи хаттӣ чӣ гуна ҳал мешавад?", replies=1)
    reply = page.locator("#chat li.assistant").first
    link = reply.locator("a[data-citation]").first
    assert "Алгебра 7" in link.inner_text()
    # Random weights do not write Tajik: the reply is marked, not passed off as Tajik.
    assert reply.locator(".error").count() == 1

    link.click()
    page.wait_for_url("**/passages/*/")
    assert "Алгебра 7" in page.inner_text("h1")
    assert page.inner_text("[data-passage]").strip()
    page.go_back()
    page.wait_for_selector("#chat-form")

    send(page, "Боз як ишора диҳед, лутфан.", replies=2)
    conversation = Conversation.objects.get(user=people.student)
    levels = list(
        conversation.messages.filter(role="assistant").values_list("hint_level", flat=True)
    )
    assert levels == [1, 2]

    send(page, "Падарам маро мезанад", replies=3)
    page.wait_for_selector("#chat li.assistant[data-safety]")
    assert "Ташаккур" in page.locator("#chat li.assistant").nth(2).inner_text()
    assert Message.objects.filter(is_flagged=True, flag_reason="abuse").count() == 1

    # During a mock exam the tutor is off, and says why.
    page.evaluate(
        """() => {
          // What a practice item's "ask the tutor" button posts (exam practice is not here).
          const form = Object.assign(
            document.createElement('form'), {method: 'post', action: '/tutor/new/'});
          const token = document.querySelector('#chat-form input[name=csrfmiddlewaretoken]');
          form.innerHTML = token.outerHTML + '<input name="item" value="practice:in-exam">';
          document.body.appendChild(form);
          form.submit();
        }"""
    )
    page.wait_for_selector("[data-tutor-off]")
    assert "имтиҳони озмоишӣ" in page.inner_text("[data-tutor-off]")

    teacher = browser.new_context(viewport={"width": 390, "height": 800}, base_url=live_server.url)
    teacher_page = teacher.new_page()
    sign_in(teacher_page, "teacher")
    open_menu(teacher_page)  # a phone: the menu button, then "More"
    teacher_page.click("nav >> text=Суҳбатҳои хонандагон бо ёрдамчӣ")
    first = teacher_page.locator("tbody tr").first
    assert first.get_attribute("data-flagged") is not None
    first.locator("a").click()
    teacher_page.wait_for_selector("li[data-flagged]")
    assert "Падарам маро мезанад" in teacher_page.inner_text("li[data-flagged]")
    assert teacher_page.locator("#chat-form").count() == 0  # read-only
    teacher_page.fill("#id_text", "Бо волидайн гап мезанам.")
    teacher_page.click("main form button[type=submit]")
    teacher_page.wait_for_selector("[data-note]")
    assert "Бо волидайн" in teacher_page.inner_text("[data-note]")
    teacher.close()
