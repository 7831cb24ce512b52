"""The site's own pages and labels: error pages in Tajik first with a way back, the favicon,
translated data labels, the student's way through the curriculum, the textbooks a teacher may
use, and the model admin's read-only runs with readable numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.utils import timezone, translation
from django.utils.translation import gettext

from modelops.models import GenerationLog, ModelRun, ModelVersion
from soro_web.curriculum.models import Grade
from tests.conftest import People, client_for
from tests.factories import TeacherFactory, TopicFactory
from tutoring.models import Textbook, TextbookEdition

pytestmark = pytest.mark.django_db


def english(client: Client) -> Client:
    """The client with English chosen (Tajik is the default whatever the browser says)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- error pages ---------------------------------------------------------------------------


def test_404_is_tajik_with_navigation_and_a_way_back(people: People) -> None:
    response = client_for(people.student).get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Саҳифа ёфт нашуд" in page  # "Page not found"
    assert 'href="/dashboard/"' in page and "<nav" in page and 'href="/search/"' in page
    anonymous = Client().get("/no-such-page/").content.decode()
    assert 'class="button" href="/"' in anonymous  # the home page for those not signed in


def test_403_is_tajik_with_a_way_back(people: People) -> None:
    response = client_for(people.student).get("/textbooks/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "<nav" in page and 'href="/dashboard/"' in page
    assert "Forbidden" not in page
    in_english = english(client_for(people.student)).get("/textbooks/")
    assert "You may not open this page" in in_english.content.decode()


def test_500_page_needs_no_request_context() -> None:
    from django.views.defaults import server_error

    with translation.override("tg"):
        response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert 'lang="tg"' in page and 'href="/dashboard/"' in page
    with translation.override("en"):
        english = server_error(RequestFactory().get("/")).content.decode()
    assert "Something went wrong" in english


def test_csrf_failure_is_explained(people: People) -> None:
    client = english(Client(enforce_csrf_checks=True))
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "The form has expired" in page and "<nav" in page
    assert "CSRF token" not in page  # Django's reason is for the log


def test_favicon_is_served(db) -> None:  # type: ignore[no-untyped-def]
    response = Client().get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO header


# --- labels --------------------------------------------------------------------------------


def test_grade_labels_follow_the_interface_language(people: People) -> None:
    grade = Grade.objects.get(number=people.classroom.grade.number)
    with translation.override("tg"):
        assert str(grade) == f"Синфи {grade.number}"
    with translation.override("ru"):
        assert str(grade) == f"{grade.number} класс"
    with translation.override("en"):
        assert str(grade) == f"Grade {grade.number}"
    page = english(client_for(people.student)).get("/dashboard/")
    assert f"Grade {grade.number}" in page.content.decode()
    assert "Синфи" not in page.content.decode()


def test_language_names_are_capitalised(db) -> None:  # type: ignore[no-untyped-def]
    page = Client().get("/accounts/login/").content.decode()
    assert ">Тоҷикӣ</button>" in page and ">Русский</button>" in page


def test_playground_header_is_translated(people: People, settings) -> None:
    from modelops.services import model_health

    settings.SORO_LLM_URL = None
    ModelVersion.objects.all().delete()
    with translation.override("tg"):
        detail = model_health()["detail"]
    assert "no active model version" not in detail and "import_base_model" in detail


def test_django_admin_tajik_strings_have_their_spaces() -> None:
    # Django's own Tajik catalogue glues words ("шумобарои азназаргузарониисаҳифаи"); ours
    # comes first and corrects them.
    message = (
        "You are authenticated as %(username)s, but are not authorized to access this page. "
        "Would you like to login to a different account?"
    )
    with translation.override("tg"):
        text = gettext(message)
        deleting = gettext(
            "Deleting the selected %(objects_name)s would require deleting the following "
            "protected related objects:"
        )
    assert "шумобарои" not in text and "азназаргузарониисаҳифаи" not in text
    assert "шумо барои" in text
    assert "объектҳоиалоқаманди" not in deleting and "объектҳои алоқаманди" in deleting


# --- students' way through the site ----------------------------------------------------------


def test_the_class_card_links_to_the_class_topics(people: People) -> None:
    classroom = people.classroom
    page = client_for(people.student).get("/dashboard/").content.decode()
    link = f'href="/curriculum/{classroom.subject.code}/{classroom.grade.number}/"'
    assert link in page and f"<strong>{classroom.name}</strong></a>" in page


def test_curriculum_topics_lead_somewhere_and_hide_codes(people: People) -> None:
    classroom = people.classroom
    unit = TopicFactory(
        code="math-7-01", kind="unit", subject=classroom.subject, grade=classroom.grade
    )
    topic = TopicFactory(
        code="math-7-01-01", parent=unit, subject=classroom.subject, grade=classroom.grade
    )
    url = f"/curriculum/{classroom.subject.code}/{classroom.grade.number}/"
    page = client_for(people.student).get(url).content.decode()
    assert topic.name in page and "math-7-01-01" not in page
    assert "/search/?q=" in page and 'href="/exams/"' in page and 'href="/lessons/"' in page
    assert "math-7-01-01" in client_for(people.staff).get(url).content.decode()


# --- textbooks -----------------------------------------------------------------------------


def _book(title: str, people: People, *, school, uploader, status: str) -> Textbook:  # type: ignore[no-untyped-def]
    book = Textbook.objects.create(
        title=title,
        subject=people.classroom.subject,
        grade=people.classroom.grade,
        school=school,
        uploaded_by=uploader,
        status=status,
    )
    TextbookEdition.objects.create(
        textbook=book,
        status="failed" if status == "failed" else "ready",
        error_code="encrypted" if status == "failed" else "",
    )
    return book


def test_textbooks_shows_a_teacher_only_what_they_may_use(people: People) -> None:
    school, other = people.teacher.school, people.teacher_other.school
    colleague = TeacherFactory(username="colleague", school=school)
    _book("Миллӣ", people, school=None, uploader=people.staff, status="ready")
    _book("Худам ноком", people, school=school, uploader=people.teacher, status="failed")
    _book("Ҳамкор ноком", people, school=school, uploader=colleague, status="failed")
    _book("Ҳамкор тайёр", people, school=school, uploader=colleague, status="ready")
    _book("Мактаби дигар", people, school=other, uploader=people.teacher_other, status="ready")
    page = english(client_for(people.teacher)).get("/textbooks/")
    text = page.content.decode()
    assert "Миллӣ" in text and "Ҳамкор тайёр" in text and "Худам ноком" in text
    assert "Ҳамкор ноком" not in text and "Мактаби дигар" not in text
    assert "protected with a password" in text  # the reason, to the uploader only
    colleague_page = client_for(colleague).get("/textbooks/")
    assert "Худам ноком" not in colleague_page.content.decode()
    staff_page = client_for(people.staff).get("/textbooks/").content.decode()
    assert "Мактаби дигар" in staff_page and "Ҳамкор ноком" in staff_page


def test_edition_progress_keeps_other_schools_books_and_reasons_private(people: People) -> None:
    own = _book(
        "Худам", people, school=people.teacher.school, uploader=people.teacher, status="failed"
    )
    other = _book(
        "Дигар",
        people,
        school=people.teacher_other.school,
        uploader=people.teacher_other,
        status="failed",
    )
    edition = own.editions.get()
    mine = english(client_for(people.teacher)).get(f"/textbooks/editions/{edition.pk}/progress/")
    assert "protected with a password" in mine.content.decode()
    response = client_for(people.teacher).get(
        f"/textbooks/editions/{other.editions.get().pk}/progress/"
    )
    assert response.status_code == 404


# --- model admin ---------------------------------------------------------------------------


def test_model_runs_are_read_only_with_readable_numbers(people: People) -> None:
    client = english(client_for(people.staff))
    version = ModelVersion.objects.create(
        name="gemma3-270m", stage="base", path="x", size_bytes=536_870_912
    )
    started = timezone.now() - timedelta(seconds=114.32001223400005)
    run = ModelRun.objects.create(
        kind="evaluate",
        input_version=version,
        status="succeeded",
        started_at=started,
        finished_at=started + timedelta(seconds=114.32001223400005),
    )
    GenerationLog.objects.create(
        purpose="playground", backend="local", status="ok", seconds=114.32001223400005
    )
    assert client.get("/admin/modelops/modelrun/add/").status_code == 403
    runs = client.get("/admin/modelops/modelrun/").content.decode()
    detail = client.get(f"/admin/modelops/modelrun/{run.pk}/change/").content.decode()
    versions = client.get("/admin/modelops/modelversion/").content.decode()
    logs = client.get("/admin/modelops/generationlog/").content.decode()
    assert "1 min 54 s" in runs and "Add model run" not in runs
    assert 'name="_save"' not in detail  # nothing to save: the run is read-only
    assert "512.0\xa0MB" in versions and "536870912" not in versions
    assert "114,32" not in logs and "114.32" not in logs and "1 min 54 s" in logs
    # Cancelling stays possible: it is an action, not an edit.
    ModelRun.objects.filter(pk=run.pk).update(status="queued", finished_at=None)
    response = client.post(
        "/admin/modelops/modelrun/",
        {"action": "cancel_runs", "_selected_action": [run.pk]},
    )
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == "cancelled"
