"""Run the web server and a Celery worker together, as the README's run command does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Run Soro on one machine: the web server (gunicorn, threaded, so a long model reply "
        "does not block other pages) and one Celery worker. Stops both on Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("SORO_BIND", "127.0.0.1:8000"))
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        python = sys.executable
        web = [
            python,
            "-m",
            "gunicorn",
            "soro_web.wsgi:application",
            "--bind",
            options["bind"],
            "--worker-class",
            "gthread",
            "--workers",
            "1",
            "--threads",
            str(options["threads"]),
            "--timeout",
            "300",
            "--access-logfile",
            "-",
        ]
        worker = [
            python,
            "-m",
            "celery",
            "-A",
            "soro_web",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(settings.SORO_WORKER_CONCURRENCY),
            "--pool",
            settings.SORO_WORKER_POOL,
            "-Q",
            f"celery,{settings.SORO_MODELOPS_QUEUE},{settings.SORO_GRADING_QUEUE}",
        ]
        web_env = {**os.environ, "SORO_LLM_PRELOAD": os.environ.get("SORO_LLM_PRELOAD", "1")}
        processes = [subprocess.Popen(web, env=web_env), subprocess.Popen(worker)]
        self.stdout.write(
            self.style.SUCCESS(f"Soro is running on http://{options['bind']}/ (Ctrl-C stops it).")
        )

        def stop(*_args):  # type: ignore[no-untyped-def]
            for process in processes:
                if process.poll() is None:
                    process.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        finally:
            stop()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        failed = [p for p in processes if p.returncode not in (0, -signal.SIGTERM, None)]
        if failed:
            sys.exit(1)
