"""Real Celery worker processes for tests about the worker: started, killed with SIGKILL
mid-job, and started again, against the test database and the configured broker (the
embedded file transport by default, Redis when CI sets CELERY_BROKER_URL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from soro_web.celery import app

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


class Workers:
    """Start worker processes on one queue of this test's own; kill or stop them."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []
        broker_url = settings.CELERY_BROKER_URL
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "soro_web.settings",
            "DATABASE_URL": database_url(),
            "SORO_VAR_DIR": str(tmp_path),
            "CELERY_BROKER_URL": broker_url,
            "SORO_WORKER_HEARTBEAT_SECONDS": "1",
        }
        if broker_url.startswith("filesystem://"):
            # The worker's settings put the file queue under its SORO_VAR_DIR; send there too.
            queue = tmp_path / "broker" / "queue"
            options = app.conf.broker_transport_options
            monkeypatch.setitem(options, "data_folder_in", str(queue))
            monkeypatch.setitem(options, "data_folder_out", str(queue))
            monkeypatch.setitem(options, "processed_folder", str(tmp_path / "broker" / "processed"))
            monkeypatch.setitem(options, "control_folder", str(tmp_path / "broker" / "control"))
            queue.mkdir(parents=True)
            self.queue = "celery"
        else:
            # A shared server: a queue of our own so no other worker takes our messages.
            self.queue = f"test-{uuid.uuid4().hex[:8]}"
        monkeypatch.setitem(app.conf, "task_always_eager", False)
        monkeypatch.setitem(app.conf, "task_default_queue", self.queue)
        # Model and grading jobs too go to this test's queue, here and in the workers.
        monkeypatch.setitem(app.conf, "task_routes", {})
        self.env["SORO_MODELOPS_QUEUE"] = self.queue
        # Jobs a worker's sweep sends again (textbook ingestion) go to the default queue.
        self.env["SORO_DEFAULT_QUEUE"] = self.queue
        self.env["SORO_GRADING_QUEUE"] = self.queue
        # Messages sent by the code under test must go through connections made with the
        # options above, not the app's pooled ones (which may predate them).
        app._after_fork()

    def start(self, **extra_env: str) -> subprocess.Popen[bytes]:
        log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "soro_web",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "2",
                "-Q",
                self.queue,
                "--loglevel",
                "INFO",
                "--hostname",
                f"test-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its children: no chance to finish or acknowledge."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)

    def log(self, tail: int = 2500) -> str:
        """The end of each worker's log, for a failure message."""
        return "\n".join(
            f"--- {path.name}:\n{path.read_text(errors='replace')[-tail:]}"
            for path in sorted(self.tmp_path.glob("worker-*.log"))
        )


@pytest.fixture
def workers(transactional_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workers]:  # type: ignore[no-untyped-def]
    if connection.vendor == "sqlite" and str(connection.settings_dict["NAME"]).startswith(
        ("file:memorydb", ":memory:")
    ):
        pytest.fail("worker tests need a file database; see settings_test.py")
    launcher = Workers(tmp_path, monkeypatch)
    yield launcher
    launcher.stop_all()
    app._after_fork()
