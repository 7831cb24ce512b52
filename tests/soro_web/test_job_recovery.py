"""Jobs survive the death of their worker: a real worker is killed with SIGKILL in the middle
of a job, a new worker starts, and the job finishes by itself — no manual step, nothing done
twice. On the embedded file transport by default, on Redis + PostgreSQL in CI's second run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelops.models import EvaluationResult, ModelRun, ModelVersion
from modelops.services.jobs import model_run_enqueue
from soro_web.curriculum.models import Grade, Subject
from soro_web.jobs import RECOVERED_NOTE
from tests.modelops.conftest import gguf_path, tiny_model_dir, tokenizer_dir  # noqa: F401
from tests.workers import Workers, wait_for, workers  # noqa: F401
from tutoring.models import Passage, TextbookEdition
from tutoring.services import textbook_register_file

BENCHMARKS = Path(__file__).resolve().parents[2] / "modelops" / "data" / "benchmarks"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
#: Short enough that the test waits seconds, not minutes, for the sweep.
FAST_RECOVERY = {
    "SORO_JOB_HEARTBEAT_SECONDS": "0.5",
    "SORO_JOB_SWEEP_SECONDS": "1",
    "SORO_JOB_STALE_SECONDS": "4",
}
LINES = [
    "Исмоили Сомонӣ аз соли 892 то 907 ҳукмронӣ кард.",
    "Пойтахти давлати Сомониён шаҳри Бухоро буд.",
    "Рӯдакӣ падари шеъри форсу тоҷик аст.",
    "Ӯ дар деҳаи Панҷрӯд таваллуд шудааст.",
]


def _scanned_book(path: Path, pages: int) -> Path:
    """A scanned PDF: every page must go through OCR, a few seconds each."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 40)
    images = []
    for number in range(pages):
        image = Image.new("L", (1700, 2200), color=255)
        draw = ImageDraw.Draw(image)
        for index, line in enumerate([f"Саҳифаи {number + 1}", *LINES]):
            draw.text((120, 150 + index * 80), line, fill=0, font=font)
        images.append(image)
    images[0].save(path, "PDF", resolution=200.0, save_all=True, append_images=images[1:])
    return path


@pytest.mark.skipif(
    not FONT.is_file() or shutil.which("tesseract") is None,
    reason="needs Tesseract and DejaVu Sans (apt-get install tesseract-ocr "
    "tesseract-ocr-tgk fonts-dejavu-core)",
)
def test_an_ingestion_killed_mid_job_finishes_without_duplicates(
    workers: Workers,  # noqa: F811
    tmp_path: Path,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    workers.env["SORO_RETRIEVAL_ENCODER"] = "none"  # the worker's media root: tmp_path/media
    first = workers.start(**FAST_RECOVERY)
    edition = textbook_register_file(
        path=_scanned_book(tmp_path / "scan.pdf", pages=8),
        title="Таърих",
        subject=Subject.objects.get_or_create(code="history", defaults={"name": "Таърих"})[0],
        grade=Grade.objects.get_or_create(number=11, defaults={"name": "Синфи 11"})[0],
    )
    assert edition is not None
    wait_for(
        lambda: TextbookEdition.objects.filter(
            pk=edition.pk, status="running", progress__gt=0.1
        ).exists(),
        120,
        f"the first worker to be reading the scan (log: {workers.log()})",
    )
    workers.kill(first)
    workers.start(**FAST_RECOVERY)
    wait_for(
        lambda: TextbookEdition.objects.filter(pk=edition.pk, status="ready").exists(),
        300,
        f"the job to finish on the new worker (log: {workers.log()})",
    )
    edition.refresh_from_db()
    assert edition.is_current and edition.page_count == 8
    passages = Passage.objects.filter(edition=edition)
    assert passages.count() == edition.passage_count > 0
    orders = list(passages.values_list("order", flat=True))
    assert len(orders) == len(set(orders))  # no passage written twice
    assert "recovered" in workers.log() or edition.stage == "done"


def test_a_model_job_killed_mid_run_is_recovered_and_stored_once(
    workers: Workers,  # noqa: F811
    tmp_path: Path,
    tiny_model_dir: Path,  # noqa: F811
) -> None:
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "tiny")
    workers.env["SORO_MODELS_DIR"] = str(models)
    # A benchmark of 40 items: long enough to be killed in the middle, short enough to run
    # twice in a test.
    suite = [
        json.loads(line)
        for line in (BENCHMARKS / "tajik_suite.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ][:40]
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "recovery.jsonl").write_text(
        "\n".join(json.dumps(item, ensure_ascii=False) for item in suite if "choices" in item)
        + "\n",
        encoding="utf-8",
    )
    workers.env["SORO_BENCHMARKS_DIR"] = str(tmp_path / "benchmarks")
    version = ModelVersion.objects.create(name="tiny", stage="base", path="tiny", is_active=True)
    first = workers.start(**FAST_RECOVERY)
    run = model_run_enqueue(
        kind=ModelRun.Kind.EVALUATE,
        version=version,
        config={"benchmark": "recovery", "shots": 0, "batch_size": 1},
    )
    wait_for(
        lambda: ModelRun.objects.filter(pk=run.pk, status="running", progress__gt=0.05).exists(),
        180,
        f"the evaluation to be under way (log: {workers.log()})",
    )
    workers.kill(first)
    workers.start(**FAST_RECOVERY)
    wait_for(
        lambda: ModelRun.objects.filter(pk=run.pk, status="succeeded").exists(),
        600,
        f"the evaluation to finish on the new worker (log: {workers.log()})",
    )
    run.refresh_from_db()
    assert run.recoveries == 1 and RECOVERED_NOTE in run.log
    # One set of results: the killed run had stored nothing, the recovered one stored all.
    rows = EvaluationResult.objects.filter(version=version)
    assert rows.count() == rows.values("group", "metric").distinct().count() > 0
    assert set(rows.values_list("run_id", flat=True)) == {run.pk}
