"""Many students on the site at once (locust): dashboard, search, sign-in, answer saving.

Prepares a fresh database (migrate, the demo curriculum and question bank, one demo textbook
indexed for search, a 30-question blueprint, N+1 students of one class with a password), starts
the platform on loopback exactly as ``make run`` does (``manage.py run_platform``: gunicorn
with its default processes × threads, and the Celery worker), then drives it with locust,
headless and in this process:

1. a baseline in the same run: 1 simulated student doing the same things with a short think
   time, so each request kind's unloaded latency is measured beside the loaded one;
2. the load: ``--users`` students started at ``--spawn-rate`` per second for ``--run-time``
   seconds. ``--sign-in-share`` of them (10 %) sign in with their password (a real sign-in:
   PBKDF2, about 0.3 s of CPU each), the others come back with the session cookie of an
   earlier day (written to the database beforehand); each starts a mock exam, then
   loops over: the dashboard (weight 2), a textbook search for a Tajik word (weight 1), a
   question page and the save of its answer as htmx sends it (weight 3), with a think time of
   ``--think`` seconds (5–10 s) between actions.

Prints, per request kind, count, p50/p95/max, requests/s and errors for the load (whole run
and after the last student signed in), the baseline's p50/p95, the goal (p95 ≤ 300 ms for the
dashboard and answer saves, ≤ 800 ms for search, 0 errors) met or missed, and the
machine/load lines the other benchmarks print.

The defaults are SQLite and the embedded broker under a temporary ``SORO_VAR_DIR``. For
PostgreSQL + Redis pass ``--database-url postgres://postgres@127.0.0.1:5432/postgres`` (a
throw-away database ``soro_load_<random>`` is created on that server and dropped at the end)
and ``--broker-url redis://127.0.0.1:6379/13`` (use a Redis database nobody else uses: the
worker consumes Soro's queues there).

    .venv/bin/python benchmarks/load.py                     # 200 students, 90 s
    .venv/bin/python benchmarks/load.py --database-url postgres://postgres@127.0.0.1:5432/postgres \
        --broker-url redis://127.0.0.1:6379/13
    .venv/bin/python benchmarks/load.py --smoke             # 5 students, a few seconds

``--smoke``: 5 students, think 0.2–0.5 s, a 4 s baseline and 12 s of load, lexical search only,
on a throw-away SQLite (``benchmarks/_smoke.py``); exits 1 if any request failed or a kind
was never requested.
"""

from __future__ import annotations

# locust patches the standard library for gevent when imported: before anything else.
import locust  # noqa: F401  isort: skip

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import gevent
from locust import HttpUser, between, task
from locust.env import Environment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _smoke  # noqa: E402
from benchmarks.machine import cpu_name, load_average  # noqa: E402
from benchmarks.web_concurrency import free_port  # noqa: E402

PASSWORD = "load-Пароль-2026"  # the throw-away database's students

