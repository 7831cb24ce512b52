"""``run_platform`` keeps the site up when its worker dies, and starts the worker again.

A real ``run_platform`` process (gunicorn + Celery worker) on a free loopback port, against
this test's database; the worker is killed with SIGKILL as the out-of-memory killer would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from soro_web.management.supervise import Child, Supervisor, read_state
from tests.workers import ROOT, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def health(port: int) -> dict[str, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as error:
        return json.loads(error.read())  # type: ignore[no-any-return]
    except OSError:
        return {}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_site_keeps_serving_and_the_worker_comes_back(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "soro_web.settings",
        "DATABASE_URL": database_url(),
        "SORO_VAR_DIR": str(tmp_path),
        # The embedded transport in this test's folder: a shared broker's default queue is
        # not this test's to consume.
        "CELERY_BROKER_URL": "filesystem://",
        "SORO_WORKER_HEARTBEAT_SECONDS": "1",
        "SORO_LLM_PRELOAD": "0",
    }
    # Pages need the collected static files' manifest, as after `make setup`.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    platform = subprocess.Popen(
        [sys.executable, "manage.py", "run_platform", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
    )
    state_file = tmp_path / "run" / "platform.json"
    login = f"http://127.0.0.1:{port}/accounts/login/"
    try:
        wait_for(lambda: get(login) == 200, 90, "the site")
        first = wait_for(lambda: read_state(state_file).get("worker", {}).get("pid"), 30, "pid")
        web_pid = read_state(state_file)["web"]["pid"]

        os.kill(int(first), signal.SIGKILL)  # type: ignore[call-overload]
        # The supervisor notices, says so where /healthz reads it, and keeps the site up.
        wait_for(
            lambda: read_state(state_file)["worker"]["state"] == "restarting", 10, "restarting"
        )
        assert get(login) == 200

        def worker_back() -> bool:
            worker = read_state(state_file)["worker"]
            return worker["state"] == "running" and worker["pid"] != first

        wait_for(worker_back, 30, "a new worker")
        state = read_state(state_file)
        assert state["worker"]["restarts"] == 1
        assert state["web"] == {"state": "running", "pid": web_pid, "restarts": 0}
        assert get(login) == 200
        # The new worker reports in: /healthz says the worker is up again.
        wait_for(lambda: health(port).get("worker", {}).get("ok"), 60, "worker ok on /healthz")
    finally:
        platform.send_signal(signal.SIGTERM)
        platform.wait(timeout=60)
    assert platform.returncode == 0
    assert not state_file.exists()


def test_back_off_doubles_on_quick_failures_and_resets_when_stable(tmp_path: Path) -> None:
    now = [0.0]
    lines: list[str] = []
    child = Child("worker", [sys.executable, "-c", "raise SystemExit(3)"])
    supervisor = Supervisor(
        children=[child],
        state_file=tmp_path / "state.json",
        stable_after=60,
        say=lines.append,
        clock=lambda: now[0],
    )
    supervisor._start(child)
    delays = []
    for _ in range(7):
        assert child.process is not None
        child.process.wait()
        supervisor._tick()
        assert child.restart_at is not None
        delays.append(child.restart_at - now[0])
        now[0] = child.restart_at
        supervisor._tick()  # starts it again
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert child.restarts == 7
    assert lines[0] == "worker stopped (exit code 3); starting it again in 1 s"
    # A child that stays up for stable_after seconds starts from the first delay again.
    child.command = [sys.executable, "-c", "import time; time.sleep(60)"]
    assert child.process is not None
    child.process.wait()
    supervisor._tick()
    now[0] = child.restart_at  # type: ignore[assignment]
    supervisor._tick()
    now[0] += 61
    supervisor._tick()
    assert child.failures_in_a_row == 0
    supervisor._terminate_all()


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "192.168.1.10:80", "school.local:8000"])
def test_demo_passwords_are_never_served_beyond_this_machine(bind: str) -> None:
    from django.core.management import CommandError, call_command

    from soro_web.accounts.models import User
    from soro_web.demo import demo_seed

    demo_seed()
    with pytest.raises(CommandError, match="still have the password printed in the README"):
        call_command("run_platform", "--bind", bind)
    # Once every demo account has a password of its own, any address may be bound.
    for user in User.objects.all():
        user.set_password("a-new-secret-2026")
        user.save()
    from soro_web.demo import demo_accounts_with_published_password

    assert demo_accounts_with_published_password() == []
