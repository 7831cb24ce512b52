"""Model runs: the record of every import, training, evaluation, quantization and promotion,
with the helpers every model workflow uses to start, report on and finish one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from modelops.models import ModelRun, ModelVersion

if TYPE_CHECKING:
    from soro_web.accounts.models import User

Progress = Callable[[str, float], None]


class RunCancelled(Exception):
    """The administrator asked to stop the run."""


def run_start(
    *,
    kind: str,
    config: dict[str, Any],
    user: User | None = None,
    input_version: ModelVersion | None = None,
) -> ModelRun:
    return ModelRun.objects.create(
        kind=kind,
        status=ModelRun.Status.RUNNING,
        config=config,
        started_at=timezone.now(),
        input_version=input_version,
        started_by=user if getattr(user, "is_authenticated", False) else None,
    )


def run_finish(
    run: ModelRun,
    *,
    status: str,
    output: ModelVersion | None = None,
    error: str = "",
    log: str = "",
) -> None:
    # The progress reporters write these three columns with UPDATE while the run works, so
    # the object in hand is stale: read them back before saving the whole row.
    run.refresh_from_db(fields=["progress", "stage", "log"])
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.output_version = output
    run.progress = 1.0 if status == ModelRun.Status.SUCCEEDED else run.progress
    run.log = (run.log + log).strip()
    run.save()


def run_check_cancel(run: ModelRun) -> None:
    """Raise :class:`RunCancelled` when an administrator asked the run to stop."""
    if ModelRun.objects.filter(pk=run.pk, is_cancel_requested=True).exists():
        raise RunCancelled


def run_report_progress(
    run: ModelRun, stage: str, fraction: float, progress: Progress | None = None
) -> None:
    """Store the run's progress (shown in the admin) and pass it on to a progress bar."""
    ModelRun.objects.filter(pk=run.pk).update(progress=fraction, stage=stage[:200])
    if progress:
        progress(stage, fraction)
