"""A real Celery worker process: it reports its heartbeat and consumes tasks from the broker.

On the default run this uses the embedded file transport; CI's second run repeats it with
CELERY_BROKER_URL pointing at this machine's Redis and DATABASE_URL at PostgreSQL.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from soro_web.celery import app
from soro_web.models import WorkerHeartbeat, WorkerProbe
from soro_web.services import health_report
from soro_web.tasks import worker_probe
from tests.workers import Workers, wait_for, workers  # noqa: F401


@pytest.fixture
def worker(workers: Workers):  # type: ignore[no-untyped-def]  # noqa: F811
    return workers.start(), workers.queue


def send_probe(probe_id: str, queue_name: str) -> None:
    # A connection of its own: the app's pooled connection may predate the options above.
    options = dict(app.conf.broker_transport_options)
    with app.connection_for_write(transport_options=options) as connection:
        worker_probe.apply_async(args=[probe_id], connection=connection, queue=queue_name)


def test_worker_reports_and_consumes(worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _process, queue_name = worker
    heartbeat = wait_for(lambda: WorkerHeartbeat.objects.first(), 60, "the worker's heartbeat")
    assert heartbeat.hostname.startswith("test-")
    assert health_report()["worker"]["ok"] is True

    probe_id = uuid.uuid4().hex
    send_probe(probe_id, queue_name)
    probe = wait_for(
        lambda: WorkerProbe.objects.filter(probe_id=probe_id).first(),
        60,
        f"the probe to run (worker log: {tmp_path / 'worker.log'})",
    )
    assert probe.done_at is not None
    # Idempotent: running the same probe again leaves one row.
    send_probe(probe_id, queue_name)
    wait_for(
        lambda: WorkerProbe.objects.get(probe_id=probe_id).done_at > probe.done_at,
        60,
        "the repeated probe",
    )
    assert WorkerProbe.objects.filter(probe_id=probe_id).count() == 1
