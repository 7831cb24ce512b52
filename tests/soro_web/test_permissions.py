"""Every URL pattern of the project has an entry in the role × route matrix, and holds to it.

Adding a route without deciding who may use it fails ``test_every_route_is_in_the_matrix``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import ROLES, People, client_for
from tests.factories import TopicFactory

A, S, SO, T, TO, ST = ROLES  # anonymous, student, student_other, teacher, teacher_other, staff


@dataclass
class Rule:
    method: str
    expect: dict[str, int | set[int]]
    kwargs: Callable[[People], dict[str, Any]] = lambda people: {}
    data: Callable[[People], dict[str, Any]] | None = None
    json: bool = False
    follow_to: dict[str, str] = field(default_factory=dict)


def every(status: int | set[int]) -> dict[str, int | set[int]]:
    return dict.fromkeys(ROLES, status)


def signed_in(anonymous: int, others: int) -> dict[str, int | set[int]]:
    return {A: anonymous, **dict.fromkeys(ROLES[1:], others)}


def only(allowed: set[str], ok: int, denied: int, anonymous: int) -> dict[str, int | set[int]]:
    return {role: anonymous if role == A else ok if role in allowed else denied for role in ROLES}


def an_edition():  # type: ignore[no-untyped-def]
    from soro_web.curriculum.models import Grade, Subject
    from tutoring.models import Textbook, TextbookEdition

    textbook = Textbook.objects.create(
        title="Таърих 11", subject=Subject.objects.first(), grade=Grade.objects.first()
    )
    return TextbookEdition.objects.create(textbook=textbook, status="ready")


def teachers_token(people: People) -> dict[str, Any]:
    from soro_web.accounts.services import api_token_create

    return {"token_id": api_token_create(user=people.teacher)[0].pk}


def own_class(people: People) -> dict[str, Any]:
    return {"pk": people.classroom.pk}


def own_class_api(people: People) -> dict[str, Any]:
    return {"classroom_id": people.classroom.pk}


def a_lesson(people: People):  # type: ignore[no-untyped-def]
    """The teacher's lesson (one per test), with text, published to the teacher's class."""
    cached = getattr(people, "_lesson", None)
    if cached is not None:
        return cached
    from soro_web.curriculum.models import Topic
    from soro_web.lessons.services import lesson_create, lesson_publish

    topic = Topic.objects.filter(code="math-7-01-01").first() or TopicFactory()
    lesson = lesson_create(teacher=people.teacher, topic=topic)
    lesson.sections.filter(kind="objectives").update(body="Хонандагон муодиларо ҳал мекунанд.")
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    people._lesson = lesson  # type: ignore[attr-defined]
    return lesson


def own_lesson(people: People) -> dict[str, Any]:
    return {"pk": a_lesson(people).pk}


def own_section(people: People) -> dict[str, Any]:
    lesson = a_lesson(people)
    return {"pk": lesson.pk, "section_pk": lesson.sections.first().pk}


def own_section_api(people: People) -> dict[str, Any]:
    lesson = a_lesson(people)
    return {"lesson_id": lesson.pk, "section_id": lesson.sections.first().pk}


def own_version(people: People) -> dict[str, Any]:
    lesson = a_lesson(people)
    return {"pk": lesson.pk, "version_pk": lesson.versions.first().pk}


def section_save_data(people: People) -> dict[str, Any]:
    section = a_lesson(people).sections.first()
    return {"title": section.title, "body": "Матни нав", "revision": section.revision}


def a_chat(people: People):  # type: ignore[no-untyped-def]
    """The student's tutor chat (one per test), whose reply cited a textbook passage."""
    cached = getattr(people, "_chat", None)
    if cached is not None:
        return cached
    from tutoring.models import Passage
    from tutoring.tutor.models import Conversation, Message

    edition = an_edition()
    edition.is_current = True
    edition.save()
    passage = Passage.objects.create(
        edition=edition, textbook=edition.textbook, page=4, text="Сомониён", order=0
    )
    chat = Conversation.objects.create(user=people.student, kind="tutor", title="Сомониён")
    Message.objects.create(conversation=chat, role="user", text="Сомониён киҳо буданд?")
    Message.objects.create(
        conversation=chat, role="assistant", text="Фикр кунед [1].", cited_passage_ids=[passage.pk]
    )
    people._chat = (chat, passage)  # type: ignore[attr-defined]
    return people._chat


