"""Textbooks, their editions (one ingestion of a file each) and passages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from soro_web.languages import Language

if TYPE_CHECKING:
    from soro_web.accounts.models import User


class TextbookQuerySet(models.QuerySet["Textbook"]):
    def searchable(self) -> TextbookQuerySet:
        """Textbooks with a current (ready) edition."""
        return self.filter(editions__is_current=True).distinct()

    def visible_to(self, user: User) -> TextbookQuerySet:
        """Staff see every textbook. Teachers see the national ones and their school's
        uploads; students those of their classes' subject and grade, national or from their
        classes' schools."""
        if user.is_staff:
            return self
        if user.is_teacher:
            return self.filter(Q(school__isnull=True) | Q(school_id=user.school_id))
        enrollments = list(
            user.enrollments.values_list(
                "classroom__school_id", "classroom__subject_id", "classroom__grade_id"
            )
        )
        schools = {school_id for school_id, _subject, _grade in enrollments}
        pairs = Q(pk__in=[])
        for _school, subject_id, grade_id in enrollments:
            pairs |= Q(subject_id=subject_id, grade_id=grade_id)
        return self.filter(Q(school__isnull=True) | Q(school_id__in=schools)).filter(pairs)


class Textbook(models.Model):
    """A book teachers and students read: national (added by administrators) or a school's
    own upload. Its text lives in the current :class:`TextbookEdition`."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        PROCESSING = "processing", _("processing")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    Language = Language

    title = models.CharField(_("title"), max_length=300)
    subject = models.ForeignKey(
        "curriculum.Subject",
        on_delete=models.PROTECT,
        related_name="textbooks",
        verbose_name=_("subject"),
    )
    grade = models.ForeignKey(
        "curriculum.Grade",
        on_delete=models.PROTECT,
        related_name="textbooks",
        verbose_name=_("grade"),
    )
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.TAJIK
    )
    file = models.FileField(_("file"), upload_to="textbooks/%Y/", blank=True)
    # Empty for the national textbooks administrators add; a teacher's upload belongs to
    # their school and is seen only there.
    school = models.ForeignKey(
        "accounts.School",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="textbooks",
        verbose_name=_("school"),
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.UPLOADED
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = TextbookQuerySet.as_manager()

    class Meta:
        # The table keeps the name it had when textbooks belonged to the curriculum app.
        db_table = "curriculum_textbook"
        ordering = ["subject__order", "grade__number", "title"]
        verbose_name = _("textbook")
        verbose_name_plural = _("textbooks")

    def __str__(self) -> str:
        return self.title


class TextbookEdition(models.Model):
    """One ingestion of a textbook's file: its passages and its index shard.

    A textbook has at most one *current* edition; re-ingesting builds a new edition beside
    it and switches the pointer in one transaction, so search never sees half a book and a
    failed ingest leaves the previous edition searchable.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    textbook = models.ForeignKey(
        Textbook,
        on_delete=models.CASCADE,
        related_name="editions",
        verbose_name=_("textbook"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED
    )
    is_current = models.BooleanField(_("current"), default=False)
    progress = models.FloatField(_("progress"), default=0.0)
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    error_code = models.CharField(_("error code"), max_length=30, blank=True)
    error = models.TextField(_("error"), blank=True)
    source_name = models.CharField(_("file name"), max_length=300, blank=True)
    source_sha256 = models.CharField(_("file checksum"), max_length=64, blank=True)
    page_count = models.PositiveIntegerField(_("pages"), default=0)
    ocr_page_count = models.PositiveIntegerField(_("pages read by OCR"), default=0)
    passage_count = models.PositiveIntegerField(_("passages"), default=0)
    encoder = models.CharField(_("encoder"), max_length=200, blank=True)
    # The index directory in use is edition-<id>/v<index_version>; build_index writes the
    # next version beside it and switches this number in one transaction.
    index_version = models.PositiveIntegerField(_("index version"), default=1)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("started by"),
    )
    # The ingestion job's claim and heartbeat (soro_web/jobs.py).
    owner = models.CharField(_("owner"), max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent to the queue"), null=True, blank=True)
    # Automatic retries after an internal error (SORO_INGEST_RETRIES).
    retries = models.PositiveSmallIntegerField(_("retries"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("textbook edition")
        verbose_name_plural = _("textbook editions")
        constraints = [
            models.UniqueConstraint(
                fields=["textbook"],
                condition=models.Q(is_current=True),
                name="one_current_edition_per_textbook",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.textbook} #{self.pk}"


class PassageQuerySet(models.QuerySet["Passage"]):
    def current(self) -> PassageQuerySet:
        return self.filter(edition__is_current=True)


class Passage(models.Model):
    """A chunk of a textbook page, with where it came from for the citation."""

    edition = models.ForeignKey(
        TextbookEdition,
        on_delete=models.CASCADE,
        related_name="passages",
        verbose_name=_("edition"),
    )
    textbook = models.ForeignKey(
        Textbook,
        on_delete=models.CASCADE,
        related_name="passages",
        verbose_name=_("textbook"),
    )
    page = models.PositiveIntegerField(_("page"))
    heading_path = models.JSONField(_("headings"), default=list)
    text = models.TextField(_("text"))
    order = models.PositiveIntegerField(_("order"))
    tokens = models.PositiveIntegerField(_("tokens"), default=0)

    objects = PassageQuerySet.as_manager()

    class Meta:
        ordering = ["edition", "order"]
        verbose_name = _("passage")
        verbose_name_plural = _("passages")
        indexes = [models.Index(fields=["edition", "order"])]

    def __str__(self) -> str:
        return f"{self.textbook} p. {self.page}"
