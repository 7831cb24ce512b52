"""Database queries of the pages the load benchmark hits (benchmarks/load.py), and of the pages
found slow under load (issue 17): each stays under a ceiling, and does not grow with the data
(more classes, students, answers), so 200 students cost 200 times one student, not more.

A page's count is measured twice: with the fixtures' data, then again after adding more rows of
what it lists. The second count must equal the first (no query per row) and stay under the
ceiling, which ``django_assert_max_num_queries`` reports query by query when it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from soro_web.accounts.models import Classroom
from soro_web.curriculum.models import Grade, Subject
from tests.conftest import People, client_for
from tests.exams.conftest import bank, curriculum, tiny_blueprint  # noqa: F401  fixtures
from tests.factories import PASSWORD, ClassroomFactory, EnrollmentFactory, StudentFactory
from tutoring.services import textbook_ingest_run, textbook_register_file

BOOK = """---
title: Биология 9
---
<!-- page 1 -->
# Ҳуҷайра
Ҳуҷайра воҳиди асосии сохт ва фаъолияти организмҳои зинда аст. Хлоропласт дар ҳуҷайраи
растанӣ фотосинтезро анҷом медиҳад.

<!-- page 2 -->
# Митоз
Митоз тақсимоти ҳуҷайра аст, ки дар он ду ҳуҷайраи духтарӣ пайдо мешаванд.
"""


def count(call: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries.captured_queries)


def more_classes(people: People, how_many: int = 4) -> None:
    """More classes for the teacher, each with students, and the student in all of them."""
    for number in range(how_many):
        classroom = ClassroomFactory(teacher=people.teacher, name=f"Синфи {number}")
        EnrollmentFactory(classroom=classroom, student=people.student)
        for _ in range(3):
            EnrollmentFactory(
                classroom=classroom, student=StudentFactory(school=people.teacher.school)
            )


def get_ok(client: Client, url: str, **extra: object) -> Callable[[], None]:
    def call() -> None:
        response = client.get(url, **extra)
        assert response.status_code == 200, (url, response.status_code)

    return call


@pytest.mark.parametrize(("role", "ceiling"), [("student", 3), ("teacher", 3), ("staff", 9)])
def test_dashboard_queries_do_not_grow_with_classes(
    people: People, django_assert_max_num_queries, role: str, ceiling: int
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.user(role))
    page = get_ok(client, "/dashboard/")
    page()  # the session and the language are settled by the first request
    before = count(page)
    more_classes(people)
    with django_assert_max_num_queries(ceiling):
        page()
    assert count(page) == before


def test_sign_in_page_and_sign_in_queries(people: People, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    with django_assert_max_num_queries(0):
        get_ok(client, "/accounts/login/")()
    # The password check, axes' attempt records (the lockout reads the (username, address)
    # pair and the username's ceiling), the new session and last_login.
    with django_assert_max_num_queries(15):
        response = client.post(
            "/accounts/login/", {"username": people.student.username, "password": PASSWORD}
        )
    assert response.status_code == 302 and response["Location"].endswith("/dashboard/")


@pytest.fixture
def searchable_book(people: People, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A national biology 9 book the student's class can read, indexed (BM25 only: the
    sentence encoder's cost is measured by the benchmark, not here)."""
    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    path = tmp_path / "biology-9.md"
    path.write_text(BOOK, encoding="utf-8")
    biology = Subject.objects.get_or_create(code="biology", defaults={"name": "Биология"})[0]
    grade = Grade.objects.get_or_create(number=9)[0]
    Classroom.objects.filter(pk=people.classroom.pk).update(subject=biology, grade=grade)
    edition = textbook_register_file(
        path=path, title="Биология 9", subject=biology, grade=grade, enqueue=False
    )
    assert edition is not None
    textbook_ingest_run(edition_id=edition.pk)


def test_search_queries_do_not_grow_with_classes_or_results(
    people: People, searchable_book, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    page = get_ok(client, "/search/?q=ҳуҷайра")
    page()
    before = count(page)
    more_classes(people)
    with django_assert_max_num_queries(7):
        page()
    assert count(page) == before
    assert "Биология 9" in client.get("/search/?q=ҳуҷайра").content.decode()


def test_exam_pages_and_answer_save_queries(
    people: People,
    tiny_blueprint,  # noqa: F811  the fixture imported above
    django_assert_max_num_queries,
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    client.get("/exams/")
    with django_assert_max_num_queries(14):
        started = client.post("/exams/mock/", {"blueprint": tiny_blueprint.pk})
    assert started.status_code == 302
    attempt = started["Location"]

    def save(position: int) -> Callable[[], None]:
        def call() -> None:
            response = client.post(
                f"{attempt}answers/{position}/", {"choice": "0"}, HTTP_HX_REQUEST="true"
            )
            assert response.status_code == 200 and "save-state" in response.content.decode()

        return call

    page = get_ok(client, f"{attempt}?q=1")
    page()
    with django_assert_max_num_queries(6):
        page()
    with django_assert_max_num_queries(8):  # the first save of a question inserts
        save(1)()
    with django_assert_max_num_queries(7):  # a second save updates
        save(1)()
    with django_assert_max_num_queries(7):  # one more: the saved answer, shown again
        page()
    with_one = count(page)
    save(2)()
    save(3)()
    # Answers to other questions do not add queries to a question's page.
    assert count(page) == with_one


def test_classes_join_queries(people: People, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    page = get_ok(client, "/classes/join/")
    page()
    before = count(page)
    more_classes(people)
    with django_assert_max_num_queries(2):
        page()
    assert count(page) == before
    with django_assert_max_num_queries(11):  # the code, the join limits, the enrollment
        response = client.post("/classes/join/", {"join_code": people.classroom_other.join_code})
    assert response.status_code == 302


def test_playground_queries(people: People, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.staff)
    page = get_ok(client, "/staff/model/playground/")
    page()
    with django_assert_max_num_queries(3):
        page()