def own_chat(people: People) -> dict[str, Any]:
    return {"pk": a_chat(people)[0].pk}


def own_chat_api(people: People) -> dict[str, Any]:
    return {"conversation_id": a_chat(people)[0].pk}


def cited_passage(people: People) -> dict[str, Any]:
    chat, passage = a_chat(people)
    return {"pk": chat.pk, "passage_id": passage.pk}


def teacher_reply(people: People) -> dict[str, Any]:
    """A reply of Soro in the teacher's own chat."""
    from tutoring.tutor.models import Conversation, Message

    chat = Conversation.objects.create(user=people.teacher, kind="teacher")
    Message.objects.create(conversation=chat, role="user", text="Муодила чист?")
    reply = Message.objects.create(conversation=chat, role="assistant", text="Баробарӣ.")
    return {"pk": chat.pk, "message_pk": reply.pk}


# Who may use the tutor: students and teachers chat; a chat is its owner's; the student's
# teachers read it (and staff see counts only).
CHATTERS = {S, SO, T, TO}
CHAT_OWNER_ONLY = {A: 302, S: 200, SO: 404, T: 404, TO: 404, ST: 403}
STUDENTS_TEACHER = {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 403}


def an_exam(people: People):  # type: ignore[no-untyped-def]
    """An approved item of the teacher's school, a one-item blueprint, the student's mock
    attempt at it and a class test for the teacher's class (one set per test)."""
    cached = getattr(people, "_exam", None)
    if cached is not None:
        return cached
    from datetime import timedelta
    from types import SimpleNamespace

    from django.utils import timezone

    from soro_web.curriculum.models import Topic
    from tutoring.exams.models import Blueprint
    from tutoring.exams.services import exam_assign, item_approve, item_save, mock_start

    topic = Topic.objects.filter(code="math-7-01-01").first() or TopicFactory()
    item = item_save(
        user=people.teacher,
        data={
            "type": "choice",
            "topic": topic.code,
            "part": "B",
            "difficulty": 1,
            "stem": "2 + 2 = ?",
            "options": ["3", "4", "5", "6"],
            "answer": 1,
            "explanation": "Ду ва ду чор мешавад.",
        },
    )
    item_approve(user=people.teacher, item=item)
    blueprint = Blueprint.objects.create(
        code="one",
        name="Як савол",
        minutes=5,
        sections=[{"subject": topic.subject.code, "counts": {"choice": 1}}],
    )
    now = timezone.now()
    exam = SimpleNamespace(
        item=item,
        blueprint=blueprint,
        attempt=mock_start(student=people.student, blueprint_id=blueprint.pk),
        test=exam_assign(
            teacher=people.teacher,
            classroom_id=people.classroom.pk,
            title="Санҷиш",
            minutes=5,
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(days=1),
            item_codes=[item.code],
        ),
    )
    people._exam = exam  # type: ignore[attr-defined]
    return exam


def exam_item(people: People) -> dict[str, Any]:
    return {"pk": an_exam(people).item.pk}


def exam_attempt(people: People) -> dict[str, Any]:
    return {"pk": an_exam(people).attempt.pk}


def exam_attempt_api(people: People) -> dict[str, Any]:
    return {"attempt_id": an_exam(people).attempt.pk}


def exam_test(people: People) -> dict[str, Any]:
    return {"pk": an_exam(people).test.pk}


# Exam pages: students practise and sit their own attempts; teachers (and staff) the bank.
STUDENT_PAGE = only({S, SO}, 200, 403, 302)
OWN_ATTEMPT = {A: 302, S: 200, SO: 404, T: 403, TO: 403, ST: 403}
OWN_ATTEMPT_POST = {**OWN_ATTEMPT, S: 302}
SCHOOL_ITEM = {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 200}
CLASS_TEST = {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 200}
OWN_ATTEMPT_API = {A: 401, S: 200, SO: 404, T: 404, TO: 404, ST: 404}
STUDENT_API = only({S, SO}, 200, 403, 401)


def an_assignment(people: People):  # type: ignore[no-untyped-def]
    """The teacher's demo assignment (30 answers), with one grade waiting for review."""
    cached = getattr(people, "_assignment", None)
    if cached is not None:
        return cached
    from soro_web.grading.services.demo import grading_demo_load
    from soro_web.grading.services.jobs import Draft, grades_write

    assignment = grading_demo_load(classroom=people.classroom)
    answer = assignment.answers.get(student__username="umed", question__number=1)
    (grade,) = grades_write(
        [Draft(answer.pk, 0, "exact-1", "review", [0.0], 1.0, reasons=["empty"])], job=None
    )
    people._assignment, people._grade = assignment, grade  # type: ignore[attr-defined]
    return assignment


