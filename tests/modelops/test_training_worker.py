"""A pretraining job survives its worker: a real Celery worker is killed with SIGKILL in
the middle of training, a new worker starts, the sweep queues the run again, and it
continues from its last checkpoint to one registered version. Slow (two worker starts and
a training run): ``pytest -m slow tests/modelops/test_training_worker.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelops.models import Corpus, ModelRun, ModelVersion
from modelops.services.jobs import model_run_enqueue
from soro_web.jobs import RECOVERED_NOTE
from tests.modelops.test_training import write_corpus
from tests.workers import Workers, wait_for, workers  # noqa: F401

FAST_RECOVERY = {
    "SORO_JOB_HEARTBEAT_SECONDS": "0.5",
    "SORO_JOB_SWEEP_SECONDS": "1",
    "SORO_JOB_STALE_SECONDS": "4",
}


@pytest.mark.slow
def test_a_pretrain_job_killed_mid_run_resumes_from_its_checkpoint(
    workers: Workers,  # noqa: F811
    tmp_path: Path,
    tiny_model_dir: Path,
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "tiny")
    write_corpus(tmp_path / "corpora" / "demo")
    workers.env["SORO_MODELS_DIR"] = str(models)
    workers.env["SORO_CORPORA_DIR"] = str(tmp_path / "corpora")
    version = ModelVersion.objects.create(name="tiny", stage="base", path="tiny", is_active=True)
    Corpus.objects.create(name="demo", path="demo", checksum="c" * 64)
    first = workers.start(**FAST_RECOVERY)
    run = model_run_enqueue(
        kind=ModelRun.Kind.PRETRAIN,
        version=version,
        config={
            "corpus": "demo",
            "steps": 40,
            "lr": 1e-3,
            "seq_len": 64,
            "micro_batch_size": 1,
            "gradient_accumulation": 1,
            "checkpoint_every": 2,
            "name": "tiny-recovered",
        },
    )
    run_dir = tmp_path / "training" / f"run-{run.pk}"
    wait_for(
        lambda: any(run_dir.glob("checkpoint-*")),
        300,
        f"a checkpoint (log: {workers.log()})",
    )
    workers.kill(first)
    workers.start(**FAST_RECOVERY)
    wait_for(
        lambda: ModelRun.objects.filter(pk=run.pk, status="succeeded").exists(),
        600,
        f"the pretraining to finish on the new worker (log: {workers.log()})",
    )
    run.refresh_from_db()
    assert run.recoveries == 1 and RECOVERED_NOTE in run.log
    trained = ModelVersion.objects.get(name="tiny-recovered")
    assert run.output_version == trained
    assert trained.metrics["steps"] == 40
    assert trained.metrics["resumed_from_step"] >= 2
    assert ModelVersion.objects.filter(stage=ModelVersion.Stage.CONTINUED_PRETRAINED).count() == 1
