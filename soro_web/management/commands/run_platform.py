"""Run the web server and a Celery worker together, as the README's run command does."""

from __future__ import annotations

import ipaddress
import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from soro_web.demo import demo_accounts_with_published_password
from soro_web.management.supervise import Child, Supervisor, platform_state_file


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume others can reach it


class Command(BaseCommand):
    help = (
        "Run Soro on one machine: the web server (gunicorn, threaded, so a long model reply "
        "does not block other pages) and one Celery worker. A process that dies is started "
        "again (with back-off); Ctrl-C or SIGTERM stops both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("SORO_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.SORO_WEB_WORKERS,
            help="gunicorn processes (SORO_WEB_WORKERS; docs/benchmarks.md says why the default)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.SORO_WEB_THREADS,
            help="threads per gunicorn process (SORO_WEB_THREADS)",
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        host = options["bind"].rsplit(":", 1)[0].strip("[]")
        if not is_loopback(host):
            published = demo_accounts_with_published_password()
            if published:
                raise CommandError(
                    f"Not starting on {options['bind']}: the demo accounts "
                    f"{', '.join(published)} still have the password printed in the README, "
                    "and other machines can reach this address. Set new passwords "
                    "(manage.py changepassword USERNAME) or deactivate them in the admin, "
                    "or bind to 127.0.0.1."
                )
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
            str(options["workers"]),
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
            f"{settings.SORO_DEFAULT_QUEUE},{settings.SORO_MODELOPS_QUEUE},"
            f"{settings.SORO_GRADING_QUEUE}",
        ]
        web_env = {**os.environ, "SORO_LLM_PRELOAD": os.environ.get("SORO_LLM_PRELOAD", "1")}
        supervisor = Supervisor(
            children=[Child("web", web, env=web_env), Child("worker", worker)],
            state_file=platform_state_file(),
            say=lambda line: self.stderr.write(line),
        )
        signal.signal(signal.SIGTERM, supervisor.stop)
        signal.signal(signal.SIGINT, supervisor.stop)
        self.stdout.write(
            self.style.SUCCESS(f"Soro is running on http://{options['bind']}/ (Ctrl-C stops it).")
        )
        supervisor.run()
