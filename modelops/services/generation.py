"""The one function that hands out the active model client, and the one generation path.

Everything in Soro that writes text asks :func:`active_model_client` for a client and streams
through :func:`generation_stream`, so the local engine and a TGI/vLLM server are used the
same way, and every generation is timed, language-checked and recorded.
"""

from __future__ import annotations

import functools
import logging
import statistics
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable, TextModelClient
from modelops.models import GenerationLog, ModelVersion

if TYPE_CHECKING:
    from soro_web.accounts.models import User

logger = logging.getLogger(__name__)


def active_model_client() -> TextModelClient:
    """The remote server when ``SORO_LLM_URL`` is set, else the local engine on the active
    version. Raises ModelUnavailable("load_failed") when there is no usable version."""
    if settings.SORO_LLM_URL:
        from modelops.llm.remote import RemoteClient

        return RemoteClient(
            settings.SORO_LLM_URL,
            model=settings.SORO_LLM_MODEL,
            timeout_s=settings.SORO_LLM_TIMEOUT,
        )
    version = ModelVersion.objects.active().first()
    if version is None:
        raise ModelUnavailable(
            "load_failed",
            "No model version is active. An administrator runs manage.py import_base_model.",
        )
    from modelops.llm.local import LocalEngine

    if version.format == ModelVersion.Format.GGUF:
        from modelops.llm.llamacpp import GgufEngine, llama_cpp_missing

        missing = llama_cpp_missing()
        if missing is None:
            return GgufEngine(version.directory, max_waiting=settings.SORO_LLM_MAX_WAITING)
        fallback = _float_parent(version)
        if fallback is None:
            raise ModelUnavailable(
                "load_failed",
                f"The active version {version.name} is a CPU (GGUF) export and {missing}; "
                "install it with `.venv/bin/pip install -e '.[cpu]'` or activate a float32 "
                "version.",
            )
        _warn_fallback(version.name, fallback.name, missing)
        return LocalEngine(fallback.directory, max_waiting=settings.SORO_LLM_MAX_WAITING)
    return LocalEngine(version.directory, max_waiting=settings.SORO_LLM_MAX_WAITING)


def _float_parent(version: ModelVersion) -> ModelVersion | None:
    """The float32 version a CPU export was made from, when its files are there."""
    parent = version.parent
    if parent is None or parent.format != ModelVersion.Format.HF:
        return None
    if not any(parent.directory.glob("*.safetensors")):
        return None
    return parent


@functools.lru_cache(maxsize=8)
def _warn_fallback(name: str, parent: str, missing: str) -> None:
    """Logged once per process and version: the fast engine is missing, so it is slow."""
    logger.warning(
        "%s is a CPU (GGUF) version but %s; serving its float32 parent %s instead (several "
        "times slower). Install llama-cpp-python with `.venv/bin/pip install -e '.[cpu]'`.",
        name,
        missing,
        parent,
    )


def model_health() -> dict[str, Any]:
    """Whether text generation can work right now, without generating anything."""
    if settings.SORO_LLM_URL:
        from modelops.llm.remote import RemoteClient

        client = RemoteClient(settings.SORO_LLM_URL, model=settings.SORO_LLM_MODEL)
        status = client.health()
        return {
            "ok": bool(status.get("ok")),
            "detail": (
                _("remote server %(url)s: %(detail)s")
                % {"url": settings.SORO_LLM_URL, "detail": status.get("detail", "")}
            ).strip(),
        }
    version = ModelVersion.objects.active().first()
    if version is None:
        return {
            "ok": False,
            "detail": _("no active model version; run manage.py import_base_model"),
        }
    directory = version.directory
    if not (directory / "config.json").is_file():
        return {
            "ok": False,
            "detail": _("active version %(name)s: files missing at %(path)s")
            % {"name": version.name, "path": directory},
        }
    problem = _checkpoint_problem(str(directory), (directory / "config.json").stat().st_mtime_ns)
    if problem:
        return {
            "ok": False,
            "detail": _("active version %(name)s: %(problem)s")
            % {"name": version.name, "problem": problem},
        }
    if version.format == ModelVersion.Format.GGUF:
        from modelops.llm.llamacpp import GGUF_FILE, llama_cpp_missing

        if not (directory / GGUF_FILE).is_file():
            return {
                "ok": False,
                "detail": _("active version %(name)s: %(problem)s")
                % {"name": version.name, "problem": f"no {GGUF_FILE} at {directory}"},
            }
        missing = llama_cpp_missing()
        if missing is None:
            return {
                "ok": True,
                "detail": _("llama.cpp CPU engine, version %(name)s") % {"name": version.name},
            }
        fallback = _float_parent(version)
        if fallback is None:
            return {
                "ok": False,
                "detail": _("active version %(name)s: %(problem)s")
                % {"name": version.name, "problem": missing},
            }
        return {
            "ok": True,
            "detail": _(
                "local engine, float32 %(fallback)s in place of the CPU version %(name)s "
                "(%(problem)s)"
            )
            % {"fallback": fallback.name, "name": version.name, "problem": missing},
        }
    return {"ok": True, "detail": _("local engine, version %(name)s") % {"name": version.name}}


