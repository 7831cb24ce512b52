"""Fixtures for grading: the demo assignment in the test teacher's class, and a scripted
model client for the paths that need replies in the grading format (the tiny real model has
random weights: its replies never parse, which the tests of the real path rely on)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from modelops.llm.types import ChatMessage, GenerationParams
from soro_web.grading.models import Assignment
from soro_web.grading.services.demo import grading_demo_load
from tests.conftest import People
from tests.modelops.conftest import gguf_path, tiny_model_dir, tokenizer_dir  # noqa: F401


@pytest.fixture
def demo(people: People) -> Assignment:
    """The demo assignment (3 questions, 30 answers of 10 students) in the teacher's 7А."""
    return grading_demo_load(classroom=people.classroom)


class ScriptedClient:
    """Answers every grading prompt with the next reply of ``replies`` (cycling). A double
    because no model that writes the grading format runs in tests; the real path with the
    tiny model is tested separately."""

    name = "scripted:test"

    def __init__(self, replies: Sequence[str]) -> None:
        self.replies = list(replies)
        self.calls = 0

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        reply = self.replies[self.calls % len(self.replies)]
        self.calls += 1
        yield reply


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install a scripted client as the active model: ``scripted(["Меъёр 1: 2 …"])``."""

    def install(replies: Sequence[str]) -> ScriptedClient:
        # A double: no model that writes the rubric format runs here (see ScriptedClient).
        client = ScriptedClient(replies)
        monkeypatch.setattr("soro_web.grading.services.jobs.active_model_client", lambda: client)
        return client

    return install


@pytest.fixture(autouse=True)
def in_english() -> Iterator[None]:
    """Service messages in English here (pages pick their language per request)."""
    from django.utils import translation

    with translation.override("en"):
        yield
