"""Fixtures for the tutor: the lessons' topic and indexed Algebra 7 textbook, a recording
model client, and a practice-item provider registered the way exam practice will."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable
from modelops.prompts import TutorItem
from soro_web.accounts.models import User
from tests.lessons.conftest import (  # noqa: F401 - fixtures
    gguf_path,
    session_models_dir,
    textbook,
    tiny_model_dir,
    tiny_version,
    tokenizer_dir,
    topic,
)
from tutoring.tutor.services import (
    ItemRefusal,
    tutor_item_provider_register,
    tutor_item_provider_unregister,
)

TAJIK_REPLY = (
    "Аввал фикр кунед: дар муодила кадом амал бо тағйирёбанда иҷро шудааст [1]? "
    "Амали баръаксро ба ҳарду тараф татбиқ кунед."
)


class RecordingClient:
    """Streams a fixed Tajik reply and records exactly what the engine was sent (messages
    and context): a double at the engine's boundary, because the leak test asserts on the
    context sent and the tiny random model's words prove nothing. Everything before it
    (prompt builders, generation_stream, the log, the language check) is real.

    ``cut_after`` pieces, the stream breaks the way a dropped server connection does."""

    name = "recording"

    def __init__(self, text: str = TAJIK_REPLY, *, cut_after: int | None = None) -> None:
        self.text = text
        self.cut_after = cut_after
        self.requests: list[tuple[list[ChatMessage], list[str]]] = []

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        self.requests.append((list(messages), list(context)))
        for number, word in enumerate(self.text.split(" ")):
            if self.cut_after is not None and number >= self.cut_after:
                raise ModelUnavailable("interrupted", "the connection dropped")
            yield word + " "

    def health(self) -> dict:
        return {"ok": True, "detail": "recording"}

    def sent_text(self) -> str:
        """Everything the model would read, as one string."""
        return "\n".join(
            [m.content for messages, _c in self.requests for m in messages]
            + [c for _m, context in self.requests for c in context]
        )


@pytest.fixture
def recording() -> RecordingClient:
    return RecordingClient()


SECRET_KEY = "7381"
SECRET_EXPLANATION = "Шарҳи пинҳонӣ: ҷавоб 7381 аст, зеро 7000 + 381 = 7381."
ITEMS: dict[str, TutorItem] = {
    # Open: the provider "forgets" to leave the key out; the tutor must drop it anyway.
    "open": TutorItem(
        stem="Ҳосили ҷамъи 7000 ва 381 чанд аст?",
        key=SECRET_KEY,
        explanation=SECRET_EXPLANATION,
    ),
    "answered": TutorItem(
        stem="Ҳосили ҷамъи 7000 ва 381 чанд аст?",
        student_answer="7391",
        is_correct=False,
        key=SECRET_KEY,
        explanation=SECRET_EXPLANATION,
    ),
}


def practice_provider(student: User, reference: str) -> TutorItem | ItemRefusal | None:
    if reference == "in-exam":
        return ItemRefusal(
            reason="exam_open", message="Ёрдамчӣ ҳангоми имтиҳони озмоишӣ хомӯш аст."
        )
    return ITEMS.get(reference)


@pytest.fixture
def practice_items() -> Iterator[None]:
    tutor_item_provider_register("practice", practice_provider)
    yield
    tutor_item_provider_unregister("practice")