PREPARE = """
import django
django.setup()
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from soro_web.accounts.models import Classroom, Enrollment, School, User
from soro_web.curriculum.models import Grade, Subject
from tutoring.exams.models import Blueprint
from tutoring.services import demo_textbooks, textbook_ingest_run, textbook_register_file

call_command("migrate", verbosity=0)
call_command("collectstatic", "--no-input", verbosity=0)
call_command("import_curriculum", verbosity=0)
call_command("import_questions", "--demo", verbosity=0)
biology = Subject.objects.get(code="biology")
grade = Grade.objects.get(number=9)
path, meta = next((p, m) for p, m in demo_textbooks() if p.name == "biology-9.md")
edition = textbook_register_file(
    path=path, title=meta.get("title") or path.stem, subject=biology, grade=grade, enqueue=False
)
textbook_ingest_run(edition_id=edition.pk)
edition.refresh_from_db()
assert edition.status == "ready", edition.status
blueprint = Blueprint.objects.create(
    code="load-30", name="Load 30", cluster=5, minutes=120,
    sections=[{"subject": "biology", "counts": {"choice": 20, "matching": 5, "short": 5},
               "points": {"choice": 1, "matching": 2, "short": 2}}],
)
school = School.objects.create(name="Load school")
teacher = User.objects.create(username="load-teacher", role="teacher", school=school)
classroom = Classroom.objects.create(
    school=school, teacher=teacher, name="9A", subject=biology, grade=grade
)
password = make_password({password!r})  # hashed once: PBKDF2 for each would take minutes
students = User.objects.bulk_create(
    User(username=f"load-{n:03d}", role="student", school=school, password=password)
    for n in range({students})
)
Enrollment.objects.bulk_create(Enrollment(classroom=classroom, student=s) for s in students)
from django.contrib.sessions.backends.db import SessionStore
for student in User.objects.filter(role="student").order_by("username"):
    session = SessionStore()  # signed in on an earlier day: the cookie is still valid
    session["_auth_user_id"] = str(student.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = student.get_session_auth_hash()
    session.create()
    print("session", student.username, session.session_key)
print("blueprint", blueprint.pk)
"""

# Words of the biology textbook's topics, as a student would type them.
QUERIES = ("ҳуҷайра", "хлоропласт", "фотосинтез", "ҳуҷайраи растанӣ", "митоз", "нафаскашӣ")
GOALS = {"dashboard": 0.300, "answer save": 0.300, "search": 0.800}
KINDS = ("sign-in", "exam start", "dashboard", "search", "question page", "answer save")


class Recorder:
    """Every request's time and outcome, per kind and phase (locust's own statistics round)."""

    def __init__(self) -> None:
        self.phase = "baseline"
        self.times: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        self.errors: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def on_request(self, name: str, response_time: float, exception: object, **_: object) -> None:
        with self.lock:
            key = (self.phase, name)
            if exception:
                self.errors[key].append(str(exception)[:120])
            else:
                self.times[key].append((time.monotonic(), response_time / 1000))


class Student(HttpUser):
    """One student: signs in, starts a mock exam, then reads, searches and answers."""

    wait_time = between(5, 10)
    #: (username, session key) of the students not started yet; the last is taken first.
    students: list[tuple[str, str]] = []
    #: How many of them sign in with their password; the others come with a session cookie.
    signing_in = 0
    blueprint = 0
    items = 30

    def on_start(self) -> None:
        self.attempt_url = ""
        self.position = 0
        self.client.headers["Referer"] = self.host + "/"
        username, session_key = self.students.pop()
        if Student.signing_in > 0:
            Student.signing_in -= 1
            if not self.sign_in(username):
                return
        else:
            self.client.cookies.set("sessionid", session_key)
            self.client.get("/exams/", name="exams page")  # sets the CSRF cookie
        self.start_exam()

    def sign_in(self, username: str) -> bool:
        page = self.client.get("/accounts/login/", name="sign-in page")
        with self.client.post(
            "/accounts/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf_token(page.text),
            },
            name="sign-in",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"sign-in {response.status_code}")
                return False
        return True

    def start_exam(self) -> None:
        with self.client.post(
            "/exams/mock/",
            data={"blueprint": self.blueprint},
            headers=self.csrf_headers(),
            name="exam start",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"exam start {response.status_code}")
                return
            self.attempt_url = response.headers["location"]

    def csrf_headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.client.cookies.get("csrftoken", "")}

    @task(2)
    def dashboard(self) -> None:
        with self.client.get("/dashboard/", name="dashboard", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"dashboard {response.status_code}")

    @task(1)
    def search(self) -> None:
        with self.client.get(
            "/search/", params={"q": random.choice(QUERIES)}, name="search", catch_response=True
        ) as response:
            if response.status_code != 200 or "form-error" in response.text:
                response.failure(f"search {response.status_code}")

    @task(3)
    def answer(self) -> None:
        if not self.attempt_url:
            return
        self.position = self.position % self.items + 1
        with self.client.get(
            f"{self.attempt_url}?q={self.position}", name="question page", catch_response=True
        ) as page:
            if page.status_code != 200:
                page.failure(f"question page {page.status_code}")
                return
        with self.client.post(
            f"{self.attempt_url}answers/{self.position}/",
            data=answer_for(page.text),
            headers={**self.csrf_headers(), "HX-Request": "true"},
            name="answer save",
            catch_response=True,
        ) as saved:
            if saved.status_code != 200 or "save-state" not in saved.text or "error" in saved.text:
                saved.failure(f"answer save {saved.status_code}: {saved.text[:60]!r}")


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    return found.group(1) if found else ""


