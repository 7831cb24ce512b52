"""Celery entry points for model jobs (routed to the ``modelops`` queue by settings)."""

from __future__ import annotations

from celery import shared_task

from modelops.services.jobs import model_run_execute


@shared_task(name="modelops.run_job", ignore_result=True)
def run_job(run_id: int) -> None:
    """Run a queued model run (evaluation, quantization, training, corpus building or a
    whole refresh), as recorded on the run. Idempotent; recovered by the sweep when its
    worker dies (modelops/services/jobs.py)."""
    model_run_execute(run_id=run_id)
