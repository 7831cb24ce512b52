"""Exam practice API for mobile clients: practice by topic and attempts (start, answer,
submit, review), with the same rules as the pages: students only; another student's attempt
is 404; answers after the deadline are refused (422) and the attempt is submitted; keys are
sent only with feedback and after submission."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Router, Status

from soro_web.http import AuthenticatedRequest
from soro_web.schema_types import Id, errors
from tutoring.exams import services
from tutoring.exams.models import Attempt
from tutoring.exams.schemas import (
    AnswerIn,
    AttemptOut,
    AttemptStartIn,
    FeedbackOut,
    Position,
    QuestionOut,
    ReviewOut,
    SavedOut,
    TopicMasteryOut,
)

router = Router(tags=["exams"])


def _student(request: AuthenticatedRequest) -> None:
    from django.core.exceptions import PermissionDenied

    if not request.user.is_student:
        raise PermissionDenied(_("Exam practice is for students."))


def _attempt_out(attempt: Attempt, questions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "id": attempt.pk,
        "test_id": attempt.test_id,
        "title": attempt.test.title,
        "started_at": attempt.started_at,
        "deadline": attempt.deadline,
        "seconds_left": attempt.seconds_left() if not attempt.is_submitted else 0,
        "submitted_at": attempt.submitted_at,
        "score": number(attempt.score),
        "max_score": number(attempt.max_score),
        "scaled": number(attempt.scaled),
        "scaled_max": attempt.test.scaled_max,
        "questions": questions or [],
    }


def _answer_data(payload: AnswerIn) -> dict[str, Any]:
    return payload.dict(exclude_none=True)


@router.get("/exams/practice/topics", response={200: list[TopicMasteryOut], **errors(403)})
def exams_practice_topics(request: AuthenticatedRequest):  # type: ignore[no-untyped-def]
    _student(request)
    return [
        {**vars(topic), "percent": topic.percent, "is_weak": topic.is_weak}
        for topic in services.practice_topics(student=request.user)
    ]


@router.get("/exams/practice/next", response={200: QuestionOut, 204: None, **errors(403, 404)})
def exams_practice_next(request: AuthenticatedRequest, topic_id: Id | None = None):  # type: ignore[no-untyped-def]
    """The next practice item of a topic (or of the weak topics without ``topic_id``)."""
    item = services.practice_next(student=request.user, topic_id=topic_id)
    if item is None or item.current is None:
        return Status(204, None)
    version = item.current
    public = services.question_public(
        item_type=version.type, stem=version.stem, content=version.content
    )
    return {"id": item.pk, **public}


@router.post(
    "/exams/practice/items/{item_id}/answer", response={200: FeedbackOut, **errors(400, 403, 404)}
)
def exams_practice_answer(request: AuthenticatedRequest, item_id: Id, payload: AnswerIn):  # type: ignore[no-untyped-def]
    feedback = services.practice_answer(
        student=request.user, item_id=item_id, data=_answer_data(payload)
    )
    assert feedback.item.current is not None
    return {
        "item_id": feedback.item.pk,
        "is_correct": feedback.is_correct,
        "fraction": feedback.fraction,
        "key": feedback.key,
        "explanation": feedback.item.current.explanation,
        "citation": feedback.citation,
        "citation_url": feedback.citation_url,
    }


@router.post("/exams/attempts", response={201: AttemptOut, **errors(400, 403, 404)})
def exams_attempt_start(request: AuthenticatedRequest, payload: AttemptStartIn):  # type: ignore[no-untyped-def]
    """Start a mock exam (``blueprint_id``) or start/resume a class test (``test_id``)."""
    _student(request)
    if bool(payload.blueprint_id) == bool(payload.test_id):
        raise ValidationError(_("Give either a blueprint or a test."))
    if payload.blueprint_id:
        attempt = services.mock_start(student=request.user, blueprint_id=payload.blueprint_id)
    else:
        attempt = services.assigned_start(student=request.user, test_id=payload.test_id or 0)
    state = services.attempt_state(user=request.user, pk=attempt.pk)
    return Status(201, _attempt_out(state.attempt, state.questions))


@router.get("/exams/attempts/{attempt_id}", response={200: AttemptOut, **errors(404)})
def exams_attempt_detail(request: AuthenticatedRequest, attempt_id: Id):  # type: ignore[no-untyped-def]
    """The attempt with its questions and saved answers (resume on another device)."""
    state = services.attempt_state(user=request.user, pk=attempt_id)
    return _attempt_out(state.attempt, state.questions)


@router.put(
    "/exams/attempts/{attempt_id}/answers/{position}",
    response={200: SavedOut, **errors(400, 403, 404)},
)
def exams_attempt_answer(  # type: ignore[no-untyped-def]
    request: AuthenticatedRequest, attempt_id: Id, position: Position, payload: AnswerIn
):
    saved = services.attempt_answer_save(
        user=request.user, attempt_id=attempt_id, position=position, data=_answer_data(payload)
    )
    return {"position": position, "answer": saved.answer, "saved_at": saved.saved_at}


@router.post("/exams/attempts/{attempt_id}/submit", response={200: AttemptOut, **errors(403, 404)})
def exams_attempt_submit(request: AuthenticatedRequest, attempt_id: Id):  # type: ignore[no-untyped-def]
    """Submit (a second call changes nothing and answers the same result)."""
    attempt = services.attempt_submit(attempt_id=attempt_id, user=request.user)
    return _attempt_out(attempt)


@router.get("/exams/attempts/{attempt_id}/review", response={200: ReviewOut, **errors(403, 404)})
def exams_attempt_review(request: AuthenticatedRequest, attempt_id: Id):  # type: ignore[no-untyped-def]
    review = services.attempt_review(user=request.user, pk=attempt_id)
    return {
        "attempt": _attempt_out(review.attempt),
        "by_subject": [
            {"name": n, "earned": float(e), "total": float(t)} for n, e, t in review.by_subject
        ],
        "by_part": [
            {"name": n, "earned": float(e), "total": float(t)} for n, e, t in review.by_part
        ],
        "rows": [
            {
                "position": row.position,
                "section": row.section,
                "part": row.part,
                "stem": row.version.stem,
                "points": float(row.points),
                "earned": float(row.earned),
                "answer": row.answer,
                "is_correct": row.is_correct,
                "key": row.key,
                "explanation": row.version.explanation,
                "citation": row.citation,
            }
            for row in review.rows
        ],
    }
