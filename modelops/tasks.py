"""Celery entry points for model jobs (routed to the ``modelops`` queue by settings)."""

from __future__ import annotations

from celery import shared_task

from modelops.services.jobs import model_run_execute


@shared_task(name="modelops.evaluate", ignore_result=True)
def evaluate(run_id: int) -> None:
    """Evaluate a model version on a benchmark, as recorded on the queued run."""
    model_run_execute(run_id=run_id)


@shared_task(name="modelops.quantize", ignore_result=True)
def quantize(run_id: int) -> None:
    """Quantize a model version, as recorded on the queued run."""
    model_run_execute(run_id=run_id)