def own_assignment(people: People) -> dict[str, Any]:
    return {"pk": an_assignment(people).pk}


def own_open_question(people: People) -> dict[str, Any]:
    assignment = an_assignment(people)
    return {"pk": assignment.pk, "question_pk": assignment.questions.get(kind="open").pk}


def own_grade(people: People) -> dict[str, Any]:
    assignment = an_assignment(people)
    return {"pk": assignment.pk, "grade_pk": people._grade.pk}  # type: ignore[attr-defined]


# Who may use the lesson pages: the owner changes; the class's students and staff read.
OWNER_ONLY_PAGE = {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 403}
OWNER_ONLY_POST = {A: 302, S: 403, SO: 403, T: 302, TO: 404, ST: 403}
# Print and downloads: the class's students too (their sections of the published version).
CLASS_READ = {A: 302, S: 200, SO: 404, T: 200, TO: 404, ST: 200}

MATRIX: dict[str, Rule] = {
    "home": Rule("get", signed_in(200, 302)),
    "dashboard": Rule("get", signed_in(302, 200)),
    # No worker or model runs in this test, so health is reported as 503, to everyone.
    "healthz": Rule("get", every(503)),
    "favicon": Rule("get", every(200)),
    "set_language": Rule("post", every(302), data=lambda p: {"language": "ru", "next": "/"}),
    "accounts:login": Rule("get", signed_in(200, 302)),
    "accounts:logout": Rule("post", every(302)),
    "accounts:signup": Rule("get", signed_in(200, 302)),
    "accounts:classroom_join": Rule("get", only({S, SO}, 200, 403, 302)),
    "accounts:classroom_create": Rule("get", only({T, TO}, 200, 403, 302)),
    "accounts:classroom_detail": Rule(
        "get", {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 200}, kwargs=own_class
    ),
    "accounts:classroom_regenerate_code": Rule(
        "post", {A: 302, S: 403, SO: 403, T: 302, TO: 404, ST: 302}, kwargs=own_class
    ),
    "accounts:teacher_list": Rule("get", only({ST}, 200, 403, 302)),
    # The lockout page's unlock form: for anyone, signed in or not.
    "accounts:unlock": Rule("get", every(200)),
    # A one-time unlock code for the teacher's student: their teacher or staff.
    "accounts:unlock_code_create": Rule(
        "post",
        {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 200},
        kwargs=lambda p: {"user_id": p.student.pk},
    ),
    "curriculum:overview": Rule("get", signed_in(302, 200)),
    "curriculum:units": Rule(
        "get", signed_in(302, 200), kwargs=lambda p: {"subject_code": "math", "grade_number": 7}
    ),
    "modelops:playground": Rule("get", only({ST}, 200, 403, 302)),
    # Invalid form (empty message) so no model is needed: staff get the form errors.
    "modelops:playground_stream": Rule(
        "post", only({ST}, 422, 403, 302), data=lambda p: {"message": ""}
    ),
    "tutoring:textbook_list": Rule("get", only({T, TO, ST}, 200, 403, 302)),
    "tutoring:edition_progress": Rule(
        "get", only({T, TO, ST}, 200, 403, 302), kwargs=lambda p: {"pk": an_edition().pk}
    ),
    "tutoring:search": Rule("get", signed_in(302, 200), data=lambda p: {"q": "Сомониён"}),
    "api:search_passages": Rule("get", signed_in(401, 200), data=lambda p: {"q": "Сомониён"}),
    # The API's own description is public, as in every ninja project.
    "api:openapi-json": Rule("get", every(200)),
    "api:openapi-view": Rule("get", every(200)),
    "api:api-root": Rule("get", every(404)),  # ninja's bare root lists nothing
    "api:me": Rule("get", signed_in(401, 200)),
    "api:token_create": Rule(
        "post", every(401), json=True, data=lambda p: {"username": "nobody", "password": "wrong"}
    ),
    "api:token_list": Rule("get", signed_in(401, 200)),
    # A token of the teacher's: only its owner may revoke it.
    "api:token_revoke": Rule(
        "delete",
        {A: 401, S: 404, SO: 404, T: 204, TO: 404, ST: 404},
        kwargs=teachers_token,
        json=True,
    ),
    "api:classes_list": Rule("get", signed_in(401, 200)),
    "api:classes_create": Rule(
        "post",
        only({T, TO}, 201, 403, 401),
        json=True,
        data=lambda p: {"name": "9В", "subject": "math", "grade": 7},
    ),
    "api:classes_join": Rule(
        "post",
        only({S, SO}, 201, 403, 401),
        json=True,
        data=lambda p: {"join_code": p.classroom.join_code},
    ),
    "api:classes_detail": Rule(
        "get", {A: 401, S: 404, SO: 404, T: 200, TO: 404, ST: 200}, kwargs=own_class_api
    ),
    "api:classes_regenerate_code": Rule(
        "post", {A: 401, S: 404, SO: 404, T: 200, TO: 404, ST: 200}, kwargs=own_class_api, json=True
    ),
    "lessons:lesson_list": Rule("get", signed_in(302, 200)),
    "lessons:lesson_create": Rule("get", only({T, TO}, 200, 403, 302)),
    "lessons:lesson_library": Rule("get", only({T, TO}, 200, 403, 302)),
    "lessons:lesson_view": Rule(
        "get", {A: 302, S: 200, SO: 404, T: 200, TO: 404, ST: 200}, kwargs=own_lesson
    ),
    "lessons:lesson_builder": Rule("get", OWNER_ONLY_PAGE, kwargs=own_lesson),
    "lessons:lesson_update": Rule(
        "post",
        OWNER_ONLY_POST,
        kwargs=own_lesson,
        data=lambda p: {"title": "Дарси нав", "duration_minutes": 45},
    ),
    # Without HX-Request these answer with the builder (a redirect); no textbook is indexed.
    "lessons:lesson_passages": Rule(
        "get", {**OWNER_ONLY_PAGE, T: 302}, kwargs=own_lesson, data=lambda p: {"refresh": "1"}
    ),
    "lessons:section_add": Rule(
        "post", OWNER_ONLY_POST, kwargs=own_lesson, data=lambda p: {"kind": "custom"}
    ),
    "lessons:section_detail": Rule("get", {**OWNER_ONLY_PAGE, T: 302}, kwargs=own_section),
    "lessons:section_update": Rule(
        "post", OWNER_ONLY_POST, kwargs=own_section, data=section_save_data
    ),
    "lessons:section_remove": Rule("post", OWNER_ONLY_POST, kwargs=own_section),
    "lessons:section_audience": Rule(
        "post", OWNER_ONLY_POST, kwargs=own_section, data=lambda p: {"audience": "teacher"}
    ),
    "lessons:section_move": Rule(
        "post", OWNER_ONLY_POST, kwargs=own_section, data=lambda p: {"direction": "down"}
    ),
    # No passages and no "draft without the textbook": answered at once, no model needed.
    "lessons:section_draft": Rule("post", OWNER_ONLY_POST, kwargs=own_section),
    "lessons:section_proposal": Rule(
        "post", OWNER_ONLY_POST, kwargs=own_section, data=lambda p: {"action": "discard"}
    ),
    "lessons:section_insert": Rule("post", OWNER_ONLY_POST, kwargs=own_section),
    "lessons:lesson_history": Rule("get", OWNER_ONLY_PAGE, kwargs=own_lesson),
    "lessons:lesson_version_restore": Rule("post", OWNER_ONLY_POST, kwargs=own_version),
    "lessons:lesson_publish": Rule("get", OWNER_ONLY_PAGE, kwargs=own_lesson),
    "lessons:lesson_copy": Rule("post", OWNER_ONLY_POST, kwargs=own_lesson),
    "lessons:lesson_delete": Rule("post", OWNER_ONLY_POST, kwargs=own_lesson),
    "lessons:lesson_print": Rule("get", CLASS_READ, kwargs=own_lesson),
    "lessons:lesson_pdf": Rule("get", CLASS_READ, kwargs=own_lesson),
    "lessons:lesson_docx": Rule("get", CLASS_READ, kwargs=own_lesson),
    "api:lessons_list": Rule("get", signed_in(401, 200)),
    "api:lessons_create": Rule(
        "post",
        only({T, TO}, 201, 403, 401),
        json=True,
        data=lambda p: {"topic": "math-7-01-01"},
    ),
    "api:lessons_detail": Rule(
        "get",
        {A: 401, S: 200, SO: 404, T: 200, TO: 404, ST: 200},
        kwargs=lambda p: {"lesson_id": a_lesson(p).pk},
    ),
    # Readers who may not change it get 403; people it is not shared with, 404.
    "api:lessons_section_update": Rule(
        "put",
        {A: 401, S: 403, SO: 404, T: 200, TO: 404, ST: 403},
        kwargs=own_section_api,
        data=section_save_data,
        json=True,
    ),
    "api:lessons_publish": Rule(
        "post",
        {A: 401, S: 403, SO: 404, T: 200, TO: 404, ST: 403},
        kwargs=lambda p: {"lesson_id": a_lesson(p).pk},
        data=lambda p: {"classes": [p.classroom.pk], "publish_anyway": True},
        json=True,
    ),
    "tutor:conversation_list": Rule("get", only(CHATTERS, 200, 403, 302)),
    # No data: a new chat without a topic, then its page.
    "tutor:conversation_start": Rule("post", only(CHATTERS, 302, 403, 302)),
    "tutor:conversation_detail": Rule("get", CHAT_OWNER_ONLY, kwargs=own_chat),
    # An empty message: the owner gets the form errors, no model is needed.
    "tutor:conversation_stream": Rule(
        "post", {**CHAT_OWNER_ONLY, S: 422}, kwargs=own_chat, data=lambda p: {"text": ""}
    ),
    "tutor:passage_detail": Rule("get", {**CHAT_OWNER_ONLY, T: 200}, kwargs=cited_passage),
    "tutor:reply_insert": Rule(
        "get", {A: 302, S: 403, SO: 403, T: 200, TO: 404, ST: 403}, kwargs=teacher_reply
    ),
    "tutor:student_chats": Rule("get", only({T, TO, ST}, 200, 403, 302)),
    "tutor:student_chat_detail": Rule("get", STUDENTS_TEACHER, kwargs=own_chat),
    "tutor:note_add": Rule(
        "post", {**STUDENTS_TEACHER, T: 302}, kwargs=own_chat, data=lambda p: {"text": "Дидам."}
    ),
    "api:tutor_conversations_list": Rule("get", only(CHATTERS, 200, 403, 401)),
    "api:tutor_conversations_create": Rule(
        "post", only(CHATTERS, 201, 403, 401), json=True, data=lambda p: {}
    ),
    "api:tutor_conversations_detail": Rule(
        "get", {**dict.fromkeys(ROLES, 404), A: 401, S: 200}, kwargs=own_chat_api
    ),
    # An empty message: refused with 422 before any model is asked.
    "api:tutor_messages_send": Rule(
        "post",
        {**dict.fromkeys(ROLES, 404), A: 401, S: 422},
        kwargs=own_chat_api,
        json=True,
        data=lambda p: {"text": "  "},
    ),
    # Batch grading: the class's teacher only (another teacher gets 404, staff 403);
    # the student page: the class's students.
    "grading:assignment_list": Rule("get", {**signed_in(302, 200), ST: 403}),
    "grading:assignment_create": Rule("get", only({T, TO}, 200, 403, 302)),
    "grading:assignment_detail": Rule("get", OWNER_ONLY_PAGE, kwargs=own_assignment),
    "grading:question_add": Rule(
        "post",
        OWNER_ONLY_POST,
        kwargs=own_assignment,
        data=lambda p: {
            "text": "Пойтахт?",
            "kind": "exact",
            "expected_answer": "Бухоро",
            "points": 1,
        },
    ),
    # No test chosen: back to the list with the error (teachers); others are refused.
    "grading:assignment_from_exam": Rule("post", only({T, TO}, 302, 403, 302)),
    "grading:rubric_edit": Rule("get", OWNER_ONLY_PAGE, kwargs=own_open_question),
    # No file: the teacher gets the form back with its error.
    "grading:answers_import": Rule("post", {**OWNER_ONLY_POST, T: 422}, kwargs=own_assignment),
    "grading:grade_all": Rule("post", OWNER_ONLY_POST, kwargs=own_assignment),
    "grading:job_progress": Rule("get", OWNER_ONLY_PAGE, kwargs=own_assignment),
    "grading:job_cancel": Rule("post", OWNER_ONLY_POST, kwargs=own_assignment),
    "grading:retry_failed": Rule("post", OWNER_ONLY_POST, kwargs=own_assignment),
    "grading:review_queue": Rule("get", OWNER_ONLY_PAGE, kwargs=own_assignment),
    "grading:grade_review": Rule("get", OWNER_ONLY_PAGE, kwargs=own_grade),
    "grading:release": Rule("post", OWNER_ONLY_POST, kwargs=own_assignment),
    "grading:audit": Rule("get", OWNER_ONLY_PAGE, kwargs=own_assignment),
    "grading:export": Rule("get", OWNER_ONLY_PAGE, kwargs=own_assignment),
    "grading:student_assignment": Rule(
        "get", {A: 302, S: 200, SO: 404, T: 403, TO: 403, ST: 403}, kwargs=own_assignment
    ),
    "api:curriculum_subjects": Rule("get", signed_in(401, 200)),
    "api:curriculum_grades": Rule("get", signed_in(401, 200)),
    "api:curriculum_topics": Rule("get", signed_in(401, 200)),
    "exams:home": Rule("get", only({S, SO, T, TO}, 200, 403, 302)),
    "exams:practice_next": Rule(
        "get", only({S, SO}, 302, 403, 302), data=lambda p: {"topic": an_exam(p).item.topic_id}
    ),
    "exams:practice_item": Rule("get", STUDENT_PAGE, kwargs=exam_item),
    "exams:practice_offline": Rule(
        "get", STUDENT_PAGE, kwargs=lambda p: {"pk": an_exam(p).item.topic_id}
    ),
    "exams:practice_pack": Rule(
        "get", STUDENT_PAGE, kwargs=lambda p: {"pk": an_exam(p).item.topic_id}
    ),
    # An empty list: nothing to store, the same answer for every student.
    "exams:practice_sync": Rule(
        "post", only({S, SO}, 200, 403, 302), data=lambda p: {"answers": []}, json=True
    ),
    "exams:practice_worker": Rule("get", every(200)),
    "exams:mock_start": Rule(
        "post", only({S, SO}, 302, 403, 302), data=lambda p: {"blueprint": an_exam(p).blueprint.pk}
    ),
    "exams:attempt": Rule("get", OWN_ATTEMPT, kwargs=exam_attempt),
    "exams:attempt_answer": Rule(
        "post",
        OWN_ATTEMPT_POST,
        kwargs=lambda p: {**exam_attempt(p), "position": 1},
        data=lambda p: {"choice": "1"},
    ),
    "exams:attempt_submit": Rule("post", OWN_ATTEMPT_POST, kwargs=exam_attempt),
    # Before submission the review sends the student back to the questions.
    "exams:attempt_review": Rule("get", {**OWN_ATTEMPT, S: 302}, kwargs=exam_attempt),
    "exams:item_list": Rule("get", only({T, TO, ST}, 200, 403, 302)),
    "exams:item_create": Rule("get", only({T, TO, ST}, 200, 403, 302)),
    "exams:item_detail": Rule("get", SCHOOL_ITEM, kwargs=exam_item),
    "exams:item_edit": Rule("get", SCHOOL_ITEM, kwargs=exam_item),
    "exams:item_approve": Rule("post", {**SCHOOL_ITEM, T: 302, ST: 302}, kwargs=exam_item),
    "exams:bank_export": Rule(
        "get", only({T, TO, ST}, 200, 403, 302), kwargs=lambda p: {"file_format": "csv"}
    ),
    "exams:test_assign": Rule("get", only({T, TO}, 200, 403, 302)),
    "exams:test_start": Rule(
        "post", {A: 302, S: 302, SO: 404, T: 403, TO: 403, ST: 403}, kwargs=exam_test
    ),
    "exams:test_results": Rule("get", CLASS_TEST, kwargs=exam_test),
    "exams:test_results_csv": Rule("get", CLASS_TEST, kwargs=exam_test),
    "exams:test_results_xlsx": Rule("get", CLASS_TEST, kwargs=exam_test),
    "exams:student_history": Rule(
        "get", CLASS_TEST, kwargs=lambda p: {"pk": p.classroom.pk, "student_pk": p.student.pk}
    ),
    "api:exams_practice_topics": Rule("get", STUDENT_API),
    "api:exams_practice_next": Rule(
        "get", STUDENT_API, data=lambda p: {"topic_id": an_exam(p).item.topic_id}
    ),
    "api:exams_practice_answer": Rule(
        "post",
        STUDENT_API,
        kwargs=lambda p: {"item_id": an_exam(p).item.pk},
        data=lambda p: {"choice": 1},
        json=True,
    ),
    "api:exams_attempt_start": Rule(
        "post",
        only({S, SO}, 201, 403, 401),
        data=lambda p: {"blueprint_id": an_exam(p).blueprint.pk},
        json=True,
    ),
    "api:exams_attempt_detail": Rule("get", OWN_ATTEMPT_API, kwargs=exam_attempt_api),
    "api:exams_attempt_answer": Rule(
        "put",
        OWN_ATTEMPT_API,
        kwargs=lambda p: {**exam_attempt_api(p), "position": 1},
        data=lambda p: {"choice": 1},
        json=True,
    ),
    "api:exams_attempt_submit": Rule("post", OWN_ATTEMPT_API, kwargs=exam_attempt_api, json=True),
    # Before submission the review is refused to its owner (403); others find nothing.
    "api:exams_attempt_review": Rule("get", {**OWN_ATTEMPT_API, S: 403}, kwargs=exam_attempt_api),
}

