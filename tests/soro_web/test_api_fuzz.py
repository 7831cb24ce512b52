"""Schemathesis over the whole API (issue 18, item 7): every operation of ``/api/openapi.json``
is called with generated requests, valid and invalid, once with a teacher's API token and once
with a student's, in-process through the WSGI app (so it shares pytest-django's database).

The checks: no 5xx; every status, content type, header and body the schema declares; invalid
input refused; valid input not refused; a request without the token refused. Bounded and
deterministic for CI: a fixed seed, a few examples per operation, no deadline.

Ids in paths are random most of the time; some examples use the ids of the data seeded here
(a class, a lesson and its section, a chat, a practice item, an attempt, a spare token) so
the answers of real objects are checked too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

from soro_web.accounts.services import api_token_create
from soro_web.curriculum.models import Topic
from soro_web.curriculum.services import DEMO_CURRICULUM, curriculum_import
from soro_web.lessons.services import lesson_create
from soro_web.schema_types import MAX_ID
from soro_web.wsgi import application
from tests.conftest import People
from tests.factories import GradeFactory, SubjectFactory, TopicFactory
from tutoring.exams.models import Blueprint, Item
from tutoring.exams.services import DEMO_BANK, bank_import, mock_start
from tutoring.tutor.services import tutor_conversation_start

MAX_EXAMPLES = 8

# Requests that are valid by the schema but name something that must exist (a subject, a
# topic, a class code, one's own class, an item's option) or need a searchable word: only
# the stored data decides, so these operations may also answer 422 to valid input. Every
# other operation must accept what its schema allows.
DATA_DEPENDENT = {
    "POST /api/classes": "the subject code must be one of the curriculum's",
    "POST /api/classes/join": "the code must be a class's current code",
    "POST /api/lessons": "the topic code must be a leaf topic of the curriculum",
    "PUT /api/lessons/{lesson_id}/sections/{section_id}": "a title of only spaces is empty",
    "POST /api/lessons/{lesson_id}/publish": "the classes must be the teacher's own",
    "GET /api/search": "the query needs a word the index keeps (not only short words)",
    "POST /api/exams/practice/items/{item_id}/answer": "the answer must fit the item's type",
    "PUT /api/exams/attempts/{attempt_id}/answers/{position}": "the same",
    "POST /api/tutor/conversations": "the topic must exist",
    "POST /api/tutor/conversations/{conversation_id}/messages": "a message of only spaces",
}
ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]

CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-name": name,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}},
            }
            for name in DATA_DEPENDENT
        ],
        "seed": 20261202,
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            # The test sends a real token; generated Authorization headers and session
            # cookies would replace it, and turn invalid cases valid.
            "with-security-parameters": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {"enabled": True},
    }
)

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=CONFIG)

# The ids of the objects seeded for the running test, by path parameter name; the hook below
# swaps them in for some generated examples. Filled by the ``seeded`` fixture.
SEEDED: dict[str, int] = {}


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    generated = path_parameters or {}
    known = {name: SEEDED[name] for name in generated if name in SEEDED}
    # Only where the generated value is a valid id already: a negative case stays negative.
    if not known or not all(_valid_id(generated[name]) for name in known):
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **known}])


def _seed_exams(people: People) -> Topic:
    """The demo curriculum and bank, a three-question mock exam and the student's attempt at
    it (only for the exam operations: the bank takes seconds to import)."""
    curriculum_import(text=DEMO_CURRICULUM.read_text(encoding="utf-8"))
    bank_import(text=DEMO_BANK.read_text(encoding="utf-8"), file_format="json", approve=True)
    blueprint = Blueprint.objects.create(
        code="tiny",
        name="Санҷиши хурд",
        cluster=5,
        minutes=5,
        sections=[
            {
                "subject": "biology",
                "counts": {"choice": 1, "matching": 1, "short": 1},
                "points": {"choice": 1, "matching": 2, "short": 2},
            }
        ],
    )
    attempt = mock_start(student=people.student, blueprint_id=blueprint.pk)
    item = Item.objects.filter(current__isnull=False).first()
    assert item is not None
    SEEDED.update(attempt_id=attempt.pk, position=1, item_id=item.pk)
    topic = Topic.objects.leaves().filter(subject__code="math").first()
    assert topic is not None
    return topic


@pytest.fixture
def seeded(request: pytest.FixtureRequest, people: People) -> People:
    SEEDED.clear()
    if "/api/exams/" in request.node.name:
        topic = _seed_exams(people)
    else:
        topic = TopicFactory(
            code="math-7-02-01", subject=SubjectFactory(code="math"), grade=GradeFactory(number=7)
        )
    lesson = lesson_create(teacher=people.teacher, topic=topic)
    section = lesson.sections.first()
    assert section is not None
    spare, _key = api_token_create(user=people.teacher, name="spare")
    SEEDED.update(
        classroom_id=people.classroom.pk,
        lesson_id=lesson.pk,
        section_id=section.pk,
        token_id=spare.pk,
        conversation_id=tutor_conversation_start(user=people.student, topic_id=topic.pk).pk,
    )
    return people


@pytest.fixture
def in_process_requests() -> Iterator[None]:
    """Keep the test's database connection open across requests, as Django's test client
    does: Schemathesis calls the WSGI app directly, and the end of each request would close
    the connection that holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture(params=["teacher", "student"])
def bearer(
    request: pytest.FixtureRequest, seeded: People, in_process_requests: None
) -> dict[str, str]:
    _token, key = api_token_create(user=getattr(seeded, request.param), name="fuzz")
    return {"Authorization": f"Bearer {key}"}


# Generated cases and all requests sent (checks such as ignored_auth send more), by role;
# printed at the end of the module (``pytest -s``) for the figures in the report.
COUNTS: Counter[str] = Counter()
OPERATIONS: set[str] = set()


@schema.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    COUNTS["requests"] += 1


@pytest.fixture(scope="module", autouse=True)
def counts_printed() -> Iterator[None]:
    yield
    print(f"\nSchemathesis: {len(OPERATIONS)} operations, {dict(sorted(COUNTS.items()))}")


@schema.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_api_conforms_to_its_schema(
    case: Any, bearer: dict[str, str], request: pytest.FixtureRequest
) -> None:
    COUNTS[f"cases as {request.node.callspec.params['bearer']}"] += 1
    OPERATIONS.add(case.operation.label)
    case.call_and_validate(headers=bearer)
