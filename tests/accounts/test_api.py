import json
from datetime import datetime

from django.urls import reverse

from soro_web.accounts.models import ApiToken, Classroom, Enrollment
from tests.conftest import People, client_for
from tests.factories import PASSWORD


def post_json(client, url: str, data: dict, **extra):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(data), content_type="application/json", **extra)


def test_me(people: People) -> None:
    response = client_for(people.teacher).get("/api/me")
    assert response.json() == {
        "id": people.teacher.pk,
        "username": "teacher",
        "first_name": "Фирӯз",
        "last_name": "Ҷӯраев",
        "role": "teacher",
        "is_staff": False,
        "school": people.teacher.school.name,
    }


def test_token_flow_for_non_browser_clients(people: People, client) -> None:  # type: ignore[no-untyped-def]
    response = post_json(
        client, "/api/auth/token", {"username": "student", "password": PASSWORD, "name": "phone"}
    )
    assert response.status_code == 201
    token = response.json()["token"]
    assert ApiToken.objects.get(user=people.student).name == "phone"
    me = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.status_code == 200 and me.json()["username"] == "student"
    assert client.get("/api/me", HTTP_AUTHORIZATION="Bearer soro_wrong").status_code == 401


def test_token_wrong_password_and_lockout(people: People, client, settings) -> None:  # type: ignore[no-untyped-def]
    client.cookies["django_language"] = "en"
    statuses = [
        post_json(
            client, "/api/auth/token", {"username": "student", "password": "wrong"}
        ).status_code
        for _attempt in range(settings.AXES_FAILURE_LIMIT)
    ]
    # The attempt that reaches the limit is answered as a lockout already.
    assert statuses == [401] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = post_json(client, "/api/auth/token", {"username": "student", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.json()["detail"]
    assert not ApiToken.objects.exists()


def test_teacher_lists_classes_with_codes_student_without(people: People) -> None:
    classroom = people.classroom
    teacher_view = client_for(people.teacher).get("/api/classes").json()
    assert teacher_view == [
        {
            "id": classroom.pk,
            "name": "7А",
            "subject": "math",
            "grade": 7,
            "teacher": "Фирӯз Ҷӯраев",
            "join_code": classroom.join_code,
            "join_code_expires_at": teacher_view[0]["join_code_expires_at"],
        }
    ]
    expires = datetime.fromisoformat(teacher_view[0]["join_code_expires_at"])
    assert abs((expires - classroom.join_code_expires_at).total_seconds()) < 0.001
    student_view = client_for(people.student).get("/api/classes").json()
    assert student_view == [{**teacher_view[0], "join_code": None, "join_code_expires_at": None}]


def test_create_class_and_bad_input(people: People) -> None:
    client = client_for(people.teacher)
    created = post_json(client, "/api/classes", {"name": "9В", "subject": "math", "grade": 7})
    assert created.status_code == 201
    assert created.json()["name"] == "9В"
    assert Classroom.objects.filter(teacher=people.teacher, name="9В").exists()
    duplicate = post_json(client, "/api/classes", {"name": "9В", "subject": "math", "grade": 7})
    assert duplicate.status_code == 422 and "name" in duplicate.json()["detail"]
    unknown = post_json(client, "/api/classes", {"name": "X", "subject": "alchemy", "grade": 7})
    assert unknown.status_code == 422
    assert Classroom.objects.filter(teacher=people.teacher).count() == 2


def test_join_by_code_and_wrong_code(people: People) -> None:
    client = client_for(people.student_other)
    client.cookies["django_language"] = "en"
    wrong = post_json(client, "/api/classes/join", {"join_code": "ZZZZZZ"})
    assert wrong.status_code == 422
    assert wrong.json() == {
        "detail": {"join_code": ["No class has this code. Check the code with your teacher."]}
    }
    joined = post_json(client, "/api/classes/join", {"join_code": people.classroom.join_code})
    assert joined.status_code == 201 and joined.json()["id"] == people.classroom.pk
    assert Enrollment.objects.filter(student=people.student_other).count() == 2


def test_class_detail_has_the_roster(people: People) -> None:
    data = client_for(people.teacher).get(f"/api/classes/{people.classroom.pk}").json()
    assert data["students"] == [
        {
            "id": people.student.pk,
            "username": "student",
            "first_name": "Фирӯз",
            "last_name": "Ҷӯраев",
        }
    ]


def test_session_api_posts_need_the_csrf_token(people: People) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(people.teacher, backend="django.contrib.auth.backends.ModelBackend")
    refused = post_json(client, f"/api/classes/{people.classroom.pk}/join-code", {})
    assert refused.status_code == 403
    page = client.get(reverse("dashboard"))
    token = page.cookies["csrftoken"].value
    allowed = post_json(
        client, f"/api/classes/{people.classroom.pk}/join-code", {}, HTTP_X_CSRFTOKEN=token
    )
    assert allowed.status_code == 200


def test_curriculum_endpoints(people: People) -> None:
    from tests.factories import TopicFactory

    TopicFactory(code="math-7-01-01", name="Ададҳои ратсионалӣ", order=0)
    client = client_for(people.student)
    assert client.get("/api/curriculum/subjects").json() == [
        {"code": "math", "name": "Математика", "name_ru": "Математика", "name_en": "Mathematics"}
    ]
    assert client.get("/api/curriculum/grades").json() == [{"number": 7, "name": "Синфи 7"}]
    assert client.get("/api/curriculum/topics", {"subject": "math", "grade": 7}).json() == [
        {
            "code": "math-7-01-01",
            "kind": "topic",
            "name": "Ададҳои ратсионалӣ",
            "order": 0,
            "subject": "math",
            "grade": 7,
            "parent": None,
        }
    ]
    assert client.get("/api/curriculum/topics", {"grade": 9}).json() == []


def test_openapi_docs_are_served(db, client) -> None:  # type: ignore[no-untyped-def]
    schema = client.get("/api/openapi.json").json()
    assert "/api/classes/join" in schema["paths"]
    assert client.get("/api/docs").status_code == 200


def test_tokens_expire_can_be_listed_and_revoked_by_their_owner(people: People, client) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    def new_token(name: str) -> str:
        response = post_json(
            client, "/api/auth/token", {"username": "student", "password": PASSWORD, "name": name}
        )
        assert response.status_code == 201
        return str(response.json()["token"])

    phone, laptop = new_token("phone"), new_token("laptop")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {phone}"}
    listed = client.get("/api/auth/tokens", **bearer).json()
    assert [(t["name"], t["prefix"]) for t in listed] == [
        ("laptop", laptop[5:13]),
        ("phone", phone[5:13]),
    ]
    expires = datetime.fromisoformat(listed[0]["expires_at"])
    assert timedelta(days=89) < expires - timezone.now() <= timedelta(days=90)
    assert all("token" not in t for t in listed)

    # Another user's token is not theirs to revoke: 404, and it keeps working.
    laptop_id = listed[0]["id"]
    other = client_for(people.teacher)
    assert other.delete(f"/api/auth/tokens/{laptop_id}").status_code == 404
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {laptop}").status_code == 200
    assert client.delete(f"/api/auth/tokens/{laptop_id}", **bearer).status_code == 204
    assert client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {laptop}").status_code == 401

    # Expired: refused.
    ApiToken.objects.filter(name="phone").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/me", **bearer).status_code == 401


def test_a_password_change_revokes_every_token(people: People, client) -> None:  # type: ignore[no-untyped-def]
    response = post_json(client, "/api/auth/token", {"username": "student", "password": PASSWORD})
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['token']}"}
    assert client.get("/api/me", **bearer).status_code == 200
    people.student.first_name = "Нав"
    people.student.save()  # no new password: the token still works
    assert client.get("/api/me", **bearer).status_code == 200
    people.student.set_password("another-password-2026")
    people.student.save()
    assert client.get("/api/me", **bearer).status_code == 401
    assert ApiToken.objects.get().revoked_at is not None
