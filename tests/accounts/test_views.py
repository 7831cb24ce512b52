import pytest
from django.urls import reverse

from soro_web.accounts.models import Enrollment, User
from tests.conftest import People, client_for
from tests.factories import PASSWORD


def login(client, username: str, password: str, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_sign_in_and_out(people: People, client) -> None:  # type: ignore[no-untyped-def]
    response = login(client, "teacher", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("dashboard")).status_code == 302


def test_wrong_password_shows_a_translated_error(people: People, client) -> None:  # type: ignore[no-untyped-def]
    response = login(client, "teacher", "wrong")
    assert response.status_code == 200
    assert "Хоҳишмандем" in response.content.decode()  # Tajik by default
    client.cookies["django_language"] = "en"
    english = login(client, "teacher", "wrong")
    assert "Please enter a correct username and password" in english.content.decode()


def test_lockout_is_per_username_and_address(people: People, settings) -> None:  # type: ignore[no-untyped-def]
    # Failures spread over addresses lock no one below the per-username ceiling; the
    # lockout itself is tested in test_lockout.py.
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login(client_for(None), "teacher", "wrong", ip=f"10.0.0.{attempt + 2}")
    assert login(client_for(None), "teacher", PASSWORD, ip="10.0.9.9").status_code == 302
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        login(client_for(None), "teacher", "wrong", ip="10.0.0.2")
    locked = login(client_for(None), "teacher", PASSWORD, ip="10.0.0.2")
    assert locked.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in locked.templates]
    # The same shared school address still lets other pupils in.
    other = login(client_for(None), "student", PASSWORD, ip="10.0.0.2")
    assert other.status_code == 302


def test_student_signup_page_creates_account_and_signs_in(people: People, client) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        reverse("accounts:signup"),
        {
            "first_name": "Нилуфар",
            "last_name": "Ғафурова",
            "username": "nilufar",
            "password": "tajik-letters-2026",
            "join_code": people.classroom.join_code,
        },
    )
    assert response.status_code == 302
    student = User.objects.get(username="nilufar")
    assert Enrollment.objects.filter(student=student, classroom=people.classroom).exists()
    assert client.get(reverse("dashboard")).context["user"] == student


def test_signup_with_wrong_code_keeps_the_form_and_says_why(people: People, client) -> None:  # type: ignore[no-untyped-def]
    client.cookies["django_language"] = "en"
    response = client.post(
        reverse("accounts:signup"),
        {
            "first_name": "Нилуфар",
            "last_name": "Ғафурова",
            "username": "nilufar",
            "password": "tajik-letters-2026",
            "join_code": "ZZZZZZ",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "No class has this code" in body
    assert 'value="nilufar"' in body  # nothing the pupil typed is lost
    assert not User.objects.filter(username="nilufar").exists()


def test_teacher_creates_a_class_and_sees_its_roster(people: People) -> None:
    client = client_for(people.teacher)
    response = client.post(
        reverse("accounts:classroom_create"),
        {"name": "8Б", "subject": people.classroom.subject_id, "grade": people.classroom.grade_id},
    )
    assert response.status_code == 302
    classroom = people.teacher.classrooms_taught.get(name="8Б")
    detail = client.get(reverse("accounts:classroom_detail", args=[people.classroom.pk]))
    assert "student" in detail.content.decode()
    assert classroom.join_code in client.get(response.url).content.decode()


@pytest.mark.parametrize("htmx", [False, True])
def test_regenerate_code_with_and_without_htmx(people: People, htmx: bool) -> None:
    client = client_for(people.teacher)
    old = people.classroom.join_code
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        reverse("accounts:classroom_regenerate_code", args=[people.classroom.pk]), **headers
    )
    people.classroom.refresh_from_db()
    assert people.classroom.join_code != old
    if htmx:
        body = response.content.decode()
        assert response.status_code == 200
        assert body.lstrip().startswith('<section id="join-code"')
        assert people.classroom.join_code in body and "<html" not in body
    else:
        assert response.status_code == 302


def test_staff_add_a_teacher(people: People) -> None:
    client = client_for(people.staff)
    response = client.post(
        reverse("accounts:teacher_list"),
        {
            "first_name": "Далер",
            "last_name": "Шарифов",
            "username": "sharifov",
            "password": "tajik-letters-2026",
            "school": people.teacher.school_id,
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="sharifov").is_teacher


def test_staff_adding_a_duplicate_username_writes_nothing(people: People) -> None:
    client = client_for(people.staff)
    before = User.objects.count()
    response = client.post(
        reverse("accounts:teacher_list"),
        {
            "first_name": "Д",
            "last_name": "Ш",
            "username": "teacher",
            "password": "tajik-letters-2026",
            "school": people.teacher.school_id,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert User.objects.count() == before


def test_empty_states(db) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import StudentFactory, TeacherFactory

    teacher_page = client_for(TeacherFactory()).get(reverse("dashboard")).content.decode()
    assert reverse("accounts:classroom_create") in teacher_page
    assert 'class="empty"' in teacher_page
    student_page = client_for(StudentFactory()).get(reverse("dashboard")).content.decode()
    assert reverse("accounts:classroom_join") in student_page
    assert 'class="empty"' in student_page
