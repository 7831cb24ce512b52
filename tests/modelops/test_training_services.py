"""Pretraining and instruction tuning as recorded runs: registration with metrics, nothing
registered on failure, the job path, the commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from modelops.models import Corpus, ModelRun, ModelVersion
from modelops.services.jobs import model_run_enqueue, model_run_execute
from modelops.services.training import model_pretrain, model_sft, training_run_dir
from modelops.training import SftDataError
from tests.modelops.test_training import write_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(settings, tmp_path: Path) -> Corpus:  # type: ignore[no-untyped-def]
    settings.SORO_CORPORA_DIR = tmp_path / "corpora"
    settings.VAR_DIR = tmp_path / "var"
    write_corpus(tmp_path / "corpora" / "demo")
    return Corpus.objects.create(name="demo", path="demo", checksum="c" * 64, tokens=1000)


def test_pretrain_registers_a_version_with_its_metrics(tiny_version, corpus) -> None:  # type: ignore[no-untyped-def]
    trained = model_pretrain(
        version=tiny_version,
        corpus=corpus,
        steps=3,
        lr=1e-3,
        seq_len=64,
        micro_batch_size=2,
        gradient_accumulation=1,
        replay=0.05,
        name="tiny-cpt-test-metrics",
    )
    try:
        assert trained.stage == ModelVersion.Stage.CONTINUED_PRETRAINED
        assert trained.parent == tiny_version
        assert trained.directory.is_dir() and trained.checksum and trained.parameter_count
        metrics = trained.metrics
        assert metrics["steps"] == 3
        assert metrics["tokens_seen"] == 3 * 2 * 64
        assert metrics["corpus"] == "demo" and metrics["corpus_checksum"] == "c" * 64
        assert metrics["replay_share"] == 0.05
        assert metrics["heldout_perplexity"] > 1 and metrics["parent_heldout_perplexity"] > 1
        assert metrics["heldout_documents"] == 4
        run = ModelRun.objects.get(output_version=trained)
        assert run.kind == ModelRun.Kind.PRETRAIN and run.status == ModelRun.Status.SUCCEEDED
        assert "step 1/3 loss" in run.log
    finally:
        import shutil

        shutil.rmtree(trained.directory, ignore_errors=True)


def test_sft_with_bad_data_registers_nothing(tiny_version, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path / "var"
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"messages": [{"role": "user", "content": "Салом"}]}) + "\n", encoding="utf-8"
    )
    before = ModelVersion.objects.count()
    with pytest.raises(SftDataError, match=r"bad\.jsonl:1: the conversation does not end"):
        model_sft(version=tiny_version, data=[path], name="tiny-sft-bad", steps=1)
    assert ModelVersion.objects.count() == before
    run = ModelRun.objects.get(kind=ModelRun.Kind.FINETUNE)
    assert run.status == ModelRun.Status.FAILED
    assert "bad.jsonl:1" in run.error
    assert not (Path(settings.SORO_MODELS_DIR) / "tiny-sft-bad").exists()


def test_sft_command_names_the_bad_line(tiny_version, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path / "var"
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(CommandError, match=r"bad\.jsonl:1: turn 1 has the unknown role 'robot'"):
        call_command("sft", "--model", "tiny", "--data", str(path), stdout=StringIO())


def test_pretrain_job_runs_from_the_queue(tiny_version, corpus) -> None:  # type: ignore[no-untyped-def]
    run = model_run_enqueue(
        kind=ModelRun.Kind.PRETRAIN,
        version=tiny_version,
        config={
            "corpus": "demo",
            "steps": 2,
            "lr": 1e-3,
            "seq_len": 64,
            "micro_batch_size": 1,
            "gradient_accumulation": 1,
            "name": "tiny-cpt-test-job",
        },
    )
    model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    trained = run.output_version
    assert trained is not None and trained.name == "tiny-cpt-test-job"
    assert trained.metrics["steps"] == 2
    assert (training_run_dir(run) / "run.json").is_file()
    import shutil

    shutil.rmtree(trained.directory, ignore_errors=True)


def test_pretrain_refusals(tiny_version, corpus) -> None:  # type: ignore[no-untyped-def]
    out = StringIO()
    with pytest.raises(CommandError, match="No corpus is called 'nope'"):
        call_command("pretrain", "--model", "tiny", "--corpus", "nope", "--steps", "1", stdout=out)
    with pytest.raises(CommandError, match="Give --steps N or --tokens N"):
        call_command("pretrain", "--model", "tiny", "--corpus", "demo", stdout=out)
    with pytest.raises(CommandError, match="--replay takes english:SHARE"):
        call_command(
            "pretrain", "--model", "tiny", "--corpus", "demo", "--steps", "1", "--replay", "0.1"
        )
    assert not ModelRun.objects.filter(kind=ModelRun.Kind.PRETRAIN).exists()


def test_print_launch(tiny_version, corpus) -> None:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command(
        "pretrain",
        "--print-launch",
        "--gpus",
        "8",
        "--nodes",
        "2",
        "--model",
        "tiny",
        "--corpus",
        "demo",
        "--tokens",
        "1900000000",
        stdout=out,
    )
    line = out.getvalue().strip()
    assert line.startswith(
        "accelerate launch --config_file configs/accelerate/fsdp.yaml --num_machines 2 "
        "--num_processes 16 --machine_rank $NODE_RANK"
    )
    assert f"-m modelops.training pretrain --model-dir {tiny_version.directory}" in line
    assert f"--corpus-dir {corpus.directory} --tokens 1900000000" in line
    assert (Path(__file__).resolve().parents[2] / "configs/accelerate/fsdp.yaml").is_file()


def test_import_model_registers_a_checkpoint(tiny_version) -> None:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command(
        "import_model",
        str(tiny_version.directory),
        "--name",
        "tiny-imported",
        "--parent",
        "tiny",
        stdout=out,
    )
    version = ModelVersion.objects.get(name="tiny-imported")
    assert version.stage == ModelVersion.Stage.CONTINUED_PRETRAINED
    assert version.parent == tiny_version and version.checksum
    with pytest.raises(CommandError, match=r"has no config\.json"):
        call_command("import_model", "/", "--name", "nothing", stdout=out)


def test_admin_actions_queue_training_jobs(  # type: ignore[no-untyped-def]
    tiny_version, corpus, people, django_capture_on_commit_callbacks
) -> None:
    from tests.conftest import client_for

    client = client_for(people.staff)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for action in ("pretrain_demo", "instruction_tune"):
            response = client.post(
                "/admin/modelops/modelversion/",
                {"action": action, "_selected_action": [tiny_version.pk]},
            )
            assert response.status_code == 302
    assert len(callbacks) == 2
    pretraining = ModelRun.objects.get(kind=ModelRun.Kind.PRETRAIN)
    assert pretraining.config["corpus"] == "demo" and pretraining.config["steps"] == 30
    assert pretraining.status == ModelRun.Status.QUEUED
    tuning = ModelRun.objects.get(kind=ModelRun.Kind.FINETUNE)
    assert tuning.config["lora"] is True and tuning.config["data"][0].endswith("data/sft")


def test_a_stopped_pretrain_job_resumes_from_its_checkpoint(tiny_version, corpus) -> None:  # type: ignore[no-untyped-def]
    """What the sweep does after a worker died: the run is queued again with a recovery
    counted, and the handler continues from the run folder's newest checkpoint."""
    run = model_run_enqueue(
        kind=ModelRun.Kind.PRETRAIN,
        version=tiny_version,
        config={
            "corpus": "demo",
            "steps": 3,
            "lr": 1e-3,
            "seq_len": 64,
            "micro_batch_size": 1,
            "gradient_accumulation": 1,
            "name": "tiny-cpt-test-recovered",
        },
    )
    ModelRun.objects.filter(pk=run.pk).update(status=ModelRun.Status.RUNNING)
    run.refresh_from_db()

    def cancel_at_once(stage: str, fraction: float) -> None:
        ModelRun.objects.filter(pk=run.pk).update(is_cancel_requested=True)

    from modelops.services import RunCancelled

    with pytest.raises(RunCancelled):
        model_pretrain(
            version=tiny_version,
            corpus=corpus,
            run=run,
            progress=cancel_at_once,
            **{k: v for k, v in run.config.items() if k in {"steps", "lr", "seq_len", "name"}},
            micro_batch_size=1,
            gradient_accumulation=1,
        )
    run.refresh_from_db()
    assert run.status == ModelRun.Status.CANCELLED
    assert not ModelVersion.objects.filter(name="tiny-cpt-test-recovered").exists()
    assert (training_run_dir(run) / "checkpoint-0000001").is_dir()

    ModelRun.objects.filter(pk=run.pk).update(
        status=ModelRun.Status.QUEUED, recoveries=1, is_cancel_requested=False
    )
    model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ModelRun.Status.SUCCEEDED, run.error
    trained = run.output_version
    assert trained is not None
    assert trained.metrics["resumed_from_step"] == 1 and trained.metrics["steps"] == 3
    # The row shows the last stage reported, not the one it had when it was stopped.
    assert run.stage == "measuring held-out perplexity" and run.progress == 1.0
    import shutil

    shutil.rmtree(trained.directory, ignore_errors=True)


