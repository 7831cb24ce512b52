"""Plain types shared by every language-model client (no Django, no torch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

ROLES = ("system", "user", "assistant")

#: Why a model could not answer. The UI translates by reason, so the set is closed.
REASONS = frozenset(
    {"busy", "down", "timeout", "invalid_request", "too_long", "load_failed", "interrupted"}
)


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation."""

    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """How much to generate and when to stop.

    ``temperature`` 0 means greedy decoding (reproducible answers for the same prompt).
    ``timeout_s`` is a deadline for the whole request, waiting for a turn included.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    timeout_s: float = 120.0


class ModelUnavailable(Exception):
    """The model could not answer; ``reason`` says why in one word from :data:`REASONS`.

    The message is plain English that a person (usually an administrator reading a log)
    can act on; the UI shows its own translated text chosen by ``reason``.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown ModelUnavailable reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"ModelUnavailable({self.reason!r}, {self.message!r})"


@runtime_checkable
class TextModelClient(Protocol):
    """What every text generator offers: the local engine and the remote client alike."""

    name: str

    def stream_chat(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        context: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply in pieces as they are produced.

        ``context`` holds retrieved passages (best first) that ground the answer. When the
        prompt is too long, passages are dropped first (from the last), then the oldest
        turns; the last user message is never dropped. Raises :class:`ModelUnavailable`.
        """
        ...

    def health(self) -> dict[str, Any]:
        """A cheap check: ``{"ok": bool, "detail": str}``; never generates."""
        ...
