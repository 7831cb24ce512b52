"""Celery entry points of exam practice."""

from __future__ import annotations

from celery import shared_task

from tutoring.exams.services import attempts_submit_overdue


@shared_task(name="exams.attempts_submit_overdue", ignore_result=True)
def attempts_submit_overdue_task() -> None:
    """Submit attempts whose time ran out (one bounded batch; idempotent: each attempt is
    claimed with a conditional UPDATE). Every worker's sweep already does this every
    ``SORO_JOB_SWEEP_SECONDS``; this task is for a Celery beat schedule where one is run."""
    attempts_submit_overdue()