# The admin namespace: staff only. Everyone else is sent to the admin's sign-in page.
ADMIN_PREFIX = "admin:"
ADMIN_CATCH_ALL = "admin:None"
ADMIN_SPECIAL: dict[str, Rule] = {
    "admin:login": Rule("get", {A: 200, S: 200, SO: 200, T: 200, TO: 200, ST: 302}),
    "admin:logout": Rule("post", every(302)),
    # Autocomplete answers 403 to staff too when the request names no field.
    "admin:autocomplete": Rule("get", {**dict.fromkeys(ROLES[:-1], 302), ST: 403}),
}
# Axes' log pages are read-only: adding by hand is refused even to staff.
ADMIN_READ_ONLY_ADD = {
    "admin:axes_accessattempt_add",
    "admin:axes_accesslog_add",
    "admin:axes_accessfailurelog_add",
    "admin:modelops_generationlog_add",
    "admin:modelops_evaluationresult_add",
    "admin:modelops_corpus_add",  # corpora are built with manage.py build_corpus
    "admin:modelops_modelrun_add",  # runs are made by the actions on model versions
    "admin:modelops_modelrun_delete",  # and are a record: not deleted by hand either
    "admin:grading_gradingjob_add",  # teachers start grading from the assignment's page
}


def walk(patterns: list, namespace: str | None = None):  # type: ignore[no-untyped-def]
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            child = pattern.namespace
            full = f"{namespace}:{child}" if namespace and child else (child or namespace)
            yield from walk(pattern.url_patterns, full)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern


