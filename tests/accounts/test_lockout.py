"""Sign-in lockout per (username, address), the per-username ceiling, and teachers' one-time
unlock codes: real requests through django-axes and the real database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone, translation

from soro_web.accounts.models import UnlockCode
from tests.conftest import People, client_for
from tests.factories import PASSWORD


def login(username: str, password: str, ip: str):  # type: ignore[no-untyped-def]
    return client_for(None).post(
        reverse("accounts:login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def fail(username: str, ip: str, times: int) -> None:
    for _attempt in range(times):
        login(username, "wrong", ip)


def is_signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response.url == reverse("dashboard")


def test_an_attacker_elsewhere_cannot_lock_the_user_out(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    fail("student", "203.0.113.7", settings.AXES_FAILURE_LIMIT)
    # The attacker's own address is locked, even with the right password...
    locked = login("student", PASSWORD, "203.0.113.7")
    assert locked.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in locked.templates]
    # ...but the real student at school signs in.
    assert is_signed_in(login("student", PASSWORD, "10.0.0.1"))


def test_a_school_behind_one_address_is_not_locked_out_by_one_pupil(
    people: People, settings
) -> None:  # type: ignore[no-untyped-def]
    fail("student", "10.0.0.1", settings.AXES_FAILURE_LIMIT)
    assert login("student", PASSWORD, "10.0.0.1").status_code == 429
    assert is_signed_in(login("teacher", PASSWORD, "10.0.0.1"))


def test_the_per_username_ceiling_locks_everywhere(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SORO_LOGIN_USERNAME_CEILING = 12
    # Four failures from each of three addresses: no pair reaches the limit of five...
    for address in ("198.51.100.1", "198.51.100.2"):
        fail("student", address, 4)
    assert is_signed_in(login("student", PASSWORD, "10.0.0.1"))  # resets on success
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        fail("student", address, 4)
    # ...but twelve in all reach the ceiling: locked at an address that never failed.
    locked = login("student", PASSWORD, "10.0.0.1")
    assert locked.status_code == 429
    assert locked.context["everywhere"] is True
    # Other usernames are untouched.
    assert is_signed_in(login("teacher", PASSWORD, "10.0.0.1"))


def make_code(by, person) -> str:  # type: ignore[no-untyped-def]
    response = client_for(by).post(reverse("accounts:unlock_code_create", args=[person.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return re.search(r'id="unlock-code">([A-Z0-9-]+)<', response.content.decode()).group(1)


def unlock(username: str, code: str, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    client = client_for(None)
    client.cookies["django_language"] = "en"
    return client.post(
        reverse("accounts:unlock"), {"username": username, "code": code}, REMOTE_ADDR=ip
    )


def test_teacher_unlock_code_lifts_the_lockout_once(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SORO_LOGIN_USERNAME_CEILING = 5
    fail("student", "198.51.100.1", 5)  # the ceiling: locked everywhere
    assert login("student", PASSWORD, "10.0.0.1").status_code == 429

    code = make_code(people.teacher, people.student)
    stored = UnlockCode.objects.get(user=people.student)
    assert code.replace("-", "") not in stored.code_hash  # only a hash is kept
    assert stored.created_by == people.teacher

    response = unlock("student", code.lower())
    assert response.status_code == 302 and response.url == reverse("accounts:login")
    assert not AccessAttempt.objects.filter(username="student").exists()
    assert is_signed_in(login("student", PASSWORD, "10.0.0.1"))
    # Single use.
    second = unlock("student", code)
    assert second.status_code in {200, 429}
    assert "This unlock code is wrong, used or expired" in second.content.decode()


def test_unlock_code_expires(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    code = make_code(people.teacher, people.student)
    UnlockCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    fail("student", "10.0.0.1", settings.AXES_FAILURE_LIMIT)
    response = unlock("student", code)
    assert response.status_code == 429
    assert "This unlock code is wrong, used or expired" in response.content.decode()
    assert login("student", PASSWORD, "10.0.0.1").status_code == 429


def test_a_wrong_unlock_code_counts_as_a_failed_sign_in(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    make_code(people.teacher, people.student)
    fail("student", "10.0.0.1", settings.AXES_FAILURE_LIMIT - 1)
    assert login("student", PASSWORD, "10.0.0.2").status_code == 302  # resets the counts
    fail("student", "10.0.0.1", settings.AXES_FAILURE_LIMIT - 1)
    response = unlock("student", "AAAA-AAAA")
    # The fifth failure at this address: the wrong code locked the pair.
    assert response.status_code == 429
    assert login("student", PASSWORD, "10.0.0.1").status_code == 429
    # Guessing codes stops after a few more tries, even with the right one.
    for _try in range(5):
        unlock("student", "AAAA-AAAA")
    right = make_code(people.teacher, people.student)
    refused = unlock("student", right)
    assert "Too many wrong unlock codes" in refused.content.decode()
    # Another address (the school) still works with it.
    assert unlock("student", right, ip="10.0.0.9").status_code == 302


def test_a_new_code_replaces_the_old_one(people: People) -> None:
    first = make_code(people.teacher, people.student)
    second = make_code(people.teacher, people.student)
    assert UnlockCode.objects.filter(user=people.student).count() == 1
    assert unlock("student", first).status_code == 200
    assert unlock("student", second).status_code == 302


@pytest.mark.parametrize(
    ("maker", "person", "status"),
    [
        ("teacher", "student", 200),  # their own student
        ("teacher", "student_other", 404),  # another teacher's student
        ("teacher", "teacher_other", 404),  # teachers are unlocked by staff
        ("teacher_other", "student", 404),
        ("student", "student_other", 403),
        ("staff", "student_other", 200),  # staff: anyone
        ("staff", "teacher", 200),
    ],
)
def test_who_may_make_an_unlock_code(people: People, maker: str, person: str, status: int) -> None:
    target = people.user(person)
    response = client_for(people.user(maker)).post(
        reverse("accounts:unlock_code_create", args=[target.pk])
    )
    assert response.status_code == status
    assert UnlockCode.objects.filter(user=target).exists() is (status == 200)


def test_unlock_page_and_lockout_messages_are_translated(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    fail("student", "10.0.0.1", settings.AXES_FAILURE_LIMIT)
    tajik = login("student", PASSWORD, "10.0.0.1").content.decode()
    assert "Бо рамзи муаллиматон кушоед" in tajik  # Tajik by default
    assert 'name="code"' in tajik and 'value="student"' in tajik
    with translation.override("en"):
        page = client_for(None).get(reverse("accounts:unlock"), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and 'name="code"' in page.content.decode()
    english = unlock("student", "AAAA-AAAA", ip="10.0.0.3")
    assert english.status_code == 200
    assert "This unlock code is wrong, used or expired" in english.content.decode()
