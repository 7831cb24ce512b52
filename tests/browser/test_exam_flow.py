"""Exam practice in Debian's Chromium on a phone-sized window: a new pupil joins a class,
practises a topic with feedback, starts a short mock exam, answers, reloads and finds the
answers kept, lets the (shortened) time run out and reads the review. A teacher writes a
question, approves it, assigns a test to the class and reads the item analysis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from soro_web.accounts.models import User
from tests.browser.conftest import open_menu
from tests.browser.test_people_flows import sign_in
from tests.conftest import People
from tests.exams.conftest import bank, curriculum, tiny_blueprint  # noqa: F401 - fixtures
from tutoring.exams.models import Attempt, Blueprint, ExamTest, Item

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAVED = "нигоҳ дошта шуд"  # "saved" in the Tajik interface


def answer_on_page(page) -> None:  # type: ignore[no-untyped-def]
    """Give some answer to the question on the page, whatever its type."""
    if page.locator("input[name=choice]").count():
        page.locator("input[name=choice]").nth(1).check()
    elif page.locator("select[name^=pair-]").count():
        selects = page.locator("select[name^=pair-]")
        for index in range(selects.count()):
            selects.nth(index).select_option(str(index))
    else:
        page.fill("input[name=text]", "12,5")
        page.press("input[name=text]", "Tab")  # "change" fires when the field is left


@pytest.mark.usefixtures("tiny_blueprint")
def test_a_new_pupil_practises_and_sits_a_short_mock_exam(page, people: People) -> None:  # type: ignore[no-untyped-def]
    blueprint = Blueprint.objects.get(code="tiny")
    page.goto(f"/accounts/signup/?code={people.classroom.join_code}")
    page.fill("#id_first_name", "Нилуфар")
    page.fill("#id_last_name", "Ғафурова")
    page.fill("#id_username", "nilufar")
    page.fill("#id_password", "tajik-letters-2026")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/dashboard/")
    open_menu(page)  # folded behind the menu button on a phone
    page.click("header nav >> a[href='/exams/']")
    page.wait_for_url("**/exams/")

    # practice: a topic, an answer, feedback with the explanation
    topic = Item.objects.get(code="chem-019").topic
    page.click(f"a[href='/exams/practice/?topic={topic.pk}']")
    page.wait_for_url("**/exams/practice/*/?topic=*")
    item = Item.objects.get(pk=int(page.url.split("/practice/")[1].split("/")[0]))
    answer_on_page(page)
    page.click("#question button[type=submit]")
    page.wait_for_selector(".feedback")
    assert item.current.explanation in page.inner_text(".feedback")
    page.click(".feedback a.button")  # the next question
    page.wait_for_selector("#question form")

    # a mock exam: answer, see "saved", reload, find the answer kept
    page.goto("/exams/")
    page.select_option("select[name=blueprint]", str(blueprint.pk))
    page.click("form[action='/exams/mock/'] button[type=submit]")
    page.wait_for_url("**/exams/attempts/*/")
    attempt = Attempt.objects.get(student__username="nilufar")
    answer_on_page(page)
    page.wait_for_function(
        "saved => document.querySelector('#save-state').innerText.includes(saved)", arg=SAVED
    )
    page.click("button[value=next]")  # without htmx's help: the form posts, the next question
    page.wait_for_url("**/?q=2")
    answer_on_page(page)
    page.wait_for_function(
        "saved => document.querySelector('#save-state').innerText.includes(saved)", arg=SAVED
    )
    page.reload()
    assert SAVED in page.inner_text("#save-state")
    page.goto(f"/exams/attempts/{attempt.pk}/?q=1")
    assert SAVED in page.inner_text("#save-state")
    assert page.locator(
        "input:checked, select option:checked[value='0'], input[name=text][value]"
    ).count()
    assert attempt.answers.count() == 2

    # the shortened test runs out of time: the page refreshes itself into the review
    Attempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() + timedelta(seconds=3))
    page.reload()
    page.wait_for_url("**/review/", timeout=15_000)
    attempt.refresh_from_db()
    assert attempt.is_auto_submitted
    review = page.inner_text("main")
    assert "Вақт ба охир расид" in review and f"/ {attempt.test.scaled_max}" in review
    assert page.locator("ol.review > li").count() == 3


@pytest.mark.usefixtures("bank")
def test_a_teacher_writes_approves_assigns_and_reads_the_analysis(page, people: People) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "teacher")
    page.goto("/exams/questions/new/?type=choice")
    page.select_option("#id_topic", "biology-9-01-01")
    page.fill("#id_stem", "Кадом органоид фотосинтез мекунад?")
    page.fill("#id_explanation", "Фотосинтез дар хлоропластҳо мегузарад.")
    for index, text in enumerate(["Митохондрия", "Хлоропласт", "Рибосома", "Ядро"]):
        page.fill(f"#id_option_{index}", text)
    page.check("#id_answer_1")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/exams/questions/*/")
    assert "Хлоропласт" in page.inner_text("main")
    page.click("form[action$='/approve/'] button")
    page.wait_for_selector("text=тасдиқшуда")
    item = Item.objects.get(author=people.teacher)
    assert item.status == "approved"

    page.goto("/exams/tests/new/")
    page.select_option("#id_classroom", str(people.classroom.pk))
    page.fill("#id_title", "Санҷиши биология")
    page.fill("#id_items", f"{item.code} bio-001")
    page.fill("#id_minutes", "10")
    now = timezone.localtime()
    page.fill("#id_opens_at", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_closes_at", (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/exams/tests/*/results/")
    test = ExamTest.objects.get(kind="assigned")

    from tutoring.exams.services import assigned_start, attempt_answer_save, attempt_submit

    student = User.objects.get(username="student")
    attempt = assigned_start(student=student, test_id=test.pk)
    position = test.test_items.get(version__item=item).position
    attempt_answer_save(
        user=student, attempt_id=attempt.pk, position=position, data={"choice": "1"}
    )
    attempt_submit(attempt_id=attempt.pk, user=student)
    page.reload()
    analysis = page.inner_text("main")
    assert item.code in analysis and "Б: 1" in analysis


@pytest.mark.usefixtures("bank")
def test_practice_goes_on_offline_and_answers_are_sent_once(page, people: People) -> None:  # type: ignore[no-untyped-def]
    from tutoring.exams.models import PracticeAnswer

    sign_in(page, "student")
    item = Item.objects.get(code="chem-019")
    Item.objects.filter(topic=item.topic).exclude(pk=item.pk).update(status="draft")
    page.goto(f"/exams/practice/offline/{item.topic_id}/")
    page.wait_for_selector("#question form")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_timeout(1000)  # the worker keeps the page, its pack and its files
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#question input[name=choice]")
    page.locator("#question input[name=choice]").nth(2).check()
    page.click("#question button[type=submit]")
    page.wait_for_selector(".feedback.right")
    assert item.current.explanation in page.inner_text(".feedback")
    assert "1" in page.inner_text("#offline-queue")
    assert not PracticeAnswer.objects.exists()
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => document.querySelector('#offline-queue').innerText.includes('0')")
    page.reload()  # sends nothing again
    page.wait_for_selector("#question form")
    page.wait_for_timeout(500)
    assert list(PracticeAnswer.objects.values_list("item_id", "is_correct")) == [(item.pk, True)]
