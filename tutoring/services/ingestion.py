"""Textbook ingestion: uploads, the ingestion job (parse, chunk, index, switch editions) and
index rebuilds.

Heavy work (parsing, OCR, chunking, indexing) happens in the Django-free cores of
``tutoring.retrieval``; this module owns the rows, the transactions and the files under
``var/indexes``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from modelops.checkpoints import file_sha256
from modelops.services import token_counter
from soro_web.accounts.models import User
from soro_web.curriculum.models import Grade, Subject
from soro_web.jobs import RECOVERED_NOTE, heartbeat, new_owner
from tutoring.models import Passage, Textbook, TextbookEdition
from tutoring.retrieval.types import IngestError

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
ALLOWED_SUFFIXES = {".pdf", ".docx", ".md", ".markdown", ".txt"}


def index_root() -> Path:
    return Path(settings.SORO_INDEX_DIR)


def edition_root(edition_id: int) -> Path:
    return index_root() / f"edition-{edition_id}"


def edition_index_dir(edition_id: int, version: int = 1) -> Path:
    return edition_root(edition_id) / f"v{version}"


def ingest_error_message(code: str) -> str:
    """What a person sees when a file cannot be read, in their language."""
    messages = {
        "encrypted": _(
            "The PDF is protected with a password. Save it without a password and upload it again."
        ),
        "corrupt": _(
            "The file is damaged or is not what its name says. Export it again and upload it."
        ),
        "empty": _("The file is empty."),
        "too_large": _("The file is larger than %(mb)s MB.")
        % {"mb": settings.SORO_TEXTBOOK_MAX_MB},
        "no_text": _(
            "No text could be read from the file, not even by text recognition. "
            "Check the scan quality."
        ),
        "unsupported": _("Upload a PDF, DOCX, Markdown or plain-text file."),
        "internal": _(
            "The server stopped with an error of its own while reading the file; the file "
            "may be fine. Upload it again; if it happens again, tell your administrator."
        ),
        "ocr_missing": _(
            "The file is a scan, and text recognition for Tajik is not "
            "installed on the server (Debian package tesseract-ocr-tgk)."
        ),
    }
    return messages.get(code, _("The file could not be read."))


def _check_upload(upload: UploadedFile) -> None:
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ValidationError({"file": ingest_error_message("unsupported")}, code="unsupported")
    size = upload.size or 0
    if size == 0:
        raise ValidationError({"file": ingest_error_message("empty")}, code="empty")
    if size > settings.SORO_TEXTBOOK_MAX_MB * 1024 * 1024:
        raise ValidationError({"file": ingest_error_message("too_large")}, code="too_large")


@transaction.atomic
def textbook_upload(
    *,
    user: User,
    title: str,
    subject: Subject,
    grade: Grade,
    upload: UploadedFile,
    language: str = "tg",
) -> TextbookEdition:
    """Store an uploaded textbook and queue its ingestion (one transaction)."""
    if not (user.is_staff or user.is_teacher):
        raise PermissionDenied(_("Only teachers and administrators can add textbooks."))
    _check_upload(upload)
    title = (title or "").strip() or Path(upload.name or "").stem
    textbook = Textbook.objects.create(
        title=title,
        subject=subject,
        grade=grade,
        language=language,
        file=upload,
        school_id=None if user.is_staff else user.school_id,
        uploaded_by=user,
    )
    return textbook_ingest_start(textbook=textbook, user=user)


@transaction.atomic
def textbook_ingest_start(
    *, textbook: Textbook, user: User | None = None, enqueue: bool = True
) -> TextbookEdition:
    """Queue a (re-)ingestion of the textbook's file. The current edition stays searchable
    until the new one is ready. ``enqueue=False`` when the caller runs it itself."""
    from tutoring.tasks import textbook_ingest

    edition = TextbookEdition.objects.create(
        textbook=textbook,
        source_name=Path(textbook.file.name).name,
        started_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if not textbook.editions.filter(is_current=True).exists():
        Textbook.objects.filter(pk=textbook.pk).update(status=Textbook.Status.PROCESSING)
    if enqueue:
        TextbookEdition.objects.filter(pk=edition.pk).update(sent_at=timezone.now())
        textbook_ingest.delay_on_commit(edition.pk)
    return edition


def textbook_ingest_run(*, edition_id: int, progress: Progress | None = None) -> None:
    """Parse, chunk and index one edition, then make it the textbook's current one.

    Idempotent and safe to repeat: only a queued edition is claimed (a conditional UPDATE),
    so a second delivery of the task does nothing; a failure marks the edition failed and
    leaves the previous edition current and searchable.
    """
    # Only a queued edition is claimed; one whose worker died mid-job is put back in the
    # queue by the sweep (textbook_ingest_sweep), leftovers removed.
    owner, now = new_owner(), timezone.now()
    claimed = TextbookEdition.objects.filter(
        pk=edition_id, status=TextbookEdition.Status.QUEUED
    ).update(status=TextbookEdition.Status.RUNNING, owner=owner, claimed_at=now, heartbeat_at=now)
    if claimed != 1:
        return

    def mine() -> QuerySet[TextbookEdition]:
        """The edition while this run owns it: a run that was taken for dead and replaced
        stops touching it (its progress updates and final switch then change nothing)."""
        return TextbookEdition.objects.filter(
            pk=edition_id, status=TextbookEdition.Status.RUNNING, owner=owner
        )

    with heartbeat(lambda: mine().update(heartbeat_at=timezone.now())):
        _ingest_claimed(edition_id, mine, progress)


def _ingest_claimed(
    edition_id: int, mine: Callable[[], QuerySet[TextbookEdition]], progress: Progress | None
) -> None:
    # Nothing of an earlier, dead run is left: the sweep removed it when it queued the
    # edition again (deleting here could remove the passages of the run that replaced us).
    edition = TextbookEdition.objects.select_related("textbook").get(pk=edition_id)
    textbook = edition.textbook

    def report(stage: str, fraction: float) -> None:
        if mine().update(stage=stage, progress=fraction, heartbeat_at=timezone.now()) != 1:
            raise _ClaimLost
        if progress:
            progress(stage, fraction)

    directory = edition_index_dir(edition_id)
    try:
        path = Path(textbook.file.path)
        report("reading", 0.02)
        book = _parse(path, report)
        report("splitting into passages", 0.5)
        chunks = _chunk(book)
        if not chunks:
            raise IngestError("no_text", f"{path.name}: no passages after parsing")
        with transaction.atomic():
            # Written only while this run still owns the edition (row locked), so a run
            # taken for dead and replaced can never add a second set of passages.
            if not mine().select_for_update().exists():
                raise _ClaimLost
            passages = Passage.objects.bulk_create(
                [
                    Passage(
                        edition=edition,
                        textbook=textbook,
                        page=chunk.page,
                        heading_path=list(chunk.heading_path),
                        text=chunk.text,
                        order=chunk.order,
                        tokens=chunk.tokens,
                    )
                    for chunk in chunks
                ]
            )
        report("indexing", 0.6)
        encoder_name = _build_index(
            directory, [p.pk for p in passages], _indexed_texts(passages), report
        )
        with transaction.atomic():
            # One switch at a time per textbook (PostgreSQL would otherwise let two finishing
            # editions both see the old one and collide on "one current edition").
            Textbook.objects.select_for_update().filter(pk=textbook.pk).first()
            previous = list(
                TextbookEdition.objects.select_for_update()
                .filter(textbook=textbook, is_current=True)
                .exclude(pk=edition_id)
            )
            TextbookEdition.objects.filter(pk__in=[e.pk for e in previous]).update(is_current=False)
            switched = mine().update(
                status=TextbookEdition.Status.READY,
                is_current=True,
                progress=1.0,
                stage="done",
                page_count=len(book.pages),
                ocr_page_count=book.ocr_pages,
                passage_count=len(passages),
                encoder=encoder_name,
                source_sha256=file_sha256(path),
                finished_at=timezone.now(),
            )
            if switched != 1:
                raise _ClaimLost
            Textbook.objects.filter(pk=textbook.pk).update(status=Textbook.Status.READY)
            old_ids = [e.pk for e in previous]
            # Cleaning up the old edition must never undo the switch that just committed.
            transaction.on_commit(lambda: _drop_editions(old_ids), robust=True)
    except _ClaimLost:
        logger.warning("edition %s was taken over by another run; this one stops", edition_id)
    except IngestError as error:
        _fail(edition, directory, error.code, error.message, claimed=mine())
    except Exception as error:  # recorded, never left "running"
        # Damaged files are reported by the parsers as IngestError("corrupt"); anything else is
        # the server's fault and must not be blamed on the teacher's file.
        logger.exception("ingesting edition %s failed", edition_id)
        message = f"{type(error).__name__}: {error}"
        if _retry(edition, directory, message, claimed=mine()):
            return
        _fail(edition, directory, "internal", message, claimed=mine())
        raise


class _ClaimLost(Exception):
    """Another run claimed this edition (this one was presumed dead)."""


def retry_note(number: int, limit: int, seconds: float) -> str:
    """What a job retried after an internal error says in its log (the stage)."""
    return f"retry {number} of {limit} after an internal error, in {seconds:g} s"


def _retry(edition: TextbookEdition, directory: Path, message: str, *, claimed: Any) -> bool:
    """Queue a run that stopped with an internal error again, with back-off, while it has
    retries left; what it wrote is removed in the same transaction (so the next run cannot
    add a second set of passages). False when no retry is left (the caller fails it)."""
    from tutoring.tasks import textbook_ingest

    with transaction.atomic():
        current = claimed.select_for_update().values_list("retries", flat=True).first()
        if current is None or current >= settings.SORO_INGEST_RETRIES:
            return False
        number = current + 1
        delay = settings.SORO_INGEST_RETRY_SECONDS * 2 ** (number - 1)
        note = retry_note(number, settings.SORO_INGEST_RETRIES, delay)
        Passage.objects.filter(edition=edition).delete()
        claimed.update(
            status=TextbookEdition.Status.QUEUED,
            owner="",
            progress=0.0,
            stage=note,
            error=message,
            retries=number,
            # When the message is due: the sweep resends a queued job only well after this.
            sent_at=timezone.now() + timedelta(seconds=delay),
        )
        logger.warning("edition %s: %s (%s)", edition.pk, note, message)
        transaction.on_commit(lambda: shutil.rmtree(directory.parent, ignore_errors=True))
        transaction.on_commit(lambda: textbook_ingest.apply_async((edition.pk,), countdown=delay))
    return True


def _fail(
    edition: TextbookEdition, directory: Path, code: str, message: str, *, claimed: Any
) -> None:
    """Mark a run that still owns its edition as failed and remove what it wrote."""
    with transaction.atomic():
        if not claimed.update(
            status=TextbookEdition.Status.FAILED,
            error_code=code,
            error=message,
            finished_at=timezone.now(),
        ):
            return
        Passage.objects.filter(edition=edition).delete()
        transaction.on_commit(lambda: shutil.rmtree(directory.parent, ignore_errors=True))
        if not TextbookEdition.objects.filter(
            textbook_id=edition.textbook_id, is_current=True
        ).exists():
            Textbook.objects.filter(pk=edition.textbook_id).update(status=Textbook.Status.FAILED)


def _drop_editions(edition_ids: list[int]) -> None:
    from tutoring.retrieval.index import forget_shard

    for edition_id in edition_ids:
        for directory in edition_root(edition_id).glob("v*"):
            forget_shard(directory)
        shutil.rmtree(edition_root(edition_id), ignore_errors=True)
    Passage.objects.filter(edition_id__in=edition_ids).delete()


def _parse(path: Path, report: Progress):  # type: ignore[no-untyped-def]
    from tutoring.retrieval.parsers import parse_file

    return parse_file(
        path,
        max_bytes=settings.SORO_TEXTBOOK_MAX_MB * 1024 * 1024,
        progress=lambda fraction: report("reading", 0.02 + 0.45 * fraction),
    )


def _chunk(book):  # type: ignore[no-untyped-def]
    from tutoring.retrieval.chunking import chunk_book

    return chunk_book(
        book,
        count_tokens=token_counter(),
        max_tokens=settings.SORO_PASSAGE_TOKENS,
        overlap_tokens=settings.SORO_PASSAGE_OVERLAP,
    )


def _indexed_texts(passages: list[Passage]) -> list[str]:
    from tutoring.retrieval.index import indexed_text

    return [indexed_text(p.heading_path, p.text) for p in passages]


def _build_index(directory: Path, ids: list[int], texts: list[str], report: Progress) -> str:
    from tutoring.retrieval.index import build_shard

    return build_shard(
        directory,
        ids,
        texts,
        encoder_name=settings.SORO_RETRIEVAL_ENCODER,
        progress=lambda fraction: report("indexing", 0.6 + 0.39 * fraction),
    )


DEMO_TEXTBOOKS = Path(__file__).resolve().parents[1] / "data" / "textbooks"


@transaction.atomic
def textbook_register_file(
    *,
    path: Path,
    title: str,
    subject: Subject,
    grade: Grade,
    language: str = "tg",
    user: User | None = None,
    enqueue: bool = True,
) -> TextbookEdition | None:
    """Copy a file from disk into the textbook store and queue its ingestion.

    Returns None when a textbook with this title already has a current edition made from
    the same bytes (nothing to do)."""
    from django.core.files import File

    if not path.is_file():
        raise ValidationError(
            _("There is no file at %(path)s.") % {"path": path}, code="missing_file"
        )
    if path.suffix.lower() not in ALLOWED_SUFFIXES:
        raise ValidationError(ingest_error_message("unsupported"), code="unsupported")
    checksum = file_sha256(path)
    textbook = Textbook.objects.filter(title=title, subject=subject, grade=grade).first()
    if (
        textbook is not None
        and textbook.editions.filter(is_current=True, source_sha256=checksum).exists()
    ):
        return None
    if textbook is None:
        textbook = Textbook(title=title, subject=subject, grade=grade, language=language)
    with path.open("rb") as handle:
        textbook.file.save(path.name, File(handle), save=True)
    return textbook_ingest_start(textbook=textbook, user=user, enqueue=enqueue)


def demo_textbooks() -> list[tuple[Path, dict[str, str]]]:
    """The demo textbooks shipped in the repository with their front matter."""
    import yaml

    books = []
    for path in sorted(DEMO_TEXTBOOKS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        meta: dict[str, str] = {}
        if text.startswith("---"):
            meta = yaml.safe_load(text.split("---", 2)[1]) or {}
        books.append((path, {key: str(value) for key, value in meta.items()}))
    return books


@dataclass(frozen=True)
class TextbookRow:
    """One line of the textbooks page: the book, and why its last ingest failed when the
    person looking at it uploaded it (nobody else is shown the reason)."""

    textbook: Textbook
    error_message: str = ""


def textbooks_overview(user: User) -> list[TextbookRow]:
    """The textbooks ``user`` may use: staff see all; a teacher the national ones and their
    school's, but a failed upload only when it is their own."""
    textbooks = (
        Textbook.objects.visible_to(user)
        .select_related("subject", "grade")
        .prefetch_related(
            Prefetch(
                "editions",
                queryset=TextbookEdition.objects.order_by("-created_at"),
                to_attr="recent_editions",
            )
        )
    )
    if not user.is_staff:
        textbooks = textbooks.exclude(Q(status=Textbook.Status.FAILED) & ~Q(uploaded_by=user))
    rows = []
    for book in textbooks:
        message = ""
        if book.status == Textbook.Status.FAILED and book.uploaded_by_id == user.pk:
            editions: list[TextbookEdition] = getattr(book, "recent_editions", [])
            failed = [e for e in editions if e.status == TextbookEdition.Status.FAILED]
            message = ingest_error_message(failed[0].error_code if failed else "")
        rows.append(TextbookRow(textbook=book, error_message=message))
    return rows


