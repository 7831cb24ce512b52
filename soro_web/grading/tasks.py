"""Celery entry points for grading (routed to the grading queue, SORO_GRADING_QUEUE)."""

from __future__ import annotations

from celery import shared_task

from soro_web.grading.services import grading_job_execute


# acks_late with reject_on_worker_lost only because the task is idempotent: the job is
# claimed with a conditional update and every grade is written once per key, so a message
# delivered again after its worker died does no harm.
@shared_task(
    name="grading.grade_assignment", ignore_result=True, acks_late=True, reject_on_worker_lost=True
)
def grade_assignment(job_id: int) -> None:
    """Grade the answers of a queued grading job, chunk by chunk. Recovered by the sweep when
    its worker dies (soro_web/grading/services/jobs.py)."""
    grading_job_execute(job_id=job_id)
