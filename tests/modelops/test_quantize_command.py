"""``manage.py quantize`` registers a compressed-tensors version, or nothing at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from modelops.models import ModelRun, ModelVersion
from modelops.services import quantization as quantization_service


def test_fp8_is_registered_with_its_parent_sizes_and_retention(
    tiny_version, models_dir, capsys
) -> None:  # type: ignore[no-untyped-def]
    call_command("quantize", "--model", "tiny", "--scheme", "fp8", "--name", "tiny-fp8-a")
    out = capsys.readouterr().out
    assert "Registered tiny-fp8-a (fp8-dynamic)" in out
    assert "linear layers" in out
    assert "top-1 agreement" in out
    version = ModelVersion.objects.get(name="tiny-fp8-a")
    assert version.parent == tiny_version
    assert version.stage == "quantized"
    assert version.format == "compressed_tensors"
    assert version.quantization == "fp8-dynamic"
    assert not version.is_active
    config = json.loads((version.directory / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "compressed-tensors"
    assert (version.directory / "tokenizer.json").exists()
    assert version.size_bytes and version.size_bytes < (version.metrics["parent_size_bytes"])
    assert version.metrics["linear_compression_ratio"] > 3.5
    assert 0.0 <= version.metrics["heldout_top1_agreement"] <= 1.0
    assert version.metrics["heldout_perplexity"] > 1.0
    run = ModelRun.objects.get(kind="quantize")
    assert (run.status, run.output_version, run.input_version) == (
        "succeeded",
        version,
        tiny_version,
    )
    # The quantized version is evaluated with its real rounding error, and its retention shown.
    call_command(
        "evaluate", "--model", "tiny", "--benchmark", "english_retention", "--batch-size", "32"
    )
    call_command(
        "evaluate",
        "--model",
        "tiny-fp8-a",
        "--benchmark",
        "english_retention",
        "--batch-size",
        "32",
    )
    assert "retention against the parent tiny" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scheme", "int8"], "Unknown scheme 'int8'"),
        (["--scheme", "fp8", "--method", "gptq"], "does not apply to fp8"),
        (["--scheme", "int4", "--name", "tiny"], "exists already"),
    ],
)
def test_bad_requests_are_refused_before_any_work(tiny_version, arguments, message) -> None:  # type: ignore[no-untyped-def]
    with translation.override("en"), pytest.raises(CommandError, match=message):
        call_command("quantize", "--model", "tiny", *arguments)
    assert not ModelRun.objects.filter(kind="quantize").exists()
    assert ModelVersion.objects.count() == 1


def test_an_already_quantized_version_is_refused(tiny_version) -> None:  # type: ignore[no-untyped-def]
    ModelVersion.objects.create(
        name="tiny-q",
        stage="quantized",
        path="tiny",
        parent=tiny_version,
        format="compressed_tensors",
        quantization="fp8-dynamic",
    )
    with translation.override("en"), pytest.raises(CommandError, match="already quantized"):
        call_command("quantize", "--model", "tiny-q", "--scheme", "int4")


def test_a_failure_after_writing_leaves_no_version_and_no_directory(
    tiny_version, models_dir, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # A failure late in the run (after the checkpoint is written) cannot be provoked with
    # real inputs on demand, so the retention step is made to fail.
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(quantization_service, "_retention", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        call_command("quantize", "--model", "tiny", "--scheme", "fp8", "--name", "tiny-fp8-b")
    assert not ModelVersion.objects.filter(name="tiny-fp8-b").exists()
    assert not (Path(models_dir) / "tiny-fp8-b").exists()
    assert not [path for path in Path(models_dir).iterdir() if "tiny-fp8-b" in path.name]
    run = ModelRun.objects.get(kind="quantize")
    assert (run.status, run.error) == ("failed", "disk full")
