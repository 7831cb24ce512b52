"""Fixtures for lessons: a topic with its textbook indexed, the tiny real model, and a
scripted model client for the paths that need Tajik text (no model that writes Tajik runs in
tests: the tiny model has random weights)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from modelops.llm.types import ChatMessage, GenerationParams
from modelops.models import ModelVersion
from soro_web.curriculum.models import Grade, Subject, Topic
from soro_web.lessons.models import Lesson
from soro_web.lessons.services import lesson_create
from tests.conftest import People
from tests.factories import GradeFactory, SubjectFactory, TopicFactory
from tests.modelops.conftest import (  # noqa: F401 - fixtures
    gguf_path,
    openai_server,
    tiny_model_dir,
    tokenizer_dir,
)
from tutoring.services import DEMO_TEXTBOOKS, textbook_ingest_run, textbook_register_file

TOPIC_NAME = "Муодилаи хаттӣ бо як тағйирёбанда"


@pytest.fixture
def topic(db) -> Topic:  # type: ignore[no-untyped-def]
    return TopicFactory(
        code="math-7-02-01",
        name=TOPIC_NAME,
        subject=SubjectFactory(code="math"),
        grade=GradeFactory(number=7),
    )


@pytest.fixture
def lesson(people: People, topic: Topic) -> Lesson:
    return lesson_create(teacher=people.teacher, topic=topic)


@pytest.fixture
def textbook(settings, tmp_path: Path, topic: Topic):  # type: ignore[no-untyped-def]
    """The demo Algebra 7 textbook, ingested and indexed (BM25 only, for speed)."""
    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    edition = textbook_register_file(
        path=DEMO_TEXTBOOKS / "math-7.md",
        title="Алгебра 7",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    assert edition is not None
    textbook_ingest_run(edition_id=edition.pk)
    edition.refresh_from_db()
    assert edition.status == "ready"
    return edition.textbook


@pytest.fixture(scope="session")
def session_models_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:  # noqa: F811
    directory = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_model_dir, directory / "tiny")
    return directory


@pytest.fixture
def tiny_version(db, settings, session_models_dir: Path) -> ModelVersion:  # type: ignore[no-untyped-def]
    """The tiny random Gemma 3 as the active model: the real local engine path."""
    settings.SORO_MODELS_DIR = session_models_dir
    settings.SORO_LLM_URL = None
    return ModelVersion.objects.create(name="tiny", stage="base", path="tiny", is_active=True)


class ScriptedClient:
    """Streams a fixed Tajik text in pieces and records what it was asked.

    A double, because no model that writes Tajik runs in tests (the tiny model is random);
    everything around it (generation_stream, the language check, the log) is real."""

    name = "scripted"

    def __init__(self, text: str) -> None:
        self.text = text
        self.requests: list[tuple[list[ChatMessage], GenerationParams, list[str]]] = []

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        self.requests.append((list(messages), params, list(context)))
        for word in self.text.split(" "):
            yield word + " "

    def health(self) -> dict:
        return {"ok": True, "detail": "scripted"}


TAJIK_DRAFT = (
    "Хонандагон муодилаи хаттиро бо як тағйирёбанда ҳал карданро меомӯзанд [1]. "
    "Онҳо решаи муодиларо меёбанд ва ҷавобро месанҷанд [2]. "
    "Дар охири дарс ҳар як хонанда се муодиларо мустақилона ҳал мекунад."
)


@pytest.fixture
def tajik_client() -> ScriptedClient:
    return ScriptedClient(TAJIK_DRAFT)