def all_route_names() -> list[str]:
    return sorted({name for name, _pattern in walk(get_resolver().url_patterns)})


def test_every_route_is_in_the_matrix() -> None:
    names = all_route_names()
    # The admin's final catch-all is Django's own; test_admin_routes_are_staff_only covers it.
    unnamed = [
        name
        for name in names
        if name is None or (name.endswith(":None") and name != ADMIN_CATCH_ALL)
    ]
    assert not unnamed, f"routes without a name cannot be checked: {unnamed}"
    missing = [name for name in names if name not in MATRIX and not name.startswith(ADMIN_PREFIX)]
    assert not missing, f"routes with no entry in the permission matrix: {missing}"
    stale = [name for name in MATRIX if name not in names]
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def call(rule: Rule, name: str, role: str, people: People):  # type: ignore[no-untyped-def]
    client = client_for(people.user(role))
    url = reverse(name, kwargs=rule.kwargs(people))
    data = rule.data(people) if rule.data else {}
    if rule.method == "get":
        return client.get(url, data)
    if rule.json:
        send = getattr(client, rule.method)
        return send(url, json.dumps(data), content_type="application/json")
    return client.post(url, data)


def check(status: int, expected: int | set[int], name: str, role: str) -> None:
    allowed = expected if isinstance(expected, set) else {expected}
    assert status in allowed, f"{name} as {role}: got {status}, expected {sorted(allowed)}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_route_permissions(name: str, role: str, people: People) -> None:
    TopicFactory(code="math-7-01-01")
    rule = MATRIX[name]
    response = call(rule, name, role, people)
    check(response.status_code, rule.expect[role], name, role)


