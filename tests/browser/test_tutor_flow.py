"""The tutor as a student and their teacher meet it, in Debian's Chromium.

From a practice item: a student who has just answered wrongly asks the tutor why, gets a
streamed hint with a citation link that opens the passage, asks again and gets the
explanation; with a real mock exam open on a question, the tutor is off for it. From a
lesson: a streamed reply with a citation, a stronger hint, something
worrying (the fixed reply, no model); during a mock exam the tutor says it is off; the
teacher finds the flagged chat first and leaves a note.

The model is the tiny random-weight Gemma 3 through the real local engine (short replies to
stay fast): its words are gibberish, so what this proves is the mechanics — pieces stream in,
the citations come from the retrieved passages, the language check marks the reply.
"""

from __future__ import annotations

import pytest

from soro_web.curriculum.models import Grade, Subject
from soro_web.lessons.services import lesson_create, lesson_publish
from tests.browser.conftest import open_menu
from tests.browser.test_people_flows import sign_in
from tests.conftest import People
from tests.exams.conftest import bank, curriculum  # noqa: F401 - fixtures
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
from tutoring.exams.models import Blueprint, Item, PracticeAnswer
from tutoring.exams.services import mock_start
from tutoring.services import DEMO_TEXTBOOKS, textbook_ingest_run, textbook_register_file
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
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )

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


def test_student_asks_the_tutor_why_after_a_wrong_practice_answer(  # type: ignore[no-untyped-def]
    page,
    people: People,
    bank,  # noqa: F811
    tiny_version,  # noqa: F811
    settings,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a double: the real tiny model answers, with a shorter reply budget (as above).
    monkeypatch.setattr("tutoring.tutor.services.turns.REPLY_TOKENS", {"tutor": 16, "teacher": 16})
    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    edition = textbook_register_file(
        path=DEMO_TEXTBOOKS / "math-7.md",
        title="Алгебра 7",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    assert edition is not None
    textbook_ingest_run(edition_id=edition.pk)
    item = Item.objects.get(code="math-010")  # (−3)⁴ = ?  options −81, −12, 12, 81; key 81
    version = item.current
    assert version is not None

    sign_in(page, "student")
    page.goto(f"/exams/practice/{item.pk}/?topic={item.topic_id}")
    page.locator("input[name=choice]").nth(0).check()  # −81: the classic mistake
    page.click("#question button[type=submit]")
    page.wait_for_selector(".feedback.wrong")
    assert PracticeAnswer.objects.get(student=people.student, item=item).is_correct is False

    page.click("[data-ask-tutor]")
    page.wait_for_url("**/tutor/*/")
    conversation = Conversation.objects.get(user=people.student)
    assert conversation.topic_id == item.topic_id
    assert version.stem in page.inner_text("main")  # the chat opens on the question

    send(page, "Чаро −81 нодуруст аст?", replies=1)
    reply = page.locator("#chat li.assistant").first
    link = reply.locator("a[data-citation]").first
    assert "Алгебра 7" in link.inner_text()
    # The student has tried: a stronger hint first, the explanation when they ask again.
    assert conversation.messages.get(role="assistant").hint_level == 2

    link.click()
    page.wait_for_url("**/passages/*/")
    assert "Алгебра 7" in page.inner_text("h1")
    page.go_back()
    page.wait_for_selector("#chat-form")

    send(page, "Боз як ишора диҳед, лутфан.", replies=2)
    levels = list(
        conversation.messages.filter(role="assistant").values_list("hint_level", flat=True)
    )
    assert levels == [2, 3]

    # A mock exam with a question in it is open: the tutor is off for that question, says
    # why, and no chat is opened.
    blueprint = Blueprint.objects.create(
        code="one-math",
        name="Як савол",
        minutes=5,
        sections=[{"subject": "math", "counts": {"choice": 1}, "points": {"choice": 1}}],
    )
    attempt = mock_start(student=people.student, blueprint_id=blueprint.pk, seed=1)
    in_exam = attempt.test.test_items.get().version.item_id
    chats = Conversation.objects.count()
    page.evaluate(
        """item => {
          const form = Object.assign(
            document.createElement('form'), {method: 'post', action: '/tutor/new/'});
          const token = document.querySelector('#chat-form input[name=csrfmiddlewaretoken]');
          form.innerHTML = token.outerHTML + '<input name="item">';
          form.elements.namedItem('item').value = item;
          document.body.appendChild(form);
          form.submit();
        }""",
        f"exams:{in_exam}",
    )
    page.wait_for_selector("[data-tutor-off]")
    assert page.inner_text("[data-tutor-off]").strip()
    assert Conversation.objects.count() == chats