def answer_for(page: str) -> dict[str, str]:
    """Some answer to the question in the page, whatever its type (as exam_load.py)."""
    if 'name="choice"' in page:
        return {"choice": str(random.randrange(4))}
    pairs = re.findall(r'name="(pair-\d)"', page)
    if pairs:
        return {name: str(random.randrange(4)) for name in pairs}
    if 'inputmode="decimal"' in page:
        return {"text": random.choice(["12,5", "3", "0.8"])}
    return {"text": random.choice(["хлоропласт", "ҳуҷайра"])}


def run_phase(
    base: str,
    users: int,
    spawn_rate: float,
    seconds: float,
    think: tuple[float, float],
    profile: tuple[int, float] | None = None,
) -> float:
    """Run ``users`` students for ``seconds``; returns when the last one had started.
    ``profile``: (run_platform's pid, seconds): py-spy the web processes once all started."""
    Student.wait_time = between(*think)
    environment = Environment(user_classes=[Student], host=base)
    environment.events.request.add_listener(RECORDER.on_request)
    runner = environment.create_local_runner()
    began = time.monotonic()
    runner.start(users, spawn_rate=spawn_rate)
    all_started = began + users / spawn_rate
    if profile:
        gevent.sleep(max(0.0, all_started - time.monotonic()))
        gevent.spawn(py_spy, *profile)
    gevent.sleep(max(0.0, began + seconds - time.monotonic()))
    runner.quit()
    return all_started


#: Where a web process's time goes: the share of py-spy's samples with a frame matching each.
PROFILE_MARKERS = {
    "database queries (execute)": "CursorWrapper._execute",
    "opening database connections": "get_new_connection",
    "sessions": "sessions/backends",
    "template rendering": "template/base.py",
    "search (passages_search)": "passages_search",
    "query encoding": "query_embedding",
    "password hashing": "pbkdf2",
    "writing responses": "gunicorn/util.py",
}


def py_spy(server_pid: int, seconds: float) -> None:
    """Sample every gunicorn worker under run_platform with py-spy; print where time goes."""
    import psutil

    executable = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(executable).exists():
        print("py-spy is not installed (pip install py-spy): no profile", file=sys.stderr)
        return
    workers = [
        process
        for process in psutil.Process(server_pid).children(recursive=True)
        if "gunicorn" in " ".join(process.cmdline())
        and process.parent() is not None
        and "gunicorn" in " ".join(process.parent().cmdline())
    ]
    outputs = []
    for worker in workers:
        output = Path(tempfile.mkstemp(suffix=".txt")[1])
        outputs.append(output)
        command = [executable, "record", "--pid", str(worker.pid), "--duration", str(int(seconds))]
        command += ["--rate", "50", "--format", "raw", "--nonblocking", "--output", str(output)]
        PROFILES.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    PROFILE_FILES.extend(outputs)


def profile_report() -> None:
    for process in PROFILES:
        process.wait(timeout=120)
    samples = 0
    counts = dict.fromkeys(PROFILE_MARKERS, 0)
    for output in PROFILE_FILES:
        for line in output.read_text().splitlines():
            stack, _, number = line.rpartition(" ")
            samples += int(number)
            for name, markers in PROFILE_MARKERS.items():
                if any(marker in stack for marker in markers.split("|")):
                    counts[name] += int(number)
        output.unlink()
    print(f"py-spy, {len(PROFILE_FILES)} web processes, {samples} samples of busy threads:")
    for name, number in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {number / max(1, samples):6.1%}  {name}")