def _admin_rule(name: str, pattern: URLPattern, people: People) -> Rule | None:
    if name in ADMIN_SPECIAL:
        return ADMIN_SPECIAL[name]
    if name == ADMIN_CATCH_ALL:
        return None
    non_staff = 302
    staff: int | set[int] = 200
    kwargs: dict[str, Any] = {}
    keys = set(pattern.pattern.regex.groupindex)
    if "app_label" in keys:
        kwargs["app_label"] = "accounts"
    if "content_type_id" in keys:
        from django.contrib.contenttypes.models import ContentType

        kwargs["content_type_id"] = str(ContentType.objects.get_for_model(type(people.staff)).pk)
        kwargs["object_id"] = str(people.staff.pk)
        staff = 404  # users have no public page to jump to
    elif "object_id" in keys or "id" in keys:
        model = _admin_model(name)
        if model is None:
            return None
        instance = model.objects.order_by("pk").first()
        assert instance is not None, f"{name}: create a row of {model.__name__} in the fixture"
        kwargs["object_id" if "object_id" in keys else "id"] = str(instance.pk)
    if name in ADMIN_READ_ONLY_ADD:
        staff = 403
    return Rule(
        "get",
        {**dict.fromkeys(ROLES[:-1], non_staff), ST: staff},
        kwargs=lambda _people, kwargs=kwargs: kwargs,
    )


