import shutil
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from modelops.models import ModelVersion
from soro_web.models import WorkerHeartbeat
from tests.factories import StaffFactory
from tests.modelops.conftest import gguf_path, tiny_model_dir, tokenizer_dir  # noqa: F401


@pytest.fixture
def staff_client(db, client):  # type: ignore[no-untyped-def]
    client.force_login(StaffFactory(), backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_anonymous_callers_see_which_parts_are_up_but_not_why(db, client) -> None:  # type: ignore[no-untyped-def]
    data = client.get("/healthz").json()
    assert data == {
        "ok": False,
        "database": {"ok": True},
        "broker": {"ok": True},
        "worker": {"ok": False},
        "model": data["model"],
    }
    assert set(data["model"]) == {"ok"}


def test_healthz_reports_each_part(staff_client, settings, tmp_path, tiny_model_dir) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    client = staff_client
    settings.SORO_MODELS_DIR = tmp_path
    settings.SORO_LLM_URL = None
    response = client.get("/healthz")
    assert response.status_code == 503
    data = response.json()
    assert set(data) == {"ok", "database", "broker", "worker", "model"}
    assert data["ok"] is False
    assert data["database"]["ok"] is True
    assert data["worker"] == {"ok": False, "detail": "no worker has ever reported"}
    assert data["model"]["ok"] is False and "import_base_model" in data["model"]["detail"]

    WorkerHeartbeat.objects.create(hostname="celery@school", last_seen=timezone.now())
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")
    ModelVersion.objects.create(name="base", stage="base", path="base", is_active=True)
    broken = client.get("/healthz")  # a config.json that is not a model's configuration
    assert broken.status_code == 503
    assert "does not load" in broken.json()["model"]["detail"]

    shutil.rmtree(tmp_path / "base")
    shutil.copytree(tiny_model_dir, tmp_path / "base")
    healthy = client.get("/healthz")
    assert healthy.status_code == 200, healthy.json()
    assert healthy.json()["ok"] is True


def test_a_silent_worker_is_reported_down(staff_client) -> None:  # type: ignore[no-untyped-def]
    client = staff_client
    WorkerHeartbeat.objects.create(
        hostname="celery@school", last_seen=timezone.now() - timedelta(minutes=5)
    )
    worker = client.get("/healthz").json()["worker"]
    assert worker["ok"] is False and "celery@school" in worker["detail"]


def test_missing_model_files_are_reported(staff_client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = staff_client
    settings.SORO_MODELS_DIR = tmp_path
    settings.SORO_LLM_URL = None
    ModelVersion.objects.create(name="gone", stage="base", path="gone", is_active=True)
    # The detail is translated; asked for in English here (Tajik is the default).
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    model = client.get("/healthz").json()["model"]
    assert model["ok"] is False and "files missing" in model["detail"]


def test_a_worker_that_run_platform_is_restarting_is_reported(
    staff_client, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import json
    import os

    settings.VAR_DIR = tmp_path
    WorkerHeartbeat.objects.create(hostname="w1", last_seen=timezone.now())
    state = tmp_path / "run" / "platform.json"
    state.parent.mkdir()
    children = {"worker": {"state": "restarting", "pid": None, "restarts": 2}}
    state.write_text(json.dumps({"supervisor_pid": os.getpid(), "children": children}))
    response = staff_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "detail": "restarting (restarts: 2)"}
    # A state file left by a supervisor that is gone says nothing.
    state.write_text(json.dumps({"supervisor_pid": 2**22 + 1, "children": children}))
    assert staff_client.get("/healthz").json()["worker"]["ok"] is True
