"""Many students sitting a mock exam at once: is every answer saved, and how fast?

Prepares a fresh database under a temporary SORO_VAR_DIR (migrate, the demo curriculum and
question bank, a 30-question blueprint, N students of one class), starts the web server on
loopback as `make run` serves it (gunicorn, gthread, 1 worker, 8 threads; SQLite unless
DATABASE_URL is set), then N simulated students (threads with httpx) each start the mock
exam, and for every question load its page, think, and save an answer with htmx's header.
Prints p50/p95/max of the answer saves and the question pages, the error count, and the
answers counted in the database afterwards against the saves the server acknowledged.

Bounded: it stops after --items questions per student (default 30) and never runs longer
than --limit seconds (default 420). Students are signed in with sessions written to the
database beforehand (the PBKDF2 sign-in costs about 0.3 s of CPU each and is not what this
measures).

    .venv/bin/python benchmarks/exam_load.py                      # 200 students, 30 items
    .venv/bin/python benchmarks/exam_load.py --students 50 --think 1 3
    .venv/bin/python benchmarks/exam_load.py --smoke    # 5 students, 3 items, seconds

``--smoke`` checks that it runs: the same path with 5 students, 3 items, think 0.05–0.1 s,
a 30 s limit, on a throw-away SQLite under a temporary ``SORO_VAR_DIR``
(``benchmarks/_smoke.py``, which also drops DATABASE_URL and CELERY_BROKER_URL); it exits 1
if a request failed, no answer was saved or an acknowledged answer is not in the database.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _smoke  # noqa: E402
from benchmarks.web_concurrency import free_port  # noqa: E402

PREPARE = """
import django, sys
django.setup()
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from soro_web.accounts.models import Classroom, Enrollment, School, User
from soro_web.curriculum.models import Grade, Subject
from tutoring.exams.models import Blueprint

