"""Time to the first streamed words of a tutor reply, on this machine's real model.

    .venv/bin/python benchmarks/tutor.py [--runs 5] [--topic math-7-01-02]
    .venv/bin/python benchmarks/tutor.py --smoke   # throw-away database, tiny model

Uses the database, the demo textbooks and the active model that ``make setup`` installed
(the local engine on Gemma 3 270M unless SORO_LLM_URL points at a server). It starts chats
for the demo student and teacher, measures, and deletes what it created. ``--smoke`` needs
no ``make setup``: it migrates a temporary SQLite database (``SORO_VAR_DIR`` in a temporary
directory), imports the demo curriculum and people, ingests the Algebra 7 demo book (BM25
only) and makes the tiny random model active (``benchmarks/_smoke.py``), then runs one round
with replies of at most 16 tokens, and exits 1 if a case streamed no text.

Measured in ``--runs`` interleaved rounds after one warm-up (the web process loads the
model when it starts, so loading is reported apart, not counted):

- floor: first piece of a bare one-line prompt through ``generation_stream``;
- service: ``tutor_turn_prepare`` + ``tutor_turn_stream`` up to the first text event and
  the first whole word. Unlike the lesson draft, every turn searches the textbooks for the
  student's message, so the search is inside this figure: a topic chat (the "ask the
  tutor" button on a lesson), a free chat (searched in each of the student's classes) and
  the teachers' chat (all books the teacher may read);
- HTTP: the chat page's own request (POST /tutor/<id>/stream/ with
  ``Accept: application/x-ndjson``) until the first text line arrives.

The issue asks for the first streamed word within 2 s; the browser adds only the local
network round trip to the HTTP figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soro_web.settings")

from benchmarks import _smoke

# Settings read the environment once, at django.setup(): a smoke run's throw-away data
# directory must be in place before it.
if "--smoke" in sys.argv[1:]:
    _smoke.use_throwaway_var_dir("tutor")
    # BM25 only, as the tutor tests do: the dense encoder is smoke-tested by retrieval.py.
    os.environ["SORO_RETRIEVAL_ENCODER"] = "none"

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from modelops.llm.types import ChatMessage, GenerationParams  # noqa: E402
from modelops.models import GenerationLog  # noqa: E402
from modelops.services import active_model_client, generation_stream  # noqa: E402
from soro_web.accounts.models import User  # noqa: E402
from soro_web.curriculum.models import Topic  # noqa: E402
from tutoring.tutor import services  # noqa: E402
from tutoring.tutor.models import Conversation  # noqa: E402
from tutoring.tutor.services import turns  # noqa: E402

QUESTION = "Муодилаи хаттӣ бо як тағйирёбанда чӣ гуна ҳал мешавад?"
FREE_QUESTION = "Решаи муодила чист ва онро чӣ тавр месанҷем?"
TEACHER_QUESTION = "Барои синфи 7 дар мавзӯи муодилаҳои хаттӣ кадом мисолҳо муфиданд?"


def first_word(text: str) -> bool:
    """A whole word has arrived: some letters followed by a space or punctuation."""
    stripped = text.lstrip()
    return any(ch.isspace() or ch in ".,;:!?" for ch in stripped[1:]) and any(
        ch.isalpha() for ch in stripped
    )


Result = tuple[float | None, float | None, float | None, str]


def timed(events_factory: Any) -> Result:
    """Seconds from the call (the factory is timed too) to the first piece and word, the
    CPU seconds this process spent until that word (all threads), and the text."""
    started, cpu_started = time.perf_counter(), time.process_time()
    events = events_factory()
    piece = word = cpu = None
    text = ""
    for event in events:
        if event.get("type") == "text":
            text += event["text"]
            now = time.perf_counter() - started
            piece = piece if piece is not None else now
            if word is None and first_word(text):
                word, cpu = now, time.process_time() - cpu_started
                break
        elif event.get("type") == "error":
            print("  !", event.get("message"))
            break
    close = getattr(events, "close", None)
    if close is not None:
        close()  # stop the model: only the first words are measured
    return piece, word, cpu, text


def floor_run(user: User) -> Result:
    return timed(
        lambda: generation_stream(
            messages=[ChatMessage("user", "Салом!")],
            params=GenerationParams(max_new_tokens=16),
            purpose="benchmark",
            user=user,
        )
    )


def service_run(conversation: Conversation, user: User, text: str) -> Result:
    def events():  # type: ignore[no-untyped-def]
        plan = services.tutor_turn_prepare(conversation=conversation, user=user, text=text)
        return services.tutor_turn_stream(plan=plan)

    return timed(events)


def http_run(client: Client, conversation: Conversation) -> Result:
    url = reverse("tutor:conversation_stream", kwargs={"pk": conversation.pk})
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.post(url, {"text": QUESTION}, HTTP_ACCEPT="application/x-ndjson")
    piece = word = cpu = None
    text = ""
    buffered = b""
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        for line in lines:
            event = json.loads(line)
            if event["type"] == "text":
                text += event["text"]
                now = time.perf_counter() - started
                piece = piece if piece is not None else now
                if word is None and first_word(text):
                    word, cpu = now, time.process_time() - cpu_started
        if word is not None:
            break
    response.close()  # the browser leaves: the model stops
    return piece, word, cpu, text


def prompt_tokens(conversation: Conversation, user: User, text: str) -> str:
    client = active_model_client()
    count = getattr(client, "count_tokens", None)
    if count is None:
        return ""
    plan = services.tutor_turn_prepare(conversation=conversation, user=user, text=text)
    assert plan.prompt is not None
    planned = client.plan(  # type: ignore[attr-defined]
        list(plan.prompt.messages),
        GenerationParams(max_new_tokens=200),
        context=plan.prompt.context,
    )
    return str(count(list(planned.messages)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--topic", default="math-7-01-02")
    parser.add_argument("--student", default="shogird")
    parser.add_argument("--teacher", default="muallim")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a throw-away database, the tiny random model, one round: checks that it runs",
    )
    args = parser.parse_args()
    if args.smoke:
        _smoke.prepare_database(textbooks=["math-7.md"])
        args.runs = 1
        # A short reply budget: only the first words are measured, and random weights may
        # never write a whole word.
        for kind in list(turns.REPLY_TOKENS):
            turns.REPLY_TOKENS[kind] = 16

    # Measuring sends many messages: the daily limit must not stop the benchmark.
    settings.SORO_TUTOR_DAILY_MESSAGES = 10_000
    student = User.objects.get(username=args.student)
    teacher = User.objects.get(username=args.teacher)
    topic = Topic.objects.get(code=args.topic)
    started_at = time.time()
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, cpus {os.cpu_count()}")
    print(f"retrieval encoder: {settings.SORO_RETRIEVAL_ENCODER}")

    load_started = time.perf_counter()
    model = active_model_client()
    load = getattr(model, "load", None)
    if load is not None:
        load()
    print(f"model: {model.name}, loaded in {time.perf_counter() - load_started:.2f} s")

    created: list[int] = []
    try:
        topic_chat = Conversation.objects.create(user=student, kind="tutor", topic=topic)
        free_chat = Conversation.objects.create(user=student, kind="tutor")
        teacher_chat = Conversation.objects.create(user=teacher, kind="teacher")
        http_chat = Conversation.objects.create(user=student, kind="tutor", topic=topic)
        created = [topic_chat.pk, free_chat.pk, teacher_chat.pk, http_chat.pk]
        browser = Client(HTTP_HOST="localhost")
        browser.force_login(student, backend="django.contrib.auth.backends.ModelBackend")

        cases = {
            "service: topic chat": lambda: service_run(topic_chat, student, QUESTION),
            "service: free chat": lambda: service_run(free_chat, student, FREE_QUESTION),
            "service: teacher chat": lambda: service_run(teacher_chat, teacher, TEACHER_QUESTION),
            "HTTP: topic chat (the click)": lambda: http_run(browser, http_chat),
        }
        tokens = {
            "service: topic chat": prompt_tokens(topic_chat, student, QUESTION),
            "service: free chat": prompt_tokens(free_chat, student, FREE_QUESTION),
            "service: teacher chat": prompt_tokens(teacher_chat, teacher, TEACHER_QUESTION),
        }
        floor_run(student)  # warm-up
        cases["service: topic chat"]()
        names = ["floor: bare one-line prompt", *cases]
        pieces: dict[str, list[float]] = {name: [] for name in names}
        words: dict[str, list[float]] = {name: [] for name in names}
        cpus: dict[str, list[float]] = {name: [] for name in names}
        for _round in range(args.runs):
            # Chats are restarted each round so the prompts stay the same size.
            for pk in created:
                Conversation.objects.get(pk=pk).messages.all().delete()
            results = [("floor: bare one-line prompt", floor_run(student))]
            results += [(name, run()) for name, run in cases.items()]
            for name, (piece, word, cpu, _text) in results:
                if piece is not None:
                    pieces[name].append(piece)
                if word is not None:
                    words[name].append(word)
                if cpu is not None:
                    cpus[name].append(cpu)

        print(
            f"\n{'runs: ' + str(args.runs):<30} {'prompt':>6} {'first piece: min':>16} "
            f"{'med':>6} {'max':>6} {'first word: min':>15} {'med':>6} {'max':>6} "
            f"{'CPU s to word':>13}"
        )
        for name in names:
            got = pieces[name] or [float("nan")]
            got_words = words[name] or [float("nan")]
            got_cpus = cpus[name] or [float("nan")]
            print(
                f"{name:<30} {tokens.get(name, ''):>6} {min(got):>15.2f}s "
                f"{statistics.median(got):>5.2f}s {max(got):>5.2f}s {min(got_words):>14.2f}s "
                f"{statistics.median(got_words):>5.2f}s {max(got_words):>5.2f}s "
                f"{statistics.median(got_cpus):>12.2f}s"
            )
        print(
            "CPU s: what this process computed until the first word (all threads, median); "
            "on an idle machine the wall time is at most about this."
        )
        sample = service_run(topic_chat, student, QUESTION)[3]
        print(f"\nfirst words of a reply: {sample[:80]!r}")
        print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        silent = [name for name in names if not pieces[name]]
        if silent:
            print(f"no text streamed: {', '.join(silent)}", file=sys.stderr)
            sys.exit(1)
    finally:
        Conversation.objects.filter(pk__in=created).delete()
        GenerationLog.objects.filter(
            user__in=[student, teacher],
            purpose__in=["tutor", "teacher_chat", "benchmark"],
            created_at__gte=_aware(started_at),
        ).delete()


def _aware(timestamp: float):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, tz=UTC)


if __name__ == "__main__":
    main()
