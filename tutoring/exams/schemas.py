from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class TopicMasteryOut(Schema):
    topic_id: int
    code: str
    name: str
    subject: str
    items: int
    mastered: int
    answered: int
    percent: int
    is_weak: bool


class QuestionOut(Schema):
    """An item before it is answered: never the key."""

    id: int | None = None
    position: int | None = None
    points: float | None = None
    type: str
    stem: str
    options: list[str] | None = None
    left: list[str] | None = None
    right: list[str] | None = None
    numeric: bool | None = None
    answer: dict[str, Any] | None = None
    saved_at: datetime | None = None


class AnswerIn(Schema):
    """One of: ``choice`` (0–3 or a label А–Г / A–D), ``pairs`` ({"0": 2, …}: left index →
    right index, every left item), ``text`` (a word or a number; a decimal comma is fine)."""

    choice: int | str | None = None
    pairs: dict[str, int] | None = None
    text: str | None = None


class FeedbackOut(Schema):
    item_id: int
    is_correct: bool
    fraction: float
    key: str
    explanation: str
    citation: str
    citation_url: str


class AttemptStartIn(Schema):
    blueprint_id: int | None = None
    test_id: int | None = None


class AttemptOut(Schema):
    id: int
    test_id: int
    title: str
    started_at: datetime
    deadline: datetime
    seconds_left: int
    submitted_at: datetime | None
    score: float | None
    max_score: float | None
    scaled: float | None
    scaled_max: int
    questions: list[QuestionOut] = []


class SavedOut(Schema):
    position: int
    answer: dict[str, Any]
    saved_at: datetime


class ReviewRowOut(Schema):
    position: int
    section: str
    part: str
    stem: str
    points: float
    earned: float
    answer: dict[str, Any] | None
    is_correct: bool | None
    key: str
    explanation: str
    citation: str


class ScoreLineOut(Schema):
    name: str
    earned: float
    total: float


class ReviewOut(Schema):
    attempt: AttemptOut
    by_subject: list[ScoreLineOut]
    by_part: list[ScoreLineOut]
    rows: list[ReviewRowOut]
