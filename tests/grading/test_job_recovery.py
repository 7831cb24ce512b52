"""A grading job survives its worker: a real worker is killed with SIGKILL in the middle of a
batch, a new worker starts, and the job finishes by itself with every answer graded exactly
once (embedded file transport by default, Redis + PostgreSQL in CI's second run)."""

from __future__ import annotations

import shutil
from pathlib import Path

from modelops.models import ModelVersion
from soro_web.grading.models import Answer, Grade, GradingJob
from soro_web.grading.services import (
    answers_import,
    assignment_create,
    grading_job_start,
    question_add,
)
from soro_web.grading.services.demo import demo_spec, grading_demo_students
from soro_web.jobs import RECOVERED_NOTE
from tests.conftest import People
from tests.grading.test_services import RUBRIC, csv_bytes
from tests.modelops.conftest import gguf_path, tiny_model_dir, tokenizer_dir  # noqa: F401
from tests.workers import Workers, wait_for, workers  # noqa: F401

FAST_RECOVERY = {
    "SORO_JOB_HEARTBEAT_SECONDS": "0.5",
    "SORO_JOB_SWEEP_SECONDS": "1",
    "SORO_JOB_STALE_SECONDS": "4",
    # Small chunks and short replies: the batch lasts long enough to be killed mid-way.
    "SORO_GRADING_CHUNK": "2",
    "SORO_GRADING_SAMPLES": "1",
    "SORO_GRADING_MAX_NEW_TOKENS": "8",
}


def test_a_grading_job_killed_mid_batch_grades_every_answer_once(
    workers: Workers,  # noqa: F811
    people: People,
    tmp_path: Path,
    tiny_model_dir: Path,  # noqa: F811
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "tiny")
    workers.env["SORO_MODELS_DIR"] = str(models)
    ModelVersion.objects.create(name="tiny", stage="base", path="tiny", is_active=True)
    grading_demo_students(classroom=people.classroom)
    assignment = assignment_create(teacher=people.teacher, classroom=people.classroom, title="Иншо")
    for number in range(2):
        question_add(assignment=assignment, text=f"Саволи {number + 1}", kind="open", rubric=RUBRIC)
    rows = [["student", "question", "answer"]]
    for index, (username, _first, _last) in enumerate(demo_spec()["students"][:6]):
        for question in (1, 2):
            rows.append(
                [username, str(question), f"Ҷавоби {index} ба саволи {question}: Сомониён."]
            )
    answers_import(assignment=assignment, name="a.csv", content=csv_bytes(rows))
    assert Answer.objects.count() == 12
    first = workers.start(**FAST_RECOVERY)
    job = grading_job_start(assignment=assignment, user=people.teacher)
    wait_for(
        lambda: GradingJob.objects.filter(pk=job.pk, status="running", review__gte=2).exists(),
        180,
        f"the first chunks to be graded (log: {workers.log()})",
    )
    workers.kill(first)
    done_before = Grade.objects.count()
    assert 2 <= done_before < 12, "killed too late to prove anything"
    workers.start(**FAST_RECOVERY)
    wait_for(
        lambda: GradingJob.objects.filter(pk=job.pk, status="succeeded").exists(),
        300,
        f"the job to finish on the new worker (log: {workers.log()})",
    )
    job.refresh_from_db()
    assert job.recoveries == 1 and RECOVERED_NOTE in job.log
    # Every answer graded exactly once: one grade row each, and the counts add up.
    assert Grade.objects.count() == 12
    assert sorted(Grade.objects.values_list("answer_id", flat=True)) == sorted(
        Answer.objects.values_list("pk", flat=True)
    )
    assert job.graded + job.review + job.failed == job.total == 12
    # The tiny model's replies never parse: each answer waits for the teacher.
    assert all(
        "unparseable" in reasons
        for reasons in Grade.objects.values_list("review_reasons", flat=True)
    )
