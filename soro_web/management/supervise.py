"""Keep the platform's processes running: a child that dies is started again, with back-off.

``run_platform`` starts the web server and a Celery worker. Before this module, the first
child to exit stopped everything, so a worker killed by the out-of-memory killer took the site
down with it. Now a dead child is logged, its state is written where ``/healthz`` reads it
("worker: restarting"), and it is started again after a pause that doubles with each quick
failure (1 s, 2 s, 4 s … up to ``max_delay``) and resets once it has stayed up for
``stable_after`` seconds. Everything stops only on Ctrl-C or SIGTERM.

In production, a process manager does this job (systemd units are in the README); this is
for the one-machine default.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    command: Sequence[str]
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures_in_a_row: int = 0
    restart_at: float | None = None

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Supervisor:
    """Start the children, restart the ones that die, stop them all on request."""

    children: list[Child]
    state_file: Path | None = None
    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 60.0
    poll_seconds: float = 0.5
    say: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    _stopping: bool = field(default=False, init=False)

    def stop(self, *_args: object) -> None:
        self._stopping = True

    def run(self) -> None:
        for child in self.children:
            self._start(child)
        self._write_state()
        try:
            while not self._stopping:
                self._tick()
                time.sleep(self.poll_seconds)
        finally:
            self._terminate_all()
            if self.state_file is not None:
                self.state_file.unlink(missing_ok=True)

    def _tick(self) -> None:
        now = self.clock()
        changed = False
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                    changed = True
                continue
            if child.process is None or child.process.poll() is None:
                if child.failures_in_a_row and now - child.started_at >= self.stable_after:
                    child.failures_in_a_row = 0
                continue
            code = child.process.returncode
            child.failures_in_a_row += 1
            delay = min(self.first_delay * 2 ** (child.failures_in_a_row - 1), self.max_delay)
            child.restart_at = now + delay
            self.say(f"{child.name} stopped (exit code {code}); starting it again in {delay:.0f} s")
            logger.warning(
                "%s stopped with exit code %s; restart in %.0f s", child.name, code, delay
            )
            changed = True
        if changed:
            self._write_state()

    def _start(self, child: Child) -> None:
        if child.process is not None:
            child.restarts += 1
        child.process = subprocess.Popen(list(child.command), env=child.env)
        child.started_at = self.clock()
        child.restart_at = None

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        state = {
            "supervisor_pid": os.getpid(),
            "children": {
                child.name: {
                    "state": "restarting" if child.restart_at is not None else "running",
                    "pid": child.process.pid if child.process else None,
                    "restarts": child.restarts,
                }
                for child in self.children
            },
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(self.state_file)

    def _terminate_all(self) -> None:
        for child in self.children:
            if child.is_running:
                assert child.process is not None
                child.process.terminate()
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def platform_state_file() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "run" / "platform.json"


def read_state(state_file: Path) -> dict[str, dict[str, object]]:
    """The children's states written by a live supervisor, or ``{}`` when none runs."""
    try:
        state = json.loads(state_file.read_text())
        os.kill(int(state["supervisor_pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    children = state.get("children")
    return children if isinstance(children, dict) else {}