PROFILES: list[subprocess.Popen[bytes]] = []
PROFILE_FILES: list[Path] = []


def signing_in(args: argparse.Namespace) -> int:
    return round(args.users * args.sign_in_share)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def milliseconds(value: float) -> str:
    return f"{value * 1000:7.0f}" if value == value else "      –"


def temporary_database(url: str) -> tuple[str, object]:
    """A new empty PostgreSQL database on ``url``'s server; returns its URL and a dropper."""
    import psycopg

    parts = urlsplit(url)
    name = f"soro_load_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path="/" + name)), drop


RECORDER = Recorder()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="students started per s")
    parser.add_argument("--run-time", type=float, default=90.0, help="seconds of load")
    parser.add_argument("--baseline-time", type=float, default=20.0, help="seconds, 1 student")
    parser.add_argument("--think", type=float, nargs=2, default=(5.0, 10.0), metavar=("MIN", "MAX"))
    parser.add_argument(
        "--sign-in-share",
        type=float,
        default=0.1,
        help="share of the students who sign in with their password (the others still have "
        "a session from an earlier day); PBKDF2 costs about 0.3 s of CPU per sign-in",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--broker-url", default=os.environ.get("CELERY_BROKER_URL", ""))
    parser.add_argument("--workers", type=int, default=None, help="run_platform's --workers")
    parser.add_argument("--threads", type=int, default=None, help="run_platform's --threads")
    parser.add_argument(
        "--py-spy",
        type=float,
        default=0,
        metavar="SECONDS",
        help="sample the web processes with py-spy for SECONDS once every student has started",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="5 students for a few seconds on a throw-away SQLite"
    )
    args = parser.parse_args()

    encoder = os.environ.get("SORO_RETRIEVAL_ENCODER", "use")
    if args.smoke:
        args.users, args.spawn_rate, args.run_time, args.baseline_time = 5, 5.0, 12.0, 4.0
        args.think, args.sign_in_share = (0.2, 0.5), 0.4
        args.database_url = args.broker_url = ""
        var = _smoke.use_throwaway_var_dir("load")
        encoder = "none"  # BM25 only: the smoke run must not load the sentence encoder
    else:
        var = Path(tempfile.mkdtemp(prefix="soro-load-"))
    env = {
        **os.environ,
        "SORO_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "soro_web.settings",
        "SORO_RETRIEVAL_ENCODER": encoder,
    }
    drop_database = None
    if args.database_url.startswith(("postgres", "pgsql")):
        env["DATABASE_URL"], drop_database = temporary_database(args.database_url)
    elif args.database_url:
        env["DATABASE_URL"] = args.database_url
    if args.broker_url:
        env["CELERY_BROKER_URL"] = args.broker_url
    server = None
    try:
        prepared = subprocess.run(
            [
                sys.executable,
                "-c",
                PREPARE.replace("{students}", str(args.users + 1)).replace(
                    "{password!r}", repr(PASSWORD)
                ),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if prepared.returncode:
            sys.exit(f"preparing the database failed:\n{prepared.stderr[-3000:]}")
        lines = [line.split() for line in prepared.stdout.splitlines()]
        blueprint = next(int(row[1]) for row in lines if row[:1] == ["blueprint"])
        sessions = [(row[1], row[2]) for row in lines if row[:1] == ["session"]]
        port = free_port()
        command = [sys.executable, "manage.py", "run_platform", "--bind", f"127.0.0.1:{port}"]
        if args.workers:
            command += ["--workers", str(args.workers)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        log = var / "run_platform.log"
        server = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=open(log, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        print(f"server log: {log}", file=sys.stderr)
        base = f"http://127.0.0.1:{port}"
        import requests

        for _ in range(300):
            try:
                requests.get(base + "/accounts/login/", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            sys.exit(f"the server did not start: {log}")
        Student.blueprint = blueprint
        Student.students = sessions
        load_before = os.getloadavg()
        RECORDER.phase = "baseline"
        Student.signing_in = 1
        run_phase(base, 1, 1.0, args.baseline_time, (0.5, 1.0))
        RECORDER.phase = "load"
        Student.signing_in = round(args.users * args.sign_in_share)
        began = time.monotonic()
        all_started = run_phase(
            base,
            args.users,
            args.spawn_rate,
            args.run_time,
            args.think,
            (server.pid, args.py_spy) if args.py_spy else None,
        )
        if args.py_spy:
            profile_report()
        wall = time.monotonic() - began
        load_after = load_average()
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if drop_database is not None:
            time.sleep(1)
            drop_database()  # type: ignore[operator]
        if not args.smoke:
            shutil.rmtree(var, ignore_errors=True)

    database = env.get("DATABASE_URL", "sqlite").split(":")[0]
    broker = env.get("CELERY_BROKER_URL", "embedded").split(":")[0]
    workers = args.workers or "default"
    threads = args.threads or "default"
    print(
        f"# {args.users} students ({signing_in(args)} sign in with a password), spawn "
        f"{args.spawn_rate:g}/s, {args.run_time:g} s of load, "
        f"think {args.think[0]:g}–{args.think[1]:g} s; run_platform (workers {workers}, "
        f"threads {threads}); {database} + {broker} broker; encoder {encoder}"
    )
    print(f"# {cpu_name()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(
        f"# load average before {' '.join(f'{v:.2f}' for v in load_before)}, after {load_after}"
        " (a shared machine: other engineers' work runs beside this)"
    )
    steady_from = all_started + 5
    print(
        f"{'request':14} {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'req/s':>6} "
        f"{'errors':>6} | {'steady p95':>10} | {'1 user p50':>10} {'p95':>7}"
    )
    failed = False
    for kind in KINDS:
        loaded = [seconds for _, seconds in RECORDER.times[("load", kind)]]
        steady = [s for at, s in RECORDER.times[("load", kind)] if at >= steady_from]
        alone = [seconds for _, seconds in RECORDER.times[("baseline", kind)]]
        errors = len(RECORDER.errors[("load", kind)]) + len(RECORDER.errors[("baseline", kind)])
        failed |= bool(errors) or not loaded
        print(
            f"{kind:14} {len(loaded):6d} "
            f"{milliseconds(statistics.median(loaded) if loaded else float('nan'))} "
            f"{milliseconds(percentile(loaded, 0.95))} "
            f"{milliseconds(max(loaded) if loaded else float('nan'))} "
            f"{len(loaded) / wall:6.1f} {errors:6d} | {milliseconds(percentile(steady, 0.95)):>10} "
            f"| {milliseconds(statistics.median(alone) if alone else float('nan')):>10} "
            f"{milliseconds(percentile(alone, 0.95))}"
        )
    total = sum(len(v) for (phase, _), v in RECORDER.times.items() if phase == "load")
    print(f"all requests: {total / wall:.1f}/s over {wall:.0f} s")
    for (phase, kind), messages in sorted(RECORDER.errors.items()):
        if messages:
            print(f"errors ({phase}, {kind}): {len(messages)} {sorted(set(messages))[:3]}")
    for kind, goal in GOALS.items():
        p95 = percentile([s for _, s in RECORDER.times[("load", kind)]], 0.95)
        verdict = "met" if p95 <= goal else f"MISSED by {(p95 - goal) * 1000:.0f} ms"
        print(f"goal {kind} p95 ≤ {goal * 1000:.0f} ms: {p95 * 1000:.0f} ms, {verdict}")
    errors_total = sum(len(v) for v in RECORDER.errors.values())
    print(f"goal 0 errors: {errors_total}, {'met' if not errors_total else 'MISSED'}")
    if args.smoke and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
