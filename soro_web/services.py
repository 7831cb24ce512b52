"""Platform services: worker heartbeats and the health report behind ``/healthz``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from soro_web.models import WorkerHeartbeat, WorkerProbe


def worker_heartbeat_record(*, hostname: str) -> None:
    """Called by every worker every few seconds."""
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now()}
    )


def worker_probe_record(*, probe_id: str) -> None:
    WorkerProbe.objects.update_or_create(probe_id=probe_id, defaults={"done_at": timezone.now()})


def _check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    return {"ok": True, "detail": connection.vendor}


def _check_broker() -> dict[str, Any]:
    from soro_web.celery import app

    url = app.conf.broker_url or ""
    transport = url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return {"ok": False, "detail": f"{transport}: {type(error).__name__}: {error}"}
    return {"ok": True, "detail": transport}


def _check_worker() -> dict[str, Any]:
    from soro_web.management.supervise import platform_state_file, read_state

    supervised = read_state(platform_state_file()).get("worker", {})
    if supervised.get("state") == "restarting":
        # run_platform saw the worker die and starts it again after a pause.
        return {"ok": False, "detail": f"restarting (restarts: {supervised.get('restarts')})"}
    window = timedelta(seconds=settings.SORO_WORKER_HEARTBEAT_SECONDS * 3)
    latest = WorkerHeartbeat.objects.order_by("-last_seen").first()
    if latest is None:
        return {"ok": False, "detail": "no worker has ever reported"}
    age = (timezone.now() - latest.last_seen).total_seconds()
    alive = WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - window).count()
    if alive == 0:
        return {"ok": False, "detail": f"last heartbeat {age:.0f}s ago from {latest.hostname}"}
    return {"ok": True, "detail": f"{alive} worker(s), last heartbeat {age:.0f}s ago"}


def health_report() -> dict[str, Any]:
    """Status of every part Soro needs. ``ok`` is true only when all of them are."""
    from modelops.services import model_health

    checks = {
        "database": _check_database(),
        "broker": _check_broker(),
        "worker": _check_worker(),
        "model": model_health(),
    }
    return {"ok": all(check["ok"] for check in checks.values()), **checks}


def dashboard_staff_summary() -> dict[str, int]:
    from soro_web.accounts.models import Classroom, School, User
    from soro_web.curriculum.models import Topic
    from tutoring.models import Textbook

    return {
        "schools": School.objects.count(),
        "teachers": User.objects.filter(role=User.Role.TEACHER).count(),
        "students": User.objects.filter(role=User.Role.STUDENT, is_staff=False).count(),
        "classes": Classroom.objects.count(),
        "topics": Topic.objects.leaves().count(),
        "textbooks": Textbook.objects.count(),
    }