def test_pretrain_command_prints_both_perplexities(tiny_version, corpus) -> None:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command(
        "pretrain",
        "--model",
        "tiny",
        "--corpus",
        "demo",
        "--steps",
        "2",
        "--lr",
        "1e-3",
        "--seq-len",
        "64",
        "--batch-size",
        "1",
        "--gradient-accumulation",
        "1",
        "--name",
        "tiny-cpt-test-command",
        stdout=out,
    )
    trained = ModelVersion.objects.get(name="tiny-cpt-test-command")
    text = out.getvalue()
    assert "Registered tiny-cpt-test-command (continued pretraining of tiny): 2 steps" in text
    parent_line = f"  {'tiny':40} {trained.metrics['parent_heldout_perplexity']:12.3f}"
    child_line = f"  {'tiny-cpt-test-command':40} {trained.metrics['heldout_perplexity']:12.3f}"
    assert parent_line in text and child_line in text
    run = ModelRun.objects.get(output_version=trained)
    # The id comes first, so a killed run can be continued.
    assert text.index(f"Run #{run.pk} ") < text.index("Registered")
    assert f"run the same command with --resume {run.pk}." in text
    with pytest.raises(CommandError, match="has finished already"):
        call_command(
            "pretrain",
            "--model",
            "tiny",
            "--corpus",
            "demo",
            "--steps",
            "2",
            "--resume",
            str(run.pk),
            stdout=out,
        )
    import shutil

    shutil.rmtree(trained.directory, ignore_errors=True)
