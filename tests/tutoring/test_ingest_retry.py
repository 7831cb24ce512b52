"""A textbook job that stops with an internal error is retried with back-off, a bounded
number of times, without duplicate passages; a damaged file is not retried (issue 18, 3).

The fault is real code raising a real exception inside the job: the index builder is wrapped
so that it raises on the first call(s) and then runs for real. A double of a fault, because
the lazy-import race that caused it in production cannot be provoked on demand."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.conftest import People
from tests.tutoring.test_services import BOOK, index_dir  # noqa: F401 - fixture
from tutoring.models import Passage, TextbookEdition
from tutoring.services import ingestion, textbook_ingest_run, textbook_register_file


def register(path: Path) -> TextbookEdition:
    from soro_web.curriculum.models import Grade, Subject

    edition = textbook_register_file(
        path=path,
        title="Таърихи халқи тоҷик",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    assert edition is not None
    return edition


@pytest.fixture
def book_file(tmp_path: Path) -> Path:
    path = tmp_path / "history.md"
    path.write_text(BOOK, encoding="utf-8")
    return path


def failing_index(monkeypatch: pytest.MonkeyPatch, failures: int) -> list[int]:
    """Make the index builder raise on its first ``failures`` calls; returns the call log."""
    real = ingestion._build_index
    calls: list[int] = []

    def build(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(calls) + 1)
        if len(calls) <= failures:
            raise RuntimeError("cannot import name 'AutoTokenizer' (simulated race)")
        return real(*args, **kwargs)

    # A double of a fault only: the production lazy-import race cannot be provoked on demand;
    # after the failures the real index builder runs.
    monkeypatch.setattr(ingestion, "_build_index", build)
    return calls


def test_an_internal_error_is_retried_after_a_back_off_without_duplicates(
    people: People,
    index_dir,  # noqa: F811
    book_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    settings.SORO_INGEST_RETRIES = 2
    settings.SORO_INGEST_RETRY_SECONDS = 30
    calls = failing_index(monkeypatch, failures=1)
    edition = register(book_file)
    caplog.set_level(logging.WARNING, logger="tutoring.services.ingestion")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        textbook_ingest_run(edition_id=edition.pk)  # returns: the error is handled
    edition.refresh_from_db()
    # Queued again, its passages of the failed run gone, the retry due in 30 s.
    assert edition.status == "queued" and edition.retries == 1 and edition.owner == ""
    assert edition.stage == "retry 1 of 2 after an internal error, in 30 s"
    assert "AutoTokenizer" in edition.error and edition.error_code == ""
    assert not Passage.objects.filter(edition=edition).exists()
    assert edition.sent_at > timezone.now() + timedelta(seconds=25)
    assert any("retry 1 of 2" in r.getMessage() for r in caplog.records)
    # The queued message (run at once here: eager tasks ignore the countdown).
    for callback in callbacks:
        callback()
    edition.refresh_from_db()
    assert calls == [1, 2]
    assert edition.status == "ready" and edition.is_current and edition.retries == 1
    assert Passage.objects.filter(edition=edition).count() == edition.passage_count == 2
    assert Passage.objects.count() == 2


def test_retries_are_bounded_then_the_job_fails_as_internal(
    people: People,
    index_dir,  # noqa: F811
    book_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    settings.SORO_INGEST_RETRIES = 2
    settings.SORO_INGEST_RETRY_SECONDS = 0
    calls = failing_index(monkeypatch, failures=99)
    edition = register(book_file)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        textbook_ingest_run(edition_id=edition.pk)
    edition.refresh_from_db()
    assert calls == [1, 2, 3]  # the first run and two retries
    assert edition.status == "failed" and edition.error_code == "internal"
    assert edition.retries == 2
    assert not Passage.objects.exists()


def test_a_damaged_file_is_not_retried(
    people: People,
    index_dir,  # noqa: F811
    tmp_path: Path,
    settings,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    settings.SORO_INGEST_RETRIES = 2
    damaged = tmp_path / "book.pdf"
    damaged.write_bytes(b"%PDF-1.4\n\x00\x01 not really a pdf \xff" * 50)
    edition = register(damaged)
    caplog.set_level(logging.WARNING, logger="tutoring.services.ingestion")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        textbook_ingest_run(edition_id=edition.pk)
    edition.refresh_from_db()
    assert edition.status == "failed" and edition.error_code == "corrupt"
    assert edition.retries == 0
    assert not any("retry" in r.getMessage() for r in caplog.records)
    assert all("textbook_ingest" not in repr(callback) for callback in callbacks)