def _admin_model(name: str):  # type: ignore[no-untyped-def]
    route = name.removeprefix(ADMIN_PREFIX)
    if route == "auth_user_password_change":  # Django's UserAdmin names it so for any model
        return apps.get_model("accounts", "User")
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if route.startswith(prefix):
            return model
    return None


def _admin_rows(people: People) -> None:
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from modelops.models import Corpus, EvaluationResult, GenerationLog, ModelRun, ModelVersion
    from soro_web.accounts.services import api_token_create
    from soro_web.curriculum.models import Grade, Subject
    from soro_web.models import WorkerHeartbeat
    from tutoring.models import Textbook

    Group.objects.create(name="reviewers")
    from soro_web.lessons.services import lesson_create

    lesson_create(teacher=people.teacher, topic=TopicFactory())
    Textbook.objects.create(
        title="Математика 7",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
    )
    version = ModelVersion.objects.create(name="gemma3-270m", stage="base", path="x")
    ModelRun.objects.create(kind="import", output_version=version)
    EvaluationResult.objects.create(
        run=ModelRun.objects.create(kind="evaluate", input_version=version),
        version=version,
        benchmark="tajik_suite",
        benchmark_sha256="0" * 64,
        group="all",
        metric="acc",
        value=0.25,
    )
    GenerationLog.objects.create(purpose="playground", backend="local", status="completed")
    Corpus.objects.create(name="demo", path="demo")
    from tutoring.models import Passage

    edition = an_edition()
    Passage.objects.create(
        edition=edition, textbook=edition.textbook, page=1, text="Сомониён", order=0
    )
    api_token_create(user=people.teacher)
    an_exam(people)  # a question, a blueprint, a test and an attempt
    from soro_web.grading.models import GradingJob

    GradingJob.objects.create(assignment=an_assignment(people), status="succeeded", total=30)
    WorkerHeartbeat.objects.create(hostname="celery@test", last_seen=timezone.now())
    # Axes' own rows, for a username no test signs in as (a sign-in would reset them).
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    request_fields = {
        "username": "ghost",
        "ip_address": "10.0.0.1",
        "user_agent": "test",
        "path_info": "/accounts/login/",
    }
    AccessAttempt.objects.create(**request_fields, http_accept="*/*", failures_since_start=1)
    AccessFailureLog.objects.create(**request_fields, http_accept="*/*")
    AccessLog.objects.create(**request_fields, http_accept="*/*")


def test_admin_routes_are_staff_only(people: People) -> None:
    _admin_rows(people)
    checked = 0
    for name, pattern in walk(get_resolver().url_patterns):
        if not name.startswith(ADMIN_PREFIX):
            continue
        rule = _admin_rule(name, pattern, people)
        if name == ADMIN_CATCH_ALL:
            for role in ROLES:
                response = client_for(people.user(role)).get("/admin/no-such-page/")
                check(response.status_code, 404 if role == ST else 302, name, role)
            continue
        assert rule is not None, f"{name}: no rule decides who may use it"
        for role in ROLES:
            response = call(rule, name, role, people)
            check(response.status_code, rule.expect[role], name, role)
        checked += 1
    assert checked > 60
