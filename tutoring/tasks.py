"""Celery entry points for textbook work."""

from __future__ import annotations

from celery import shared_task

from tutoring.services import textbook_ingest_run


@shared_task(name="tutoring.textbook_ingest", acks_late=True, ignore_result=True)
def textbook_ingest(edition_id: int) -> None:
    """Ingest one textbook edition. Idempotent: the service claims a queued edition with a
    conditional update, so a repeated delivery does nothing; an edition whose worker died
    mid-job is queued again by the sweep (soro_web/jobs.py) and starts over."""
    textbook_ingest_run(edition_id=edition_id)
