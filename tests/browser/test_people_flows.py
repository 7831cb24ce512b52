"""The first things people do, in a real browser: pupils join with a code, teachers open a
class and renew its code (htmx), anyone switches the language."""

import pytest

from soro_web.accounts.models import Enrollment, User
from tests.conftest import People
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")  # keyboard only
    page.wait_for_url("**/dashboard/")


def test_pupil_joins_with_the_link_the_teacher_shares(page, people: People) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"/accounts/signup/?code={people.classroom.join_code}")
    assert page.input_value("#id_join_code") == people.classroom.join_code
    page.fill("#id_first_name", "Нилуфар")
    page.fill("#id_last_name", "Ғафурова")
    page.fill("#id_username", "nilufar")
    page.fill("#id_password", "tajik-letters-2026")
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/dashboard/")
    assert "7А" in page.inner_text("main")
    student = User.objects.get(username="nilufar")
    assert Enrollment.objects.filter(student=student, classroom=people.classroom).exists()


def test_wrong_code_keeps_what_the_pupil_typed(page, people: People) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/signup/")
    page.fill("#id_first_name", "Рустам")
    page.fill("#id_last_name", "Ҳакимов")
    page.fill("#id_username", "rustam")
    page.fill("#id_password", "tajik-letters-2026")
    page.fill("#id_join_code", "ZZZZZZ")
    page.click("form.stack button[type=submit]")
    assert "Ягон синф чунин рамз надорад" in page.inner_text(".field.invalid")
    assert page.input_value("#id_join_code") == "ZZZZZZ"  # kept to correct, not echoed
    assert page.input_value("#id_username") == "rustam"
    assert not User.objects.filter(username="rustam").exists()


def test_teacher_creates_a_class_and_renews_its_code_in_place(page, people: People) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "teacher")
    page.goto("/classes/new/")
    page.fill("#id_name", "10Б")
    page.select_option("#id_subject", str(people.classroom.subject_id))
    page.select_option("#id_grade", str(people.classroom.grade_id))
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/classes/*/")
    old_code = page.inner_text("#join-code .code")
    page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
    page.click("#join-code button")
    page.wait_for_function(
        "old => document.querySelector('#join-code .code').innerText !== old", arg=old_code
    )
    assert page.evaluate("window.__marker") == 1
    classroom = people.teacher.classrooms_taught.get(name="10Б")
    assert page.inner_text("#join-code .code") == classroom.join_code


def test_language_switch(page, people: People) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    assert page.get_attribute("html", "lang") == "tg"
    page.click("button[name=language][value=ru]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "ru"
    assert "Войти" in page.inner_text("main")
