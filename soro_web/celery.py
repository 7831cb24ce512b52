"""The Celery app. Tasks live in each app's ``tasks.py`` and are found automatically.

The worker writes a heartbeat row every few seconds (``WorkerHeartbeatStep``), which
``/healthz`` reads. That works with every broker, the embedded file transport included,
where Celery's broadcast ``ping`` does not. The same timer sweeps for jobs whose worker died
(``JobSweepStep``, see ``soro_web/jobs.py``).
"""

from __future__ import annotations

import logging
import os

from celery import Celery, bootsteps
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soro_web.settings")

logger = logging.getLogger(__name__)

app = Celery("soro")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(worker, **kwargs)
        self.timer_ref = None

    def start(self, worker):  # type: ignore[no-untyped-def]
        from django.conf import settings

        self.beat(worker)
        self.timer_ref = worker.timer.call_repeatedly(
            settings.SORO_WORKER_HEARTBEAT_SECONDS, self.beat, (worker,), priority=10
        )

    def stop(self, worker):  # type: ignore[no-untyped-def]
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    def beat(self, worker):  # type: ignore[no-untyped-def]
        from django.db import close_old_connections

        from soro_web.services import worker_heartbeat_record

        try:
            close_old_connections()
            worker_heartbeat_record(hostname=worker.hostname)
        except Exception:  # a heartbeat must never take the worker down
            logger.exception("could not record the worker heartbeat")


class JobSweepStep(bootsteps.StartStopStep):
    """Queue again the jobs whose worker stopped (at start, then every few seconds)."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(worker, **kwargs)
        self.timer_ref = None

    def start(self, worker):  # type: ignore[no-untyped-def]
        from django.conf import settings

        self.timer_ref = worker.timer.call_repeatedly(
            settings.SORO_JOB_SWEEP_SECONDS, self.sweep, (), priority=10
        )

    def stop(self, worker):  # type: ignore[no-untyped-def]
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None

    def sweep(self):  # type: ignore[no-untyped-def]
        from django.db import close_old_connections

        from soro_web.jobs import sweep_stale_jobs

        try:
            close_old_connections()
            sweep_stale_jobs()
        except Exception:  # the sweep must never take the worker down
            logger.exception("could not sweep for lost jobs")


app.steps["worker"].add(WorkerHeartbeatStep)
app.steps["worker"].add(JobSweepStep)


@worker_ready.connect
def sweep_when_ready(**_kwargs):  # type: ignore[no-untyped-def]
    """A worker that starts picks up at once what a killed one left behind."""
    JobSweepStep.sweep(None)  # type: ignore[arg-type]


@worker_init.connect
def import_heavy_modules(**_kwargs):  # type: ignore[no-untyped-def]
    """Import transformers' lazy classes once, before the pool's threads start.

    transformers resolves ``AutoTokenizer`` and friends on first attribute access; two threads
    doing that at once in a fresh worker could see ``ImportError: cannot import name
    'AutoTokenizer'`` (found when two textbooks were uploaded together)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401
