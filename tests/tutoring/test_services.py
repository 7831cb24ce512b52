"""Ingestion into editions and passages, atomic replacement, permissions and search."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import translation

from soro_web.curriculum.models import Grade, Subject
from tests.conftest import People, client_for
from tests.factories import GradeFactory, SubjectFactory
from tutoring.models import Passage, Textbook, TextbookEdition
from tutoring.services import (
    passages_search,
    textbook_ingest_run,
    textbook_ingest_sweep,
    textbook_register_file,
    textbook_upload,
)

BOOK = """---
title: Таърихи халқи тоҷик
subject: math
grade: 7
---
<!-- page 1 -->
# Боби 1. Давлати Сомониён
## Исмоили Сомонӣ
Исмоили Сомонӣ аз соли 892 то 907 ҳукмронӣ кард. Пойтахти давлат шаҳри Бухоро буд.

<!-- page 2 -->
## Рӯдакӣ
Абӯабдуллоҳи Рӯдакӣ падари шеъри форсу тоҷик аст. Ӯ дар деҳаи Панҷрӯд таваллуд шудааст.
"""


@pytest.fixture
def index_dir(settings, tmp_path: Path) -> Path:
    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    return settings.SORO_INDEX_DIR


def ingest(path: Path, *, title: str = "Таърихи халқи тоҷик") -> TextbookEdition | None:
    edition = textbook_register_file(
        path=path,
        title=title,
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    if edition is not None:
        textbook_ingest_run(edition_id=edition.pk)
        edition.refresh_from_db()
    return edition


@pytest.fixture
def book_file(tmp_path: Path) -> Path:
    path = tmp_path / "history.md"
    path.write_text(BOOK, encoding="utf-8")
    return path


def test_ingest_keeps_book_page_and_headings(people: People, index_dir, book_file) -> None:  # type: ignore[no-untyped-def]
    edition = ingest(book_file)
    assert edition.status == "ready" and edition.is_current and edition.page_count == 2
    passages = list(Passage.objects.order_by("order"))
    assert [p.page for p in passages] == [1, 2]
    assert passages[0].heading_path == ["Боби 1. Давлати Сомониён", "Исмоили Сомонӣ"]
    results = passages_search(user=people.teacher, query="Бухоро пойтахт")
    assert results[0].passage.page == 1
    assert results[0].citation == "Таърихи халқи тоҷик, p. 1" or "1" in results[0].citation
    assert "бухоро" in [word.lower() for word in results[0].matched]


def test_unchanged_file_is_skipped_and_changed_file_replaces_atomically(
    people: People, index_dir, book_file, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    first = ingest(book_file)
    assert ingest(book_file) is None  # same bytes: nothing to do
    book_file.write_text(BOOK.replace("Бухоро", "Самарқанд"), encoding="utf-8")
    with django_capture_on_commit_callbacks(execute=True):
        second = ingest(book_file)
    first.refresh_from_db()
    assert second.is_current and not first.is_current
    assert not Passage.objects.filter(edition=first).exists()
    assert not (index_dir / f"edition-{first.pk}").exists()
    assert passages_search(user=people.teacher, query="Бухоро") == []
    assert passages_search(user=people.teacher, query="Самарқанд")


def test_failed_ingest_leaves_the_previous_edition_searchable(
    people: People, index_dir, book_file
) -> None:  # type: ignore[no-untyped-def]
    ingest(book_file)
    book_file.write_text("", encoding="utf-8")
    failed = ingest(book_file)
    assert failed.status == "failed" and failed.error_code == "empty"
    assert not Passage.objects.filter(edition=failed).exists()
    assert Textbook.objects.get().status == "ready"
    assert passages_search(user=people.teacher, query="Бухоро")


def test_a_second_delivery_of_the_task_does_nothing(people: People, index_dir, book_file) -> None:  # type: ignore[no-untyped-def]
    edition = ingest(book_file)
    textbook_ingest_run(edition_id=edition.pk)
    assert Passage.objects.filter(edition=edition).count() == edition.passage_count


def test_students_see_only_their_classes_books(people: People, index_dir, book_file) -> None:  # type: ignore[no-untyped-def]
    ingest(book_file)  # math, grade 7: people.classroom is math 7
    assert passages_search(user=people.student, query="Бухоро")
    other = people.classroom_other
    other.subject = SubjectFactory(code="history", name="Таърих")
    other.save()
    assert passages_search(user=people.student_other, query="Бухоро") == []
    assert client_for(people.student_other).get("/api/search", {"q": "Бухоро"}).json() == []


@pytest.mark.parametrize("query", ["ва дар", "?!...", "   "])
def test_queries_of_only_stop_words_or_punctuation(people: People, index_dir, query) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError), translation.override("en"):
        passages_search(user=people.teacher, query=query)
    response = client_for(people.teacher).get("/api/search", {"q": query})
    assert response.status_code == 422


def test_upload_checks_the_file_and_writes_nothing_on_error(people: People, index_dir) -> None:  # type: ignore[no-untyped-def]
    GradeFactory(number=7)
    for name, content in (("book.exe", b"MZ"), ("empty.md", b"")):
        with pytest.raises(ValidationError):
            textbook_upload(
                user=people.teacher,
                title="",
                subject=SubjectFactory(),
                grade=Grade.objects.get(number=7),
                upload=SimpleUploadedFile(name, content),
            )
    assert not Textbook.objects.exists()


def test_upload_page_queues_and_shows_progress(
    people: People, index_dir, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/textbooks/",
            {
                "title": "",
                "subject": people.classroom.subject_id,
                "grade": people.classroom.grade_id,
                "language": "tg",
                "file": SimpleUploadedFile("history.md", BOOK.encode()),
            },
        )
    assert response.status_code == 302
    edition = TextbookEdition.objects.get()
    # Tests run tasks eagerly: the job has run by the time the page is shown.
    assert edition.status == "ready"
    partial = client.get(f"/textbooks/editions/{edition.pk}/progress/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 286  # htmx: stop polling
    assert "<html" not in partial.content.decode()


def test_search_page_is_a_plain_get_form(people: People, index_dir, book_file) -> None:  # type: ignore[no-untyped-def]
    ingest(book_file)
    client = client_for(people.student)
    full = client.get("/search/", {"q": "Рӯдакӣ"}).content.decode()
    assert "<html" in full and "<mark>" in full
    # The query is in the address and in the box, so Back and reload show both.
    assert 'value="Рӯдакӣ"' in full and 'method="get"' in full and "hx-get" not in full


def test_command_ingests_the_demo_books(db, index_dir, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("import_curriculum")
    call_command("ingest_textbook", "--demo")
    out = capsys.readouterr().out
    assert out.count("passages") >= 6
    call_command("ingest_textbook", "--demo")
    assert capsys.readouterr().out.count("unchanged") >= 6
    with pytest.raises(CommandError):
        call_command("ingest_textbook", "missing.md", "--subject", "math", "--grade", "7")


def test_build_index_swaps_versions_and_search_keeps_working(
    people: People, index_dir, book_file, capsys
) -> None:  # type: ignore[no-untyped-def]
    edition = ingest(book_file)
    old = index_dir / f"edition-{edition.pk}" / "v1"
    assert old.is_dir()
    call_command("build_index")
    assert "Rebuilt the index of 1 textbook" in capsys.readouterr().out
    edition.refresh_from_db()
    assert edition.index_version == 2 and not old.exists()
    assert (index_dir / f"edition-{edition.pk}" / "v2" / "shard.json").is_file()
    assert passages_search(user=people.teacher, query="Бухоро")


def test_admin_upload_starts_indexing(
    people: People, index_dir, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/tutoring/textbook/add/",
            {
                "title": "Таърих",
                "subject": people.classroom.subject_id,
                "grade": people.classroom.grade_id,
                "language": "tg",
                "file": SimpleUploadedFile("history.md", BOOK.encode()),
            },
        )
    assert response.status_code == 302
    assert TextbookEdition.objects.get().status == "ready"
    assert passages_search(user=people.staff, query="Бухоро")


def test_hybrid_search_with_the_default_encoder(
    people: People, index_dir, book_file, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.SORO_RETRIEVAL_ENCODER = "use"
    edition = ingest(book_file)
    assert edition.encoder == "use"
    shard = index_dir / f"edition-{edition.pk}" / "v1"
    assert (shard / "dense").is_dir() and (shard / "lexical").is_dir()
    results = passages_search(user=people.teacher, query="Падари шеъри тоҷик кист?")
    assert results[0].passage.page == 2
    # A question sharing no word with the text is still answered by the dense half.
    assert passages_search(user=people.teacher, query="шоир")


def test_a_run_taken_over_stops_and_leaves_the_new_one_intact(
    people: People, index_dir, book_file, settings, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from tutoring.services.ingestion import _ingest_claimed

    edition = textbook_register_file(
        path=book_file,
        title="Т",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    # A run that claimed it and went silent is taken for dead and swept back into the queue
    # (tests run tasks eagerly: the new run finishes at once)...
    TextbookEdition.objects.filter(pk=edition.pk).update(
        status="running", owner="old-run", heartbeat_at=timezone.now() - timedelta(hours=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        swept = textbook_ingest_sweep(timezone.now() - timedelta(seconds=60), timezone.now())
    assert swept == [edition.pk]
    edition.refresh_from_db()
    assert edition.status == "ready" and edition.is_current
    count = Passage.objects.filter(edition=edition).count()
    assert count == edition.passage_count > 0
    # ...and when the old run wakes up, every write it tries changes nothing.
    old_run = TextbookEdition.objects.filter(pk=edition.pk, status="running", owner="old-run")
    _ingest_claimed(edition.pk, lambda: old_run, None)
    edition.refresh_from_db()
    assert edition.status == "ready" and edition.owner != "old-run"
    assert Passage.objects.filter(edition=edition).count() == count
    assert passages_search(user=people.teacher, query="Бухоро")


def test_bearer_token_clients_can_post(people: People) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    from soro_web.accounts.services import api_token_create

    _token, key = api_token_create(user=people.teacher)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/classes",
        {"name": "10А", "subject": "math", "grade": 7},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 201, response.content


def test_highlight_escapes_and_never_marks_inside_entities() -> None:
    from tutoring.services import highlight

    html = highlight("a < b & Сомонӣ <script>", ("сомонӣ", "lt", "amp", "script"))
    assert "<mark>Сомонӣ</mark>" in html
    assert "&lt;<mark>script</mark>&gt;" in html and "<script>" not in html
    assert "&lt;" in html and "&amp;" in html and "<mark>lt" not in html


def test_jobs_lost_with_a_killed_worker_are_queued_again(
    people: People, index_dir, book_file, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    edition = textbook_register_file(
        path=book_file,
        title="Т",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    now = timezone.now()
    stale, resend = now - timedelta(seconds=60), now - timedelta(minutes=10)
    # A live run (fresh heartbeat) is left alone; so is a queued one sent a moment ago.
    TextbookEdition.objects.filter(pk=edition.pk).update(
        status="running", owner="live", heartbeat_at=now
    )
    assert textbook_ingest_sweep(stale, resend) == []
    # A silent run: its half-written passages go in the same transaction as the restart.
    TextbookEdition.objects.filter(pk=edition.pk).update(heartbeat_at=now - timedelta(hours=1))
    Passage.objects.create(
        edition=edition, textbook=edition.textbook, page=1, text="нимтайёр", order=0
    )
    # Tests run tasks eagerly: the re-queued job runs at once when the sweep commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert textbook_ingest_sweep(stale, resend) == [edition.pk]
    edition.refresh_from_db()
    assert edition.status == "ready"
    assert not Passage.objects.filter(edition=edition, text="нимтайёр").exists()
    assert textbook_ingest_sweep(stale, resend) == []
    # A queued edition whose message was lost long ago is sent again.
    lost = textbook_register_file(
        path=book_file,
        title="Т2",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    TextbookEdition.objects.filter(pk=lost.pk).update(sent_at=now - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert textbook_ingest_sweep(stale, resend) == [lost.pk]
    lost.refresh_from_db()
    assert lost.status == "ready"


def test_a_teachers_upload_stays_in_their_school(
    people: People, index_dir, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    other = people.classroom_other  # same subject and grade, another school
    other.subject, other.grade = people.classroom.subject, people.classroom.grade
    other.save()
    with django_capture_on_commit_callbacks(execute=True):
        textbook_upload(
            user=people.teacher,
            title="Дастури муаллим",
            subject=people.classroom.subject,
            grade=people.classroom.grade,
            upload=SimpleUploadedFile("notes.md", BOOK.encode()),
        )
    assert Textbook.objects.get().school == people.teacher.school
    assert passages_search(user=people.teacher, query="Бухоро")
    assert passages_search(user=people.student, query="Бухоро")
    assert passages_search(user=people.staff, query="Бухоро")
    assert passages_search(user=people.teacher_other, query="Бухоро") == []
    assert passages_search(user=people.student_other, query="Бухоро") == []


def test_the_exact_phrase_ranks_above_the_currency_in_the_demo_books(
    people: People, index_dir
) -> None:  # type: ignore[no-untyped-def]
    """Issue 17: "Исмоили Сомонӣ" returned algebra passages about the сомонӣ currency. The
    real demo books: the history passages that name the ruler come before any other."""
    demo = Path(__file__).resolve().parents[2] / "tutoring" / "data" / "textbooks"
    ingest(demo / "history-11.md", title="Таърихи халқи тоҷик")
    ingest(demo / "math-7.md", title="Алгебра")

    results = passages_search(user=people.teacher, query="Исмоили Сомонӣ")

    with_phrase = ["Исмоили Сомонӣ" in result.passage.text for result in results]
    assert with_phrase[0] and with_phrase.count(True) >= 2
    # every passage with the exact phrase comes before every passage without it
    assert with_phrase == sorted(with_phrase, reverse=True)
    algebra = [r for r in results if r.passage.textbook.title == "Алгебра"]
    assert algebra and all("сомонӣ" in r.passage.text for r in algebra)  # found, but below
