"""The OpenAPI schema says what the API does (issue 18, item 7): each operation declares the
errors it answers with their body, ids and numbers carry their bounds, and the requests that
were valid by the schema but refused (an empty search, grade 0, publishing to no class) are now
invalid by the schema too. The fuzz test (test_api_fuzz.py) finds these slowly; these are the
quick regressions."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from soro_web.lessons.models import Lesson
from soro_web.lessons.services import lesson_create
from soro_web.schema_types import MAX_ID
from tests.conftest import People, client_for
from tests.factories import TopicFactory

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def openapi(db) -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(openapi: dict):  # type: ignore[no-untyped-def,type-arg]
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_operation_declares_401_and_422_with_an_error_body(openapi: dict) -> None:  # type: ignore[type-arg]
    found = list(operations(openapi))
    assert len(found) >= 29
    for name, operation in found:
        for code in ("401", "422"):
            content = operation["responses"].get(code, {}).get("content", {})
            assert "application/json" in content, f"{name} does not declare {code}"
            ref = content["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorOut"), (name, code, ref)


def test_operations_with_an_object_in_the_path_declare_404(openapi: dict) -> None:  # type: ignore[type-arg]
    for name, operation in operations(openapi):
        if "{" in name and not name.endswith("/answers/{position}"):
            assert "404" in operation["responses"], name


def test_path_ids_are_bounded(openapi: dict) -> None:  # type: ignore[type-arg]
    for name, operation in operations(openapi):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                bounds = parameter["schema"]
                assert bounds.get("minimum") == 1, (name, parameter)
                assert bounds.get("maximum") in (MAX_ID, 1000), (name, parameter)


@pytest.mark.parametrize(
    "path",
    [
        "/api/lessons/9223372036854775808",
        "/api/classes/9223372036854775808",
        "/api/exams/attempts/0",
        "/api/tutor/conversations/99999999999999999999",
        "/api/curriculum/topics?grade=0",
        "/api/curriculum/topics?grade=13",
        "/api/search?q=",
    ],
)
def test_out_of_range_parameters_are_refused_with_422(people: People, path: str) -> None:
    response = client_for(people.teacher).get(path)
    assert response.status_code == 422, response.content
    assert "detail" in response.json()


def test_publishing_to_no_class_is_invalid_by_the_schema(people: People, openapi) -> None:  # type: ignore[no-untyped-def]
    lesson = lesson_create(teacher=people.teacher, topic=TopicFactory())
    publish_in = openapi["components"]["schemas"]["PublishIn"]["properties"]["classes"]
    assert publish_in["minItems"] == 1
    response = client_for(people.teacher).post(
        f"/api/lessons/{lesson.pk}/publish", json.dumps({"classes": []}), "application/json"
    )
    assert response.status_code == 422
    lesson.refresh_from_db()
    assert lesson.status == Lesson.Status.DRAFT


def test_a_tutor_message_with_an_unpaired_surrogate_is_refused(people: People) -> None:
    client = client_for(people.student)
    created = client.post("/api/tutor/conversations", "{}", "application/json")
    assert created.status_code == 201
    response = client.post(
        f"/api/tutor/conversations/{created.json()['id']}/messages",
        '{"text": "\\ud800"}',
        "application/json",
    )
    assert response.status_code == 422


def test_a_body_that_is_not_a_json_object_is_refused_with_400(people: People) -> None:
    from tutoring.tutor.models import Conversation

    client = client_for(people.student)
    for body in ("[null, null]", "7", '"text"', "null"):
        response = client.post("/api/tutor/conversations", body, "application/json")
        assert response.status_code == 400, (body, response.content)
    assert not Conversation.objects.exists()


def test_true_and_text_are_not_numbers_in_a_body(people: People) -> None:
    lesson = lesson_create(teacher=people.teacher, topic=TopicFactory())
    section = lesson.sections.first()
    assert section is not None
    client = client_for(people.teacher)
    response = client.put(
        f"/api/lessons/{lesson.pk}/sections/{section.pk}",
        json.dumps({"body": "x", "revision": True}),
        "application/json",
    )
    assert response.status_code == 422
    for classes in ([True], [str(people.classroom.pk)]):
        response = client.post(
            f"/api/lessons/{lesson.pk}/publish",
            json.dumps({"classes": classes}),
            "application/json",
        )
        assert response.status_code == 422, classes
    section.refresh_from_db()
    assert section.body == "" and section.revision == 1


def test_text_fields_state_their_control_character_rule(openapi: dict) -> None:  # type: ignore[type-arg]
    schemas = openapi["components"]["schemas"]
    assert schemas["ClassroomIn"]["properties"]["name"]["pattern"] == r"^[^\x00-\x1f\x7f-\x9f]*$"
    body = schemas["SectionIn"]["properties"]["body"]
    assert body["pattern"] == r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
    assert body["maxLength"] == 20_000
