"""Does one long model reply stall other people's pages?

Starts the web server twice on loopback — once as `make run` serves it (gunicorn, gthread,
8 threads) and once with a single thread (the baseline) — and, in each, times 30 page loads
of the login page while a staff user streams a long reply from the local model in the
playground. Prints p50/p95 page latency with and without the stream running.

Run after `make setup` (it uses the demo admin and the imported model):

    .venv/bin/python benchmarks/web_concurrency.py
    .venv/bin/python benchmarks/web_concurrency.py --smoke   # no setup needed (seconds)

``--smoke`` checks that it runs from a fresh checkout: a temporary ``SORO_VAR_DIR`` with a
migrated SQLite database, the demo curriculum and people, and the tiny random model as the
active one (``benchmarks/_smoke.py``); 10 page loads per server.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _smoke  # noqa: E402

PAGES = 30
REPLY_TOKENS = 160


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
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
            str(threads),
            "--timeout",
            "300",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "soro_web.settings"},
        stdout=subprocess.DEVNULL,
        stderr=open(f"/tmp/gunicorn-{threads}.log", "w"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/accounts/login/", timeout=1)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def staff_client(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=300)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"]
    response = client.post(
        "/accounts/login/",
        data={"username": "admin", "password": "soro-demo-2026", "csrfmiddlewaretoken": token},
        headers={"Referer": base + "/accounts/login/"},
    )
    if response.status_code != 302:
        raise SystemExit("could not sign in as the demo admin: run `make setup` first")
    return client


def stream_reply(
    client: httpx.Client,
    base: str,
    started: threading.Event,
    finished: threading.Event,
    tokens: int = REPLY_TOKENS,
) -> None:
    token = client.cookies["csrftoken"]
    with client.stream(
        "POST",
        "/staff/model/playground/stream/",
        data={
            "message": "Дар бораи таърихи Душанбе нависед.",
            "max_new_tokens": tokens,
            "temperature": 0,
        },
        headers={"X-CSRFToken": token, "Referer": base},
    ) as response:
        for index, _line in enumerate(response.iter_lines()):
            if index == 0:
                started.set()
    finished.set()


def page_latencies(base: str, pages: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=base, timeout=300) as client:
        for _ in range(pages):
            start = time.perf_counter()
            client.get("/accounts/login/").raise_for_status()
            timings.append(time.perf_counter() - start)
    return timings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(threads: int, pages: int, tokens: int = REPLY_TOKENS) -> dict[str, float]:
    process, base = start_server(threads)
    try:
        client = staff_client(base)
        warm_started, warm_finished = threading.Event(), threading.Event()
        stream_reply(client, base, warm_started, warm_finished, tokens)  # loads the model
        idle = page_latencies(base, pages)
        started, finished = threading.Event(), threading.Event()
        worker = threading.Thread(
            target=stream_reply, args=(client, base, started, finished, tokens)
        )
        worker.start()
        started.wait(120)
        busy = page_latencies(base, pages)
        still_streaming = not finished.is_set()
        worker.join()
        return {
            "idle_p50": statistics.median(idle),
            "idle_p95": percentile(idle, 0.95),
            "busy_p50": statistics.median(busy),
            "busy_p95": percentile(busy, 0.95),
            "busy_max": max(busy),
            "overlapped": float(still_streaming),
        }
    finally:
        process.terminate()
        process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a throw-away database, the tiny random model, 10 pages: checks that it runs",
    )
    args = parser.parse_args()
    pages, tokens = PAGES, REPLY_TOKENS
    if args.smoke:
        pages, tokens = 10, 32
        # The servers started below inherit this environment: the same throw-away data.
        _smoke.use_throwaway_var_dir("web")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soro_web.settings")
        import django

        django.setup()
        _smoke.prepare_database(static_files=True)
    print(
        f"# Page latency while a model reply streams ({pages} loads of /accounts/login/, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})"
    )
    rows = [
        ("gunicorn gthread, 8 threads (make run)", measure(8, pages, tokens)),
        ("gunicorn gthread, 1 thread (baseline)", measure(1, pages, tokens)),
    ]
    print(
        f"{'server':42} {'idle p50':>9} {'idle p95':>9} {'busy p50':>9} {'busy p95':>9} "
        f"{'busy max':>9} {'p95 ratio':>9}"
    )
    for name, row in rows:
        ratio = row["busy_p95"] / row["idle_p95"]
        note = "" if row["overlapped"] else "  (stream ended before the pages did)"
        print(
            f"{name:42} {row['idle_p50'] * 1000:8.1f}ms {row['idle_p95'] * 1000:8.1f}ms "
            f"{row['busy_p50'] * 1000:8.1f}ms {row['busy_p95'] * 1000:8.1f}ms "
            f"{row['busy_max'] * 1000:8.0f}ms "
            f"{ratio:8.1f}x{note}"
        )


if __name__ == "__main__":
    main()