def edition_for_progress(user: User, pk: int) -> tuple[TextbookEdition, str]:
    """An edition whose ingest ``user`` may watch, and its failure reason when they uploaded
    it. Raises ``TextbookEdition.DoesNotExist`` for a book they may not see."""
    edition = TextbookEdition.objects.select_related("textbook").get(
        pk=pk, textbook__in=Textbook.objects.visible_to(user)
    )
    message = ""
    if (
        edition.status == TextbookEdition.Status.FAILED
        and edition.textbook.uploaded_by_id == user.pk
    ):
        message = ingest_error_message(edition.error_code)
    return edition, message


def index_rebuild(*, progress: Callable[[str, float], None] | None = None) -> int:
    """Rebuild every current edition's index (e.g. after changing the encoder): each is
    written as a new version beside the one in use and switched in one transaction, so
    search keeps working throughout. Returns how many were rebuilt."""
    editions = list(TextbookEdition.objects.filter(is_current=True).select_related("textbook"))
    for number, edition in enumerate(editions):
        passages = list(Passage.objects.filter(edition=edition).order_by("order"))
        old_dir = edition_index_dir(edition.pk, edition.index_version)
        new_version = edition.index_version + 1
        new_dir = edition_index_dir(edition.pk, new_version)
        shutil.rmtree(new_dir, ignore_errors=True)

        def report(
            stage: str, fraction: float, number: int = number, title: str = edition.textbook.title
        ) -> None:
            if progress:
                progress(title, (number + fraction) / len(editions))

        encoder_name = _build_index(
            new_dir, [p.pk for p in passages], _indexed_texts(passages), report
        )
        with transaction.atomic():
            TextbookEdition.objects.filter(pk=edition.pk).update(
                index_version=new_version, encoder=encoder_name
            )
        from tutoring.retrieval.index import forget_shard

        forget_shard(old_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
    return len(editions)


def textbook_ingest_sweep(stale_before: datetime, resend_before: datetime) -> list[int]:
    """Queue again the editions whose job was lost: running with no heartbeat since
    ``stale_before`` (their worker died: the passages it wrote are removed in the same
    transaction, its index files after), or queued and last sent before ``resend_before``
    (the embedded file broker forgets a message whose worker was killed). The claim makes
    a repeated message harmless. Registered with :mod:`soro_web.jobs` by the app."""
    from tutoring.tasks import textbook_ingest

    now = timezone.now()
    with transaction.atomic():
        dead = list(
            TextbookEdition.objects.filter(
                status=TextbookEdition.Status.RUNNING, heartbeat_at__lt=stale_before
            ).values_list("pk", flat=True)
        )
        if dead:
            Passage.objects.filter(edition_id__in=dead).delete()
            TextbookEdition.objects.filter(
                pk__in=dead, status=TextbookEdition.Status.RUNNING, heartbeat_at__lt=stale_before
            ).update(
                status=TextbookEdition.Status.QUEUED,
                owner="",
                progress=0.0,
                stage=RECOVERED_NOTE,
                sent_at=now,
            )
        waiting = list(
            TextbookEdition.objects.filter(status=TextbookEdition.Status.QUEUED)
            .filter(
                Q(sent_at__lt=resend_before) | Q(sent_at__isnull=True, created_at__lt=resend_before)
            )
            .exclude(pk__in=dead)
            .values_list("pk", flat=True)
        )
        TextbookEdition.objects.filter(pk__in=waiting).update(sent_at=now)
        for edition_id in dead:
            transaction.on_commit(
                lambda edition_id=edition_id: shutil.rmtree(  # type: ignore[misc]
                    edition_root(edition_id), ignore_errors=True
                )
            )
        for edition_id in [*dead, *waiting]:
            textbook_ingest.delay_on_commit(edition_id)
    return [*dead, *waiting]
