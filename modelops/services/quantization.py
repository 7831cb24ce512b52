"""Quantizing a registered version into a new compressed-tensors version, with its
retention measured on held-out Tajik text."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from modelops.models import ModelRun, ModelVersion
from modelops.services.registry import model_version_check_loads, tajik_text_paths
from modelops.services.runs import (
    Progress,
    RunCancelled,
    run_check_cancel,
    run_finish,
    run_report_progress,
    run_start,
)

if TYPE_CHECKING:
    from soro_web.accounts.models import User

SCHEMES = ("fp8", "int4")
#: CPU exports (llama.cpp GGUF), see modelops.cpu_export.
CPU_SCHEMES = ("cpu-int4", "cpu-int8")
CPU_LABELS = {"cpu-int4": "gguf-q4_k_m", "cpu-int8": "gguf-q8_0"}
LABELS = {
    ("fp8", "rtn"): "fp8-dynamic",
    ("int4", "gptq"): "w4a16-gptq",
    ("int4", "rtn"): "w4a16-rtn",
}
# Held-out Tajik texts scored for perplexity and top-1 agreement after quantizing.
RETENTION_TEXTS = 24
# GPTQ on two CPU cores: 32 samples of 256 tokens took 53 s idle, 608 s with other jobs
# running (docs/decisions.md); use 128 or more on an idle machine or a GPU.
CALIBRATION_SAMPLES = 32


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def model_quantize_check(
    *, version: ModelVersion, scheme: str, method: str | None, name: str | None
) -> tuple[str, str]:
    """``(method, name)`` after checking the request; raises ValidationError saying what is
    wrong (unknown scheme or method, an already quantized version, a taken name)."""
    if scheme not in SCHEMES + CPU_SCHEMES:
        raise _refuse(
            _("Unknown scheme %(scheme)r: use fp8, int4, cpu-int4 or cpu-int8.")
            % {"scheme": scheme},
            "scheme",
        )
    if scheme in CPU_SCHEMES:
        if method:
            raise _refuse(
                _("%(scheme)s takes no --method: llama.cpp rounds the weights itself.")
                % {"scheme": scheme},
                "method",
            )
        method = "llama.cpp"
    else:
        method = method or ("gptq" if scheme == "int4" else "rtn")
    if scheme not in CPU_SCHEMES and (scheme, method) not in LABELS:
        raise _refuse(
            _("Method %(method)r does not apply to %(scheme)s: int4 takes gptq or rtn, fp8 none.")
            % {"method": method, "scheme": scheme},
            "method",
        )
    if version.format != ModelVersion.Format.HF or version.quantization:
        parent = version.parent.name if version.parent else _("its unquantized parent")
        raise _refuse(
            _("%(name)s is already quantized (%(quantization)s); quantize %(parent)s instead.")
            % {"name": version.name, "quantization": version.quantization or "?", "parent": parent},
            "already_quantized",
        )
    if scheme in CPU_SCHEMES:
        from modelops.cpu_export import llama_cpp_problem

        missing = llama_cpp_problem()
        if missing:
            raise _refuse(
                _("The CPU export needs llama-cpp-python: %(problem)s.") % {"problem": missing},
                "llama_cpp_missing",
            )
    name = name or f"{version.name}-{scheme}" + (
        "-rtn" if scheme == "int4" and method == "rtn" else ""
    )
    if ModelVersion.objects.filter(name=name).exists():
        raise _refuse(
            _("A version called %(name)s exists already; choose another --name.") % {"name": name},
            "name_taken",
        )
    if (Path(settings.SORO_MODELS_DIR) / name).exists():
        raise _refuse(
            _("The directory %(path)s exists but is not registered; remove it first.")
            % {"path": Path(settings.SORO_MODELS_DIR) / name},
            "directory_exists",
        )
    problem = model_version_check_loads(directory=version.directory)
    if problem:
        raise _refuse(
            _("%(name)s cannot be quantized: %(problem)s.")
            % {"name": version.name, "problem": problem},
            "does_not_load",
        )
    return method, name


def model_quantize(
    *,
    version: ModelVersion,
    scheme: str,
    method: str | None = None,
    name: str | None = None,
    calibration_paths: list[Path] | None = None,
    calibration_samples: int = CALIBRATION_SAMPLES,
    user: User | None = None,
    progress: Progress | None = None,
    run: ModelRun | None = None,
) -> ModelVersion:
    """Quantize ``version`` with llm-compressor and register the result as a new version.

    ``fp8``: FP8 dynamic, no calibration. ``int4``: W4A16 (group 128) with GPTQ calibrated
    on Tajik text (the demo textbooks, or ``calibration_paths`` — Markdown or text files
    from the corpus), or plain rounding with ``method="rtn"`` (a labelled fallback).
    Afterwards the new version is loaded with its real quantization error and compared
    with the parent on held-out Tajik text (perplexity, top-1 agreement), stored in its
    metrics. Nothing is registered and no directory is left when any step fails or the run
    is cancelled."""
    from modelops import quantization as core

    method, name = model_quantize_check(version=version, scheme=scheme, method=method, name=name)
    if scheme in CPU_SCHEMES:
        return _cpu_export(
            version=version,
            scheme=scheme,
            name=name,
            calibration_paths=calibration_paths,
            user=user,
            progress=progress,
            run=run,
        )
    if calibration_paths:
        texts = core.tajik_texts_from_markdown(sorted(calibration_paths))
        split = core.split_calibration_held_out(texts)
    else:
        split = core.text_split(tajik_text_paths())
    config = {
        "version": version.name,
        "scheme": scheme,
        "method": method,
        "name": name,
        "calibration": [str(path) for path in calibration_paths or []]
        or str(settings.SORO_TAJIK_TEXT_DIR),
        "calibration_samples": calibration_samples,
    }
    if run is None:
        run = run_start(
            kind=ModelRun.Kind.QUANTIZE, config=config, user=user, input_version=version
        )
    else:
        run.config = {**run.config, **config}
        run.save(update_fields=["config"])
    output = Path(settings.SORO_MODELS_DIR) / name
    try:
        run_check_cancel(run)

        def quantize_progress(stage: str, fraction: float) -> None:
            run_report_progress(run, f"quantizing: {stage}", 0.7 * fraction, progress)

        result = core.quantize_checkpoint(
            source=version.directory,
            output=output,
            scheme=scheme,  # type: ignore[arg-type]
            method=method,  # type: ignore[arg-type]
            calibration_texts=split.calibration,
            max_calibration_samples=calibration_samples,
            progress=quantize_progress,
        )
        run_check_cancel(run)
        run_report_progress(run, "measuring retention on held-out Tajik text", 0.75, progress)
        retention = _retention(version.directory, output, split.held_out[:RETENTION_TEXTS])
        from modelops.checkpoints import weights_sha256

        label = LABELS[(scheme, method)]
        metrics = {
            "scheme": scheme,
            "method": method,
            "llmcompressor_scheme": result.llmcompressor_scheme,
            "group_size": result.group_size,
            "quantize_seconds": round(result.seconds, 1),
            "calibration_samples": result.calibration_samples,
            "size_bytes": result.size_bytes,
            "parent_size_bytes": result.parent_size_bytes,
            "compression_ratio": round(result.compression_ratio, 3),
            "linear_bytes_before": result.linear_bytes_before,
            "linear_bytes_after": result.linear_bytes_after,
            "linear_compression_ratio": round(result.linear_compression_ratio, 3),
            "embedding_bytes": result.embedding_bytes_after,
            "heldout_parent_perplexity": round(retention.parent_perplexity, 4),
            "heldout_perplexity": round(retention.candidate_perplexity, 4),
            "heldout_top1_agreement": round(retention.top1_agreement, 4),
            "heldout_kl_divergence": round(retention.mean_kl_divergence, 5),
            "heldout_tokens": retention.tokens,
        }
        with transaction.atomic():
            quantized = ModelVersion.objects.create(
                name=name,
                stage=ModelVersion.Stage.QUANTIZED,
                parent=version,
                path=name,
                format=ModelVersion.Format.COMPRESSED_TENSORS,
                quantization=label,
                parameter_count=version.parameter_count,
                size_bytes=result.size_bytes,
                checksum=weights_sha256(output),
                metrics=metrics,
            )
            run.config = {**run.config, **metrics}
            run.save(update_fields=["config"])
            run_finish(run, status=ModelRun.Status.SUCCEEDED, output=quantized)
    except RunCancelled:
        shutil.rmtree(output, ignore_errors=True)
        run_finish(run, status=ModelRun.Status.CANCELLED, log="cancelled by an administrator")
        raise
    except BaseException as error:
        if not ModelVersion.objects.filter(name=name).exists():
            shutil.rmtree(output, ignore_errors=True)
        run_finish(run, status=ModelRun.Status.FAILED, error=str(error))
        raise
    return quantized


def _retention(parent_dir: Path, candidate_dir: Path, texts: tuple[str, ...] | list[str]) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from modelops import quantization as core

    tokenizer = AutoTokenizer.from_pretrained(parent_dir)
    parent = AutoModelForCausalLM.from_pretrained(parent_dir, dtype=torch.float32).eval()
    candidate = core.load_fake_quantized(candidate_dir)
    return core.perplexity_and_agreement(
        parent=parent, candidate=candidate, tokenizer=tokenizer, texts=list(texts)
    )


def _cpu_export(
    *,
    version: ModelVersion,
    scheme: str,
    name: str,
    calibration_paths: list[Path] | None,
    user: User | None,
    progress: Progress | None,
    run: ModelRun | None,
) -> ModelVersion:
    """Export ``version`` to a llama.cpp GGUF (``cpu-int4``: Q4_K_M, ``cpu-int8``: Q8_0),
    check that llama.cpp reads the platform's token ids on Tajik text, score it against
    the parent on held-out Tajik text with llama.cpp itself, and register it."""
    from modelops import cpu_export
    from modelops import quantization as core
    from modelops.llm import gemma

    if calibration_paths:
        held_out = core.split_calibration_held_out(
            core.tajik_texts_from_markdown(sorted(calibration_paths))
        ).held_out
    else:
        held_out = core.text_split(tajik_text_paths()).held_out
    config = {"version": version.name, "scheme": scheme, "method": "llama.cpp", "name": name}
    if run is None:
        run = run_start(
            kind=ModelRun.Kind.QUANTIZE, config=config, user=user, input_version=version
        )
    else:
        run.config = {**run.config, **config}
        run.save(update_fields=["config"])
    output = Path(settings.SORO_MODELS_DIR) / name
    try:
        run_check_cancel(run)
        cache = gemma.default_cache_dir()
        vocabulary_dir, vocabulary_file = gemma.locate_packaged_gguf()

        def export_progress(stage: str, fraction: float) -> None:
            run_report_progress(run, f"exporting: {stage}", 0.6 * fraction, progress)

        export_progress("fetching llama.cpp's converter", 0.0)
        result = cpu_export.export_gguf(
            source=version.directory,
            output=output,
            scheme=scheme,
            vocabulary_gguf=vocabulary_dir / vocabulary_file,
            converter=cpu_export.converter_dir(cache),
            progress=export_progress,
        )
        run_check_cancel(run)
        run_report_progress(run, "checking token ids on Tajik text", 0.65, progress)
        texts = list(cpu_export.TAJIK_CHECK_STRINGS) + list(held_out[:RETENTION_TEXTS])
        wrong = cpu_export.token_id_mismatches(output, texts)
        if wrong:
            raise cpu_export.CpuExportError(
                f"llama.cpp tokenizes {len(wrong)} of {len(texts)} Tajik texts differently "
                f"from the platform's tokenizer (first: {wrong[0][:60]!r}); nothing registered."
            )
        run_report_progress(run, "measuring retention on held-out Tajik text", 0.75, progress)
        retention = cpu_export.gguf_retention(
            parent_dir=version.directory,
            gguf_path=output / cpu_export.GGUF_FILE,
            texts=list(held_out[:RETENTION_TEXTS]),
        )
        metrics = {
            "scheme": scheme,
            "method": "llama.cpp",
            "quant_type": result.quant_type,
            "llama_cpp_python": result.llama_cpp_version,
            "quantize_seconds": round(result.convert_seconds + result.quantize_seconds, 1),
            "size_bytes": result.size_bytes,
            "gguf_bytes": result.gguf_bytes,
            "parent_size_bytes": result.parent_size_bytes,
            "compression_ratio": round(result.parent_size_bytes / result.size_bytes, 3),
            "token_id_texts_checked": len(texts),
            "heldout_parent_perplexity": round(retention.parent_perplexity, 4),
            "heldout_perplexity": round(retention.candidate_perplexity, 4),
            "heldout_top1_agreement": round(retention.top1_agreement, 4),
            "heldout_kl_divergence": round(retention.mean_kl_divergence, 5),
            "heldout_tokens": retention.tokens,
        }
        with transaction.atomic():
            exported = ModelVersion.objects.create(
                name=name,
                stage=ModelVersion.Stage.QUANTIZED,
                parent=version,
                path=name,
                format=ModelVersion.Format.GGUF,
                quantization=CPU_LABELS[scheme],
                parameter_count=version.parameter_count,
                size_bytes=result.size_bytes,
                checksum=result.gguf_sha256,
                metrics=metrics,
            )
            run.config = {**run.config, **metrics}
            run.save(update_fields=["config"])
            run_finish(run, status=ModelRun.Status.SUCCEEDED, output=exported)
    except RunCancelled:
        shutil.rmtree(output, ignore_errors=True)
        run_finish(run, status=ModelRun.Status.CANCELLED, log="cancelled by an administrator")
        raise
    except BaseException as error:
        if not ModelVersion.objects.filter(name=name).exists():
            shutil.rmtree(output, ignore_errors=True)
        run_finish(run, status=ModelRun.Status.FAILED, error=str(error))
        raise
    return exported
