"""Background jobs that survive the death of their worker.

Every long job (textbook ingestion, model evaluation, quantization, training, grading) keeps
a *heartbeat* on its row while it runs: a small thread that renews ``heartbeat_at`` every
``SORO_JOB_HEARTBEAT_SECONDS``. A worker killed mid-job stops beating; every worker runs
the registered *sweeps* every ``SORO_JOB_SWEEP_SECONDS`` (a timer inside the worker, so it
works on the embedded file transport as on Redis or RabbitMQ), and a sweep puts a job whose
heartbeat is older than ``SORO_JOB_STALE_SECONDS`` back in the queue. The job's own claim (a
conditional UPDATE) makes a repeated delivery harmless, and each job resumes or restarts
cleanly when it is claimed again.

Apps register their sweeps in ``AppConfig.ready`` with :func:`register_sweep`; this module
imports no app.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

#: What a recovered job says in its log.
RECOVERED_NOTE = "recovered after a worker stopped"

Sweep = Callable[[datetime, datetime], list[int]]
_sweeps: dict[str, Sweep] = {}


def new_owner() -> str:
    """A token that marks which run of a job owns its row (a claim)."""
    return uuid.uuid4().hex


def stale_before() -> datetime:
    """Running jobs whose heartbeat is older than this are presumed dead."""
    return timezone.now() - timedelta(seconds=settings.SORO_JOB_STALE_SECONDS)


def resend_before() -> datetime:
    """Queued jobs sent before this are sent again (their message may have been lost with a
    killed worker; a repeated message is harmless)."""
    return timezone.now() - timedelta(seconds=settings.SORO_JOB_RESEND_SECONDS)


def register_sweep(name: str, sweep: Sweep) -> None:
    """Register ``sweep(stale_before, resend_before) -> ids re-queued`` under ``name``."""
    _sweeps[name] = sweep


def sweep_stale_jobs() -> dict[str, list[int]]:
    """Run every registered sweep; returns the ids each one queued again. A failing sweep
    is logged and the others still run."""
    stale, resend = stale_before(), resend_before()
    requeued: dict[str, list[int]] = {}
    for name, sweep in list(_sweeps.items()):
        try:
            ids = sweep(stale, resend)
        except Exception:
            logger.exception("the sweep %s failed", name)
            continue
        if ids:
            logger.warning("%s: queued again after their worker stopped: %s", name, ids)
            requeued[name] = ids
    return requeued


@dataclass
class Heartbeat:
    """A running job's heartbeat; ``lost`` turns true when the row no longer belongs to this
    run (another run claimed it, or it was cancelled)."""

    touch: Callable[[], int]
    interval: float
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if self.touch() == 0:
                        self.lost = True
                        return
                except Exception:  # a missed beat is not fatal; the next one may succeed
                    logger.exception("a job heartbeat failed")
                    close_old_connections()
        finally:
            connections.close_all()  # this thread's own database connection


@contextmanager
def heartbeat(touch: Callable[[], int], *, interval: float | None = None) -> Iterator[Heartbeat]:
    """Call ``touch()`` (which renews the job row's ``heartbeat_at`` and returns how many rows
    it changed) every ``interval`` seconds while the block runs."""
    beat = Heartbeat(
        touch=touch,
        interval=settings.SORO_JOB_HEARTBEAT_SECONDS if interval is None else interval,
    )
    thread = threading.Thread(target=beat.run, name="soro-job-heartbeat", daemon=True)
    thread.start()
    try:
        yield beat
    finally:
        beat._stop.set()
        thread.join(timeout=beat.interval + 5)