@functools.lru_cache(maxsize=8)
def _checkpoint_problem(directory: str, _config_mtime_ns: int) -> str:
    """Why the checkpoint in ``directory`` cannot be served ("" when it can): its config
    must load as a model configuration and weights must be there. Cached per config file
    version, so a health check stays cheap."""
    from transformers import AutoConfig

    path = Path(directory)
    try:
        AutoConfig.from_pretrained(path)
    except Exception as error:
        return f"its config.json does not load ({type(error).__name__}: {error})"
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.gguf")):
        return f"no weights (*.safetensors) at {path}"
    return ""


# --- generation -----------------------------------------------------------------------------


def _detect_language(text: str) -> tuple[str, float | None]:
    from modelops.llm.langid import detect_language

    try:
        return detect_language(text)
    except Exception:  # language ID must never lose a finished reply
        logger.exception("language identification failed")
        return "", None


def generation_stream(
    *,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    purpose: str,
    user: User | None = None,
    context: Sequence[str] = (),
    expected_language: str = "tg",
    client: TextModelClient | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream a reply as events and record the generation when it ends.

    Yields ``{"type": "text", "text": …}`` for each piece, then exactly one of
    ``{"type": "done", "pieces", "seconds", "first_piece_seconds", "pieces_per_second",
    "language", "is_expected_language"}`` or ``{"type": "error", "reason", "message"}``.
    Closing the iterator early (the user pressed stop, or left) stops the model and records
    the generation as stopped.
    """
    started = time.perf_counter()
    first_piece: float | None = None
    pieces: list[str] = []
    log = GenerationLog(
        user=user if getattr(user, "is_authenticated", False) else None,
        purpose=purpose,
        expected_language=expected_language,
        prompt_chars=sum(len(m.content) for m in messages) + sum(len(c) for c in context),
    )
    stream = None
    try:
        client = client or active_model_client()
        log.backend = client.name
        stream = client.stream_chat(messages, params, context=context)
        for piece in stream:
            if not piece:
                continue
            if first_piece is None:
                first_piece = time.perf_counter() - started
            pieces.append(piece)
            yield {"type": "text", "text": piece}
    except ModelUnavailable as error:
        log.status, log.reason, log.error = GenerationLog.Status.FAILED, error.reason, str(error)
        yield {"type": "error", "reason": error.reason, "message": model_error_message(error)}
    except GeneratorExit:
        log.status = GenerationLog.Status.STOPPED
        raise
    except Exception as error:  # never a silent end: recorded, and the person is told
        logger.exception("generation failed")
        log.status, log.reason = GenerationLog.Status.FAILED, "down"
        log.error = f"{type(error).__name__}: {error}"
        yield {
            "type": "error",
            "reason": "down",
            "message": model_error_message(ModelUnavailable("down", str(error))),
        }
    else:
        log.status = GenerationLog.Status.COMPLETED
    finally:
        if stream is not None and hasattr(stream, "close"):
            stream.close()
        text = "".join(pieces)
        log.seconds = time.perf_counter() - started
        log.first_piece_seconds = first_piece
        log.output_chars, log.output_pieces = len(text), len(pieces)
        if text.strip():
            log.language, log.language_score = _detect_language(text)
            if expected_language and log.language:
                log.is_expected_language = log.language == expected_language
        log.save()
    if log.status != GenerationLog.Status.COMPLETED:
        return
    decode_seconds = log.seconds - (first_piece or 0.0)
    yield {
        "type": "done",
        "pieces": len(pieces),
        "seconds": round(log.seconds, 3),
        "first_piece_seconds": round(first_piece, 3) if first_piece is not None else None,
        "pieces_per_second": round((len(pieces) - 1) / decode_seconds, 2)
        if len(pieces) > 1 and decode_seconds > 0
        else None,
        "language": log.language,
        "is_expected_language": log.is_expected_language,
    }


def model_error_message(error: ModelUnavailable) -> str:
    """What a person sees when the model cannot answer, in their language."""
    messages = {
        "busy": _("The model is busy with other people's requests. Try again in a minute."),
        "down": _(
            "The model server cannot be reached. Your text is kept; try again later or "
            "tell an administrator."
        ),
        "timeout": _("The model took too long and was stopped. Try a shorter request."),
        "invalid_request": _("The request is empty or not valid. Write a question first."),
        "too_long": _("The text is too long for the model. Shorten it and try again."),
        "load_failed": _(
            "No language model is ready. An administrator needs to install or activate one."
        ),
        "interrupted": _(
            "The model stopped in the middle of its answer. What arrived is kept; try again."
        ),
    }
    return messages.get(error.reason, _("The model is not available right now."))


def model_preload() -> None:
    """Load the active local model now (no-op for a remote server)."""
    if settings.SORO_LLM_URL:
        return
    client = active_model_client()
    load = getattr(client, "load", None)
    if load is not None:
        load()


def recent_generation_seconds(*, purpose: str, count: int = 5) -> float | None:
    """The median time (seconds) of the last ``count`` completed generations for
    ``purpose`` in the past week, or None when there were none: how long the next one will
    likely take on this server, as measured."""
    since = timezone.now() - timedelta(days=7)
    seconds = list(
        GenerationLog.objects.filter(
            purpose=purpose, status=GenerationLog.Status.COMPLETED, created_at__gte=since
        )
        .order_by("-created_at")
        .values_list("seconds", flat=True)[:count]
    )
    return statistics.median(seconds) if seconds else None
