from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Schema

from soro_web.schema_types import BodyId, ErrorOut, ManyLines, OneLine


class ConversationIn(Schema):
    lesson_id: BodyId | None = None
    topic_id: BodyId | None = None
    item_ref: Annotated[str, Field(max_length=80), OneLine] = ""


class ConversationOut(Schema):
    id: int
    kind: str
    title: str
    topic_id: int | None
    lesson_id: int | None
    item_ref: str
    model_version: str
    created_at: datetime
    updated_at: datetime


class SourceOut(Schema):
    id: int
    citation: str


class MessageOut(Schema):
    id: int
    role: str
    text: str
    sources: list[SourceOut]
    hint_level: int | None
    language: str
    is_expected_language: bool | None
    is_stopped: bool
    is_safety_reply: bool
    created_at: datetime


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut]


class MessageIn(Schema):
    text: Annotated[str, Field(min_length=1, max_length=1000), ManyLines]


class RefusalOut(ErrorOut):
    """The tutor's refusal: ``code`` says why (``off``, ``exam_open``, ``daily_limit``, …);
    a request refused before the tutor sees it (a missing CSRF header) has no code."""

    code: str | None = None
