from __future__ import annotations

from datetime import datetime

from ninja import Field, Schema


class ConversationIn(Schema):
    lesson_id: int | None = None
    topic_id: int | None = None
    item_ref: str = Field("", max_length=80)


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
    text: str = Field(..., max_length=1000)


class RefusalOut(Schema):
    detail: str
    code: str
