"""The site as a whole, in Debian's Chromium: on a phone (390×844) no page a student can open
is wider than the screen, the menu folds behind a button, and the teacher's pages with
tables fit too; at 1280×800 the teacher's menu stays on one line; the search says plainly
when no word matched and shows a real empty state.

The data are the demo school (``manage.py seed_demo``), its Algebra 7 textbook indexed
(lexical half only: the walk is about layout), the demo question bank, and one lesson the
teacher published to 7А."""

from __future__ import annotations

from pathlib import Path

import pytest

from soro_web.accounts.models import Classroom, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Elements whose right edge passes the viewport (or wider than it), ignoring what is hidden on
# purpose (the skip link waits off-screen until focused; screen-reader-only text).
TOO_WIDE = """() => {
  const limit = document.documentElement.clientWidth;
  const wide = [];
  for (const element of document.querySelectorAll('body *')) {
    if (element.closest('.skip, .sr-only')) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > limit + 1 || box.width > limit + 1) {
      const name = `${element.tagName.toLowerCase()}.${element.className}`;
      wide.push(`${name} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return {limit, scroll: document.documentElement.scrollWidth, wide: wide.slice(0, 8)};
}"""


@pytest.fixture
def school(settings, tmp_path: Path, transactional_db):  # type: ignore[no-untyped-def]
    from soro_web.curriculum.models import Grade, Subject, Topic
    from soro_web.demo import demo_seed
    from soro_web.lessons.services import lesson_create, lesson_publish
    from tutoring.exams.services import DEMO_BANK, bank_import
    from tutoring.services import DEMO_TEXTBOOKS, textbook_ingest_run, textbook_register_file

    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    demo_seed()
    edition = textbook_register_file(
        path=DEMO_TEXTBOOKS / "math-7.md",
        title="Алгебра",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    textbook_ingest_run(edition_id=edition.pk)
    bank_import(text=DEMO_BANK.read_text(encoding="utf-8"), file_format="json", approve=True)
    teacher = User.objects.get(username="muallim")
    topic = Topic.objects.leaves().filter(subject__code="math", grade__number=7).first()
    lesson = lesson_create(teacher=teacher, topic=topic)
    lesson_publish(
        lesson=lesson,
        user=teacher,
        classes=[Classroom.objects.get(join_code="MATH7A")],
        publish_anyway=True,
    )
    return lesson


def sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    from soro_web.demo import DEMO_PASSWORD

    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/dashboard/")


def assert_fits(page, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(path)
    page.wait_for_load_state()
    report = page.evaluate(TOO_WIDE)
    assert not report["wide"] and report["scroll"] <= report["limit"], (path, report)


def student_chat_and_work() -> list[str]:
    """A tutor chat with a long reply and a written assignment of the student's class: the
    two student pages that need data of their own."""
    from soro_web.grading.services.demo import grading_demo_load
    from tutoring.tutor.models import Conversation, Message

    student = User.objects.get(username="shogird")
    chat = Conversation.objects.create(user=student, kind="tutor", title="Муодилаҳои хаттӣ")
    Message.objects.create(conversation=chat, role="user", text="Муодила чист?")
    Message.objects.create(
        conversation=chat,
        role="assistant",
        text="Муодилаи хаттӣ " * 40 + "https://example.org/" + "x" * 120,
        hint_level=1,
    )
    work = grading_demo_load(
        classroom=Classroom.objects.get(join_code="MATH7A"), with_answers=False
    )
    return [f"/tutor/{chat.pk}/", f"/my-work/{work.pk}/"]


def test_every_page_a_student_can_open_fits_a_phone(browser, live_server, school) -> None:  # type: ignore[no-untyped-def]
    extra = student_chat_and_work()
    context = browser.new_context(viewport=PHONE, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        for path in ["/", "/accounts/login/", "/accounts/signup/", "/no-such-page/"]:
            assert_fits(page, path)
        # The check itself sees an element wider than the phone.
        page.evaluate(
            "() => { const wide = document.createElement('div'); wide.style.width = '600px';"
            " wide.textContent = 'x'; document.querySelector('main').append(wide); }"
        )
        assert page.evaluate(TOO_WIDE)["wide"]
        sign_in(page, "shogird")
        # The menu is folded behind a button on a phone, and opens.
        assert not page.is_visible("#main-nav")
        page.click(".menu-toggle")
        assert page.is_visible("#main-nav a[href='/lessons/']")
        assert page.get_attribute(".menu-toggle", "aria-expanded") == "true"
        report = page.evaluate(TOO_WIDE)
        assert not report["wide"], ("the open menu", report)

        paths = [
            "/dashboard/",
            "/lessons/",
            f"/lessons/{school.pk}/",
            "/exams/",
            "/grading/",
            "/tutor/",
            "/classes/join/",
            "/search/",
            "/search/?q=%D0%A1%D0%B0%D0%BC%D0%B0%D1%80%D2%9B%D0%B0%D0%BD%D0%B4+%D1%82%D0%B5%D0%BD%D0%B3%D0%BB%D0%B0%D0%BC%D0%B0",
            "/search/?q=qwertyzzz",
            "/curriculum/",
            "/curriculum/math/7/",
            "/lessons/999999/",
            *extra,
        ]
        for path in paths:
            assert_fits(page, path)
        # The class card on the dashboard leads somewhere: the class's topics.
        page.goto("/dashboard/")
        page.click("ul.cards li a")
        page.wait_for_url("**/curriculum/math/7/")
        assert "math-7-" not in page.inner_text("main")  # no internal codes for students
        # Exam practice, from the first topic offered.
        page.goto("/exams/")
        practice = page.locator("a[href^='/exams/practice/?topic=']")
        if practice.count():
            practice.first.click()
            page.wait_for_load_state()
            report = page.evaluate(TOO_WIDE)
            assert not report["wide"], (page.url, report)

        # The teacher's pages with tables fit as well.
        context.clear_cookies()
        sign_in(page, "muallim")
        for path in [f"/lessons/{school.pk}/history/", "/textbooks/", "/lessons/", "/dashboard/"]:
            assert_fits(page, path)
    finally:
        context.close()


def test_the_teacher_menu_stays_on_one_line_at_1280(browser, live_server, school) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "muallim")
        for language in ["tg", "ru", "en"]:
            page.click(f"button[name=language][value={language}]")
            page.wait_for_load_state()
            assert not page.is_visible(".menu-toggle")
            tops = page.evaluate(
                "() => [...document.querySelectorAll('header.bar > *, #main-nav > *')]"
                ".filter(e => e.getBoundingClientRect().height > 0)"
                ".map(e => Math.round(e.getBoundingClientRect().top))"
            )
            height = page.evaluate("() => document.querySelector('header.bar').offsetHeight")
            assert height < 80, (language, height)
            assert max(tops) - min(tops) < 20, (language, tops)
        # The rest of the menu is one click away.
        page.click(".more summary")
        assert page.is_visible(".more-links a[href='/textbooks/']")
    finally:
        context.close()


def test_search_without_a_matching_word_says_so(browser, live_server, school) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_in(page, "shogird")
        page.goto("/search/")
        page.fill("#id_q", "qwertyzzz")
        page.press("#id_q", "Enter")
        page.wait_for_url("**/search/?*q=qwertyzzz*")
        empty = page.inner_text(".search-empty")
        assert "ҳеҷ чиз ёфт нашуд" in empty  # nothing found
        assert "ғ, ӣ, қ, ӯ, ҳ, ҷ" in empty  # the Tajik letters suggestion
        assert page.locator("ol.results li").count() == 0

        # A word that occurs: results with the word marked; Back keeps query and results.
        page.fill("#id_q", "муодила")
        page.press("#id_q", "Enter")
        page.wait_for_url("**/search/?*q=%D0%BC*")
        assert page.locator("ol.results li").count() >= 1
        assert page.locator("ol.results mark").count() >= 1
        assert page.locator("ol.results li.nearby").count() == 0
        page.goto("/dashboard/")
        page.go_back()
        page.wait_for_url("**/search/?*")
        assert page.input_value("#id_q") == "муодила"
        assert page.locator("ol.results li").count() >= 1
    finally:
        context.close()
