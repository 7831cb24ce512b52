from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Schema

from soro_web.schema_types import BodyId, Number, OneLine
from tutoring.exams.services.scoring import MAX_TEXT

# A question's place in an attempt (1, 2, …); no exam is longer than this.
Position = Annotated[int, Field(ge=1, le=1000)]
# An option's index (choice) or a right-column index (matching).
Option = Annotated[int, Field(ge=0, le=25), Number]


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

    choice: Option | Annotated[str, Field(min_length=1, max_length=5), OneLine] | None = None
    pairs: Annotated[dict[str, Option], Field(max_length=26)] | None = None
    text: Annotated[str, Field(max_length=MAX_TEXT), OneLine] | None = None


class FeedbackOut(Schema):
    item_id: int
    is_correct: bool
    fraction: float
    key: str
    explanation: str
    citation: str
    citation_url: str


def _only(given: str) -> dict[str, Any]:
    other = "test_id" if given == "blueprint_id" else "blueprint_id"
    return {
        "required": [given],
        "properties": {given: {"type": "integer"}, other: {"type": "null"}},
    }


class AttemptStartIn(Schema):
    """Exactly one of ``blueprint_id`` and ``test_id``."""

    model_config = {"json_schema_extra": {"oneOf": [_only("blueprint_id"), _only("test_id")]}}
    blueprint_id: BodyId | None = Field(None, description="Start a mock exam; or give test_id")
    test_id: BodyId | None = Field(None, description="Start or resume a class test")


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
