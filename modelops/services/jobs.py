"""Evaluation and quantization as background jobs: queued from the admin, run by the
worker on the ``modelops`` queue, with progress and cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from modelops.models import ModelRun, ModelVersion

if TYPE_CHECKING:
    from soro_web.accounts.models import User


def model_run_enqueue(
    *, kind: str, version: ModelVersion, config: dict[str, Any], user: User | None = None
) -> ModelRun:
    """Record a queued run and send it to the worker once the transaction commits."""
    from modelops import tasks

    task = {ModelRun.Kind.EVALUATE: tasks.evaluate, ModelRun.Kind.QUANTIZE: tasks.quantize}.get(
        kind  # type: ignore[call-overload]
    )
    if task is None:
        raise ValueError(f"runs of kind {kind!r} are not jobs")
    with transaction.atomic():
        run = ModelRun.objects.create(
            kind=kind,
            status=ModelRun.Status.QUEUED,
            config={**config, "version": version.name},
            input_version=version,
            started_by=user if getattr(user, "is_authenticated", False) else None,
        )
        task.delay_on_commit(run.pk)
    return run


def model_run_cancel(*, run: ModelRun) -> str:
    """Cancel a queued run at once, or ask a running one to stop at its next step.
    Returns the run's status afterwards."""
    if ModelRun.objects.filter(pk=run.pk, status=ModelRun.Status.QUEUED).update(
        status=ModelRun.Status.CANCELLED, finished_at=timezone.now(), log="cancelled before it ran"
    ):
        return ModelRun.Status.CANCELLED
    ModelRun.objects.filter(pk=run.pk, status=ModelRun.Status.RUNNING).update(
        is_cancel_requested=True
    )
    run.refresh_from_db()
    return run.status


def model_run_execute(*, run_id: int) -> None:
    """Run a queued job. Idempotent: the run is claimed with a conditional update, so a
    second delivery of the same message does nothing."""
    claimed = ModelRun.objects.filter(pk=run_id, status=ModelRun.Status.QUEUED).update(
        status=ModelRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return
    run = ModelRun.objects.select_related("input_version").get(pk=run_id)
    version = run.input_version
    if version is None:
        ModelRun.objects.filter(pk=run_id).update(
            status=ModelRun.Status.FAILED,
            error="the model version is gone",
            finished_at=timezone.now(),
        )
        return
    from modelops.services.runs import RunCancelled

    try:
        if run.kind == ModelRun.Kind.EVALUATE:
            from modelops.services.evaluation import benchmark_resolve, model_evaluate

            benchmark = benchmark_resolve(
                run.config["benchmark"],
                mapping=run.config.get("mapping"),
                split=run.config.get("split"),
            )
            model_evaluate(
                version=version,
                benchmark=benchmark,
                shots=int(run.config.get("shots", 0)),
                batch_size=int(run.config.get("batch_size", 16)),
                run=run,
            )
        elif run.kind == ModelRun.Kind.QUANTIZE:
            from modelops.services.quantization import model_quantize

            model_quantize(
                version=version,
                scheme=run.config["scheme"],
                method=run.config.get("method"),
                run=run,
            )
        else:
            raise ValueError(f"runs of kind {run.kind!r} are not jobs")
    except RunCancelled:
        return
    except Exception as error:  # recorded on the run; the worker stays up
        ModelRun.objects.filter(pk=run_id, status=ModelRun.Status.RUNNING).update(
            status=ModelRun.Status.FAILED, error=str(error), finished_at=timezone.now()
        )