call_command("migrate", verbosity=0)
call_command("collectstatic", "--no-input", verbosity=0)
call_command("import_curriculum", verbosity=0)
call_command("import_questions", "--demo", verbosity=0)
blueprint = Blueprint.objects.create(
    code="load-30", name="Load 30", cluster=5, minutes=120,
    sections=[{"subject": "biology", "counts": {"choice": 20, "matching": 5, "short": 5},
               "points": {"choice": 1, "matching": 2, "short": 2}}],
)
school = School.objects.create(name="Load school")
teacher = User.objects.create(username="load-teacher", role="teacher", school=school)
classroom = Classroom.objects.create(
    school=school, teacher=teacher, name="11A",
    subject=Subject.objects.get(code="biology"), grade=Grade.objects.get(number=11),
)
students = User.objects.bulk_create(
    User(username=f"load-{n:03d}", role="student", school=school, password="!")
    for n in range({students})
)
Enrollment.objects.bulk_create(Enrollment(classroom=classroom, student=s) for s in students)
for student in User.objects.filter(role="student"):
    session = SessionStore()
    session["_auth_user_id"] = str(student.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = student.get_session_auth_hash()
    session.create()
    print("session", session.session_key)
print("blueprint", blueprint.pk)
"""

COUNT = """
import django
django.setup()
from tutoring.exams.models import Attempt, AttemptAnswer
print(AttemptAnswer.objects.count(), Attempt.objects.count())
"""


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.saves: list[float] = []
        self.pages: list[float] = []
        self.errors: list[str] = []
        self.acknowledged = 0

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            (self.saves if kind == "save" else self.pages).append(seconds)
            if kind == "save":
                self.acknowledged += 1

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def answer_for(page: str) -> dict[str, str]:
    """Some answer to the question in the page, whatever its type."""
    if 'name="choice"' in page:
        return {"choice": str(random.randrange(4))}
    pairs = re.findall(r'name="(pair-\d)"', page)
    if pairs:
        return {name: str(random.randrange(4)) for name in pairs}
    if 'inputmode="decimal"' in page:  # a number is asked for
        return {"text": random.choice(["12,5", "3", "0.8"])}
    return {"text": random.choice(["хлоропласт", "ҳуҷайра"])}


def student(
    base: str, session_key: str, blueprint: int, args: argparse.Namespace, results: Results
) -> None:
    deadline = time.monotonic() + args.limit
    with httpx.Client(base_url=base, timeout=60, follow_redirects=False) as client:
        client.cookies.set("sessionid", session_key)
        try:
            client.get("/exams/").raise_for_status()
            token = client.cookies["csrftoken"]
            headers = {"X-CSRFToken": token, "Referer": base + "/exams/"}
            started = client.post("/exams/mock/", data={"blueprint": blueprint}, headers=headers)
            attempt_url = started.headers["location"]
        except (httpx.HTTPError, KeyError) as error:
            results.error(f"start: {error!r}")
            return
        for position in range(1, args.items + 1):
            if time.monotonic() > deadline:
                return
            begin = time.perf_counter()
            page = client.get(f"{attempt_url}?q={position}")
            results.add("page", time.perf_counter() - begin)
            if page.status_code != 200:
                results.error(f"page {page.status_code}")
                continue
            time.sleep(random.uniform(*args.think))
            begin = time.perf_counter()
            saved = client.post(
                f"{attempt_url}answers/{position}/",
                data=answer_for(page.text),
                headers={**headers, "HX-Request": "true"},
            )
            elapsed = time.perf_counter() - begin
            if (
                saved.status_code == 200
                and "save-state" in saved.text
                and "error" not in saved.text
            ):
                results.add("save", elapsed)
            else:
                results.error(f"save {saved.status_code}: {saved.text[:80]!r}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--think", type=float, nargs=2, default=(3.0, 8.0), metavar=("MIN", "MAX"))
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds to start everyone")
    parser.add_argument("--limit", type=float, default=420.0)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="5 students, 3 items, a throw-away SQLite: checks that it runs",
    )
    args = parser.parse_args()

    if args.smoke:
        args.students, args.items, args.think, args.ramp, args.limit = 5, 3, (0.05, 0.1), 0.5, 30.0
        # Removed at exit; the server and the helper processes inherit this environment.
        var = _smoke.use_throwaway_var_dir("exam-load")
    else:
        var = Path(tempfile.mkdtemp(prefix="soro-exam-load-"))
    env = {**os.environ, "SORO_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "soro_web.settings"}
    prepared = subprocess.run(
        [sys.executable, "-c", PREPARE.replace("{students}", str(args.students))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    rows = [line.split() for line in prepared if line.startswith(("session ", "blueprint "))]
    blueprint = next(int(row[1]) for row in rows if row[0] == "blueprint")
    sessions = [row[1] for row in rows if row[0] == "session"]
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "soro_web.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "1",
            "--threads",
            str(args.threads),
            "--timeout",
            "300",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(var / "gunicorn.log", "w"),  # noqa: SIM115
    )
    print(f"server log: {var / 'gunicorn.log'}", file=sys.stderr)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/accounts/login/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    results = Results()
    load_before = os.getloadavg()
    began = time.monotonic()
    try:
        threads = []
        for key in sessions:
            thread = threading.Thread(
                target=student, args=(base, key, blueprint, args, results), daemon=True
            )
            thread.start()
            threads.append(thread)
            time.sleep(args.ramp / max(1, len(sessions)))
        for thread in threads:
            thread.join(timeout=max(1.0, args.limit - (time.monotonic() - began)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    wall = time.monotonic() - began
    stored, attempts = subprocess.run(
        [sys.executable, "-c", COUNT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    database = os.environ.get("DATABASE_URL", "sqlite").split(":")[0]
    print(
        f"# {args.students} students × {args.items} questions, think {args.think[0]:g}–"
        f"{args.think[1]:g} s, gunicorn gthread {args.threads} threads, {database}, "
        f"{os.cpu_count()} cores, load before {load_before[0]:.2f}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(f"{'':14} {'count':>7} {'p50':>9} {'p95':>9} {'max':>9}")
    for name, values in (("answer save", results.saves), ("question page", results.pages)):
        if not values:
            print(f"{name:14} {0:7d}")
            continue
        print(
            f"{name:14} {len(values):7d} {statistics.median(values) * 1000:8.1f}ms "
            f"{percentile(values, 0.95) * 1000:8.1f}ms {max(values) * 1000:8.1f}ms"
        )
    print(f"errors: {len(results.errors)}  {sorted(set(results.errors))[:5]}")
    print(
        f"attempts: {attempts}; answers acknowledged: {results.acknowledged}; "
        f"answers in the database: {stored}; wall {wall:.0f} s"
    )
    if args.smoke and (
        results.errors or not results.acknowledged or int(stored) < results.acknowledged
    ):
        sys.exit(1)


if __name__ == "__main__":
    main()
