"""The API refuses what the database cannot store (issue 18, items 4-6): unpaired surrogates,
control characters, over-long text and ids past the column's range answer 422, and nothing
is written. Before, each of these answered 500 or stored a megabyte in a class name."""

from __future__ import annotations

import pytest

from soro_web.accounts.models import ApiToken, Classroom
from soro_web.lessons.models import Lesson, LessonSection
from tests.conftest import People, client_for

SURROGATE = '"\\ud800"'  # what a JSON body carries; json.loads turns it into a lone surrogate


def send(client, method: str, path: str, body: str):  # type: ignore[no-untyped-def]
    return getattr(client, method)(path, body, content_type="application/json")


def counts() -> tuple[int, int, int, int]:
    return (
        Classroom.objects.count(),
        Lesson.objects.count(),
        ApiToken.objects.count(),
        sum(len(s.body) for s in LessonSection.objects.all()),
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "post",
            "/api/auth/token",
            '{"username": SURROGATE, "password": "x"}'.replace("SURROGATE", SURROGATE),
        ),
        (
            "post",
            "/api/classes",
            '{"name": SURROGATE, "subject": "math", "grade": 7}'.replace("SURROGATE", SURROGATE),
        ),
        ("post", "/api/classes", '{"name": "7\\u0000A", "subject": "math", "grade": 7}'),
        ("post", "/api/classes", '{"name": "%s", "subject": "math", "grade": 7}' % ("я" * 121)),
        ("post", "/api/classes", '{"name": "7А", "subject": "math", "grade": 0}'),
        (
            "post",
            "/api/lessons",
            '{"topic": "math-7-02-01", "title": SURROGATE}'.replace("SURROGATE", SURROGATE),
        ),
        ("post", "/api/lessons", '{"topic": "math-7-02-01", "duration_minutes": 100000}'),
        (
            "put",
            "/api/lessons/{lesson}/sections/{section}",
            '{"body": SURROGATE, "revision": 1}'.replace("SURROGATE", SURROGATE),
        ),
        ("put", "/api/lessons/{lesson}/sections/{section}", '{"body": "a\\u0000b", "revision": 1}'),
        (
            "put",
            "/api/lessons/{lesson}/sections/{section}",
            '{"body": "%s", "revision": 1}' % ("б" * 20_001),
        ),
        (
            "put",
            "/api/lessons/{lesson}/sections/{section}",
            '{"body": "x", "revision": 9223372036854775808}',
        ),
        ("post", "/api/lessons/{lesson}/publish", '{"classes": [9223372036854775808]}'),
        ("post", "/api/lessons/{lesson}/publish", '{"classes": [0]}'),
    ],
)
def test_unstorable_input_is_refused_with_422_and_nothing_written(
    people: People, lesson: Lesson, method: str, path: str, body: str
) -> None:
    section = lesson.sections.first()
    assert section is not None
    client = client_for(people.teacher)
    before = counts()
    response = send(client, method, path.format(lesson=lesson.pk, section=section.pk), body)
    assert response.status_code == 422, response.content
    assert counts() == before


def test_a_long_body_within_the_limit_and_line_breaks_are_kept(
    people: People, lesson: Lesson
) -> None:
    section = lesson.sections.first()
    assert section is not None
    text = "Сатри якум\n\tсатри дуюм\n" + "в" * 19_000
    response = client_for(people.teacher).put(
        f"/api/lessons/{lesson.pk}/sections/{section.pk}",
        {"body": text, "revision": section.revision},
        content_type="application/json",
    )
    assert response.status_code == 200
    section.refresh_from_db()
    assert section.body == text


def test_the_schema_states_the_limits(people: People) -> None:
    schema = client_for(people.teacher).get("/api/openapi.json").json()["components"]["schemas"]
    name = schema["ClassroomIn"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (1, 120)
    assert schema["ClassroomIn"]["properties"]["grade"]["minimum"] == 1
    assert schema["SectionIn"]["properties"]["body"]["maxLength"] == 20_000
    classes = schema["PublishIn"]["properties"]["classes"]["items"]
    assert (classes["minimum"], classes["maximum"]) == (1, 2**31 - 1)
