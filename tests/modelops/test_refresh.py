"""``refresh_model`` on the tiny model: the whole chain, a failed stage, and the resume that
redoes nothing finished. Every stage is the real one (training, evaluation, quantization,
the gate), only smaller (a "tiny" preset)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from modelops.llm import gemma
from modelops.models import Corpus, ModelRun, ModelVersion
from modelops.services import refresh
from tests.modelops.test_training import write_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # The messages are checked in English (the site's default language is Tajik).
    with translation.override("en"):
        yield


GOOD = {
    "messages": [
        {"role": "system", "content": "Шумо ёрдамчии муаллим ҳастед."},
        {"role": "user", "content": "Муодила чист?"},
        {"role": "assistant", "content": "Муодила баробарии дорои тағйирёбанда аст."},
    ]
}
GOOD_TOO = {
    "messages": [
        {"role": "user", "content": "Илова чист?"},
        {"role": "assistant", "content": "Илова ҷамъ кардани ададҳо аст."},
    ]
}
BAD = {"messages": [{"role": "teacher", "content": "Салом"}]}


@pytest.fixture
def chain(settings, tmp_path: Path, tokenizer_dir: Path, monkeypatch):  # type: ignore[no-untyped-def]
    # INT4 quantizes groups of 128 columns: the base must be at least 128 wide.
    models = tmp_path / "models"
    gemma.build_tiny_gemma3(
        models / "tiny128", tokenizer_dir, hidden_size=128, intermediate_size=256, head_dim=64
    )
    settings.SORO_MODELS_DIR = models
    settings.SORO_LLM_URL = None
    settings.SORO_CORPORA_DIR = tmp_path / "corpora"
    settings.VAR_DIR = tmp_path / "var"
    write_corpus(tmp_path / "corpora" / "demo")
    Corpus.objects.create(name="demo", path="demo", checksum="c" * 64, tokens=1000)
    base = ModelVersion.objects.create(name="tiny128", stage="base", path="tiny128", is_active=True)
    tiny = replace(
        refresh.PRESETS["demo"],
        name="tiny",
        pretrain_steps=2,
        pretrain_seq_len=64,
        sft_steps=2,
        sft_seq_len=512,
        sft_accumulation=1,
        generation_limit=2,
        benchmark_limit=4,
        # Quantization has its own tests (test_quantization.py): FP8 alone here, to keep this
        # chain within a minute or two.
        quantize_schemes=("fp8",),
        calibration_samples=2,
    )
    monkeypatch.setitem(refresh.PRESETS, "tiny", tiny)
    data = tmp_path / "sft.jsonl"
    data.write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in (GOOD, BAD, GOOD_TOO)) + "\n"
    )
    return base, data


def test_a_failed_stage_is_resumed_without_redoing_the_finished_ones(chain) -> None:  # type: ignore[no-untyped-def]
    base, data = chain
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "refresh_model",
            "--base",
            "tiny128",
            "--sft-data",
            str(data),
            "--preset",
            "tiny",
            stdout=out,
        )
    run = ModelRun.objects.get(kind=ModelRun.Kind.REFRESH)
    assert "stage sft failed: sft.jsonl:2: turn 1 has the unknown role 'teacher'" in str(
        failed.value
    )
    assert f"refresh_model --resume {run.pk}" in str(failed.value)
    assert run.status == ModelRun.Status.FAILED
    stages = run.config["stages"]
    assert stages["corpus"]["status"] == "done" and stages["corpus"]["reused"] is True
    assert stages["pretrain"]["status"] == "done"
    assert stages["sft"]["status"] == "failed"
    pretrained = ModelVersion.objects.get(name=stages["pretrain"]["version"])
    assert pretrained.parent == base
    assert not ModelVersion.objects.filter(stage=ModelVersion.Stage.INSTRUCTION_TUNED).exists()

    # The administrator fixes the file and resumes: the pretraining is not done again.
    data.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in (GOOD, GOOD_TOO)))
    out = StringIO()
    call_command("refresh_model", "--resume", str(run.pk), stdout=out)
    run.refresh_from_db()
    assert run.status == ModelRun.Status.SUCCEEDED
    assert ModelRun.objects.filter(kind=ModelRun.Kind.PRETRAIN).count() == 1
    assert ModelVersion.objects.filter(stage=ModelVersion.Stage.CONTINUED_PRETRAINED).count() == 1
    stages = run.config["stages"]
    assert all(stages[stage]["status"] == "done" for stage in refresh.STAGES)
    sft = ModelVersion.objects.get(name=stages["sft"]["version"])
    assert sft.parent == pretrained and sft.stage == ModelVersion.Stage.INSTRUCTION_TUNED
    fp8 = ModelVersion.objects.get(name=stages["quantize"]["fp8"])
    assert fp8.parent == sft and fp8.quantization

    # Every version on every benchmark, side by side, in the command's output and the run.
    table = run.config["table"]
    columns = table["columns"]
    assert columns == [
        f"active ({base.name})",
        f"pretrained ({pretrained.name})",
        f"sft ({sft.name})",
        f"sft fp8 ({fp8.name})",
    ]
    tajik = next(row for row in table["rows"] if row["label"] == "Tajik suite, accuracy")
    assert len(tajik["values"]) == len(columns)
    assert all(value is not None for value in tajik["values"])
    text = out.getvalue()
    assert "| benchmark | active (tiny128) | pretrained" in text
    assert "| Lesson sections in Tajik |" in text
    # A random tiny model writes no Tajik: the gate refuses it, with its reasons.
    assert stages["promote"]["promoted"] is None
    refused = stages["promote"]["refused"]
    assert any("replies to the platform's prompts are in Tajik" in reason for reason in refused)
    assert "Not promoted; the gate says:" in text
    assert ModelVersion.objects.active().get() == base

    with pytest.raises(CommandError, match="has finished already"):
        call_command("refresh_model", "--resume", str(run.pk))


def test_bad_arguments_are_refused_before_anything_runs(chain) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="Give --base VERSION"):
        call_command("refresh_model")
    with pytest.raises(CommandError, match="No model version is called 'nope'"):
        call_command("refresh_model", "--base", "nope")
    with pytest.raises(CommandError, match="No instruction data at"):
        call_command("refresh_model", "--base", "tiny128", "--sft-data", "/no/such/file.jsonl")
    with pytest.raises(CommandError, match="No refresh run 999"):
        call_command("refresh_model", "--resume", "999")
    assert not ModelRun.objects.exists()


def test_the_admin_action_queues_one_chain_job(chain, admin_client) -> None:  # type: ignore[no-untyped-def]
    base, _data = chain
    response = admin_client.post(
        "/admin/modelops/modelversion/",
        {"action": "refresh_model", "_selected_action": [base.pk]},
    )
    assert response.status_code == 302
    run = ModelRun.objects.get(kind=ModelRun.Kind.REFRESH)
    assert run.status == ModelRun.Status.QUEUED
    assert run.config["base"] == "tiny128" and run.config["preset"] == "demo"
    assert run.config["stages"] == {}
