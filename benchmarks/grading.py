"""Batch grading throughput: exact items (database writes included) and model-graded answers.

    .venv/bin/python benchmarks/grading.py                       # 100,000 exact answers
    .venv/bin/python benchmarks/grading.py --answers 5000        # a quick run
    .venv/bin/python benchmarks/grading.py --model-dir var/models/gemma3-270m
    SORO_LLM_URL=http://127.0.0.1:8080 .venv/bin/python benchmarks/grading.py --remote
    .venv/bin/python benchmarks/grading.py --smoke   # both parts on tiny data and the tiny model

Each run uses a fresh SQLite database in a temporary folder (migrated here), so the figures
include Django's ORM and SQLite's writes as a school's machine runs them:

1. **Exact items**: 1,000 students × 100 exact questions (short text, numbers with a comma
   or a point, fractions), answers bulk-inserted, then one grading job run in this process
   (the worker's code path: claim, chunks, one transaction per chunk, counts); answers/s is
   the job's wall time over the answers, grade rows written included.
2. **Model-graded** (with ``--model-dir`` or ``--remote``): the demo assignment's 30 answers
   (soro_web/grading/data) graded with the local engine on that checkpoint, or with the
   remote server at SORO_LLM_URL; prints open answers per minute (k samples each) and the
   share of all demo answers sent to the teacher's review.

``--smoke`` runs both parts through the same code on tiny data (``benchmarks/_smoke.py``): 2,000
exact answers, then (after emptying the database) the first few demo students' answers graded
by the tiny random-weight model, 1 sample each and a short SORO_GRADING_MAX_NEW_TOKENS. It
never touches real data or servers (DATABASE_URL, CELERY_BROKER_URL and SORO_LLM_URL are
dropped); ``--remote`` is skipped. Its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _smoke

SMOKE = "--smoke" in sys.argv[1:]
SMOKE_ANSWERS = 2000
SMOKE_STUDENTS = 3  # demo students whose answers the tiny model grades
# Settings read the environment once, at django.setup(): a smoke run's throw-away data
# directory (real databases, broker and model server dropped) must be in place before it.
if SMOKE:
    WORK = _smoke.use_throwaway_var_dir("grading")
    os.environ["SORO_GRADING_MAX_NEW_TOKENS"] = "16"
else:
    WORK = Path(tempfile.mkdtemp(prefix="soro-grading-bench-"))
    os.environ["SORO_VAR_DIR"] = str(WORK)
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soro_web.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from benchmarks.machine import cpu_name, load_average  # noqa: E402


def setup_school():  # type: ignore[no-untyped-def]
    from soro_web.accounts.models import Classroom, School, User
    from soro_web.curriculum.models import Grade, Subject

    school = School.objects.create(name="Мактаби №1", city="Душанбе")
    teacher = User.objects.create(username="muallim", role="teacher", school=school)
    classroom = Classroom.objects.create(
        school=school,
        teacher=teacher,
        name="11А",
        subject=Subject.objects.create(code="history", name="Таърих"),
        grade=Grade.objects.create(number=11, name="Синфи 11"),
    )
    return teacher, classroom


EXPECTED = ["Бухоро", "892", "2,5", "3/4", "Рӯдакӣ", "-12", "Самарқанд", "1000"]
RIGHT = {
    "Бухоро": ["Бухоро", " бухоро.", "БУХОРО"],
    "892": ["892", "892.0"],
    "2,5": ["2.5", "2,50", "5/2"],
    "3/4": ["0.75", "3/4"],
    "Рӯдакӣ": ["Рӯдакӣ", "рӯдакӣ"],
    "-12": ["-12", "−12"],
    "Самарқанд": ["Самарқанд"],
    "1000": ["1 000", "1000"],
}
WRONG = ["Хуҷанд", "907", "2", "", "Фирдавсӣ", "12", "Бухара", "100"]


def bench_exact(total: int, chunk: int) -> None:
    from soro_web.accounts.models import Enrollment, User
    from soro_web.grading.models import Answer, Assignment, Grade, Question
    from soro_web.grading.services import grading_job_execute, grading_job_start

    teacher, classroom = setup_school()
    questions_count = 100
    students_count = max(1, total // questions_count)
    students = User.objects.bulk_create(
        [User(username=f"s{i:05d}", role="student") for i in range(students_count)]
    )
    Enrollment.objects.bulk_create([Enrollment(classroom=classroom, student=s) for s in students])
    assignment = Assignment.objects.create(classroom=classroom, teacher=teacher, title="Санҷиш")
    questions = Question.objects.bulk_create(
        [
            Question(
                assignment=assignment,
                number=n + 1,
                text=f"Саволи {n + 1}",
                kind="exact",
                expected_answer=EXPECTED[n % len(EXPECTED)],
            )
            for n in range(questions_count)
        ]
    )
    rng = random.Random(14)
    answers = []
    for student in students:
        for question in questions:
            pool = RIGHT[question.expected_answer] if rng.random() < 0.7 else WRONG
            answers.append(
                Answer(
                    assignment=assignment,
                    question=question,
                    student=student,
                    text=rng.choice(pool),
                    source="import",
                )
            )
    Answer.objects.bulk_create(answers, batch_size=5000)
    settings.SORO_GRADING_CHUNK = chunk
    job = grading_job_start(assignment=assignment)  # its message waits in the file queue
    started, cpu_started = time.perf_counter(), time.process_time()
    grading_job_execute(job_id=job.pk)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    job.refresh_from_db()
    rows = Grade.objects.count()
    assert job.status == "succeeded" and rows == len(answers), (job.status, job.error, rows)
    print(
        f"exact items: {len(answers):,} answers graded in {seconds:.2f} s = "
        f"{len(answers) / seconds:,.0f} answers/s (chunk {chunk}; {rows:,} grade rows; "
        f"graded {job.graded:,}, to review {job.review:,} (empty answers))"
    )
    # On a shared machine the wall time depends on the other processes; the CPU time of
    # this process (all its threads) is what one free core would take.
    print(
        f"  CPU time of this process: {cpu:.2f} s = {len(answers) / cpu:,.0f} answers per "
        f"CPU-second (load average {load_average()})"
    )
    right = Grade.objects.filter(total__gt=0).count()
    print(f"  scored right: {right / rows:.1%} (answers drawn 70% from the accepted forms)")


def bench_model(model_dir: Path | None, samples: int, students: int | None = None) -> bool:
    """Grade the demo answers with the model; returns whether the job succeeded without a
    failed answer."""
    from modelops.models import ModelVersion
    from soro_web.grading.models import Answer, Grade, GradingJob
    from soro_web.grading.services import grading_job_execute, grading_job_start
    from soro_web.grading.services.demo import demo_spec, grading_demo_load

    if model_dir is not None:
        target = Path(settings.SORO_MODELS_DIR) / model_dir.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(model_dir.resolve())
        ModelVersion.objects.create(
            name=model_dir.name, stage="base", path=model_dir.name, is_active=True
        )
    _teacher, classroom = setup_school()
    assignment = grading_demo_load(classroom=classroom)
    if students is not None:  # smoke: only the first few students' answers
        kept = [username for username, _first, _last in demo_spec()["students"][:students]]
        Answer.objects.filter(assignment=assignment).exclude(student__username__in=kept).delete()
    settings.SORO_GRADING_SAMPLES = samples
    job = grading_job_start(assignment=assignment)
    started = time.perf_counter()
    grading_job_execute(job_id=job.pk)
    seconds = time.perf_counter() - started
    job = GradingJob.objects.get(pk=job.pk)
    grades = Grade.objects.filter(is_current=True)
    open_grades = grades.filter(answer__question__kind="open").exclude(answer__text="")
    backend = f"remote {settings.SORO_LLM_URL}" if settings.SORO_LLM_URL else f"local {model_dir}"
    print(
        f"model-graded ({backend}, k={samples}): {open_grades.count()} open answers in "
        f"{seconds:.1f} s = {60 * open_grades.count() / seconds:.1f} answers/min; "
        f"job {job.status}, failed {job.failed}"
    )
    review = grades.filter(status="review").count()
    share = review / grades.count()
    print(f"  demo set: {review}/{grades.count()} answers sent to review ({share:.0%})")
    reasons: dict[str, int] = {}
    for row in grades.values_list("review_reasons", flat=True):
        for reason in row:
            reasons[reason] = reasons.get(reason, 0) + 1
    print(f"  reasons: {dict(sorted(reasons.items()))}")
    return job.status == "succeeded" and not job.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--model-dir", type=Path, help="a checkpoint for the local engine")
    parser.add_argument("--remote", action="store_true", help="grade with SORO_LLM_URL")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="both parts on tiny data and the tiny random model, in seconds (CI)",
    )
    args = parser.parse_args()
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, load {load_average()}")
    try:
        call_command("migrate", verbosity=0)
        if args.smoke:
            bench_exact(min(args.answers, SMOKE_ANSWERS), args.chunk)
            # The model part counts every grade row: it starts from an empty database.
            call_command("flush", interactive=False, verbosity=0)
            if not bench_model(_smoke.tiny_model_dir(), samples=1, students=SMOKE_STUDENTS):
                raise SystemExit("smoke: the model-graded job did not succeed")
            _smoke.skipped("--remote (grading on SORO_LLM_URL)", "smoke runs reach no server")
        elif args.model_dir or args.remote:
            bench_model(args.model_dir, args.samples)
        else:
            bench_exact(args.answers, args.chunk)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
