"""The question bank (items and their versions), blueprints, tests, attempts and answers."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ItemType(models.TextChoices):
    CHOICE = "choice", _("multiple choice")
    MATCHING = "matching", _("matching")
    SHORT = "short", _("short answer")


class ItemQuerySet(models.QuerySet["Item"]):
    def approved(self) -> ItemQuerySet:
        return self.filter(status=Item.Status.APPROVED)

    def for_topic(self, topic_id: int) -> ItemQuerySet:
        return self.filter(topic_id=topic_id)

    def editable_by(self, user: Any) -> ItemQuerySet:
        """Staff edit every item; a teacher edits the items written at their school."""
        if user.is_staff:
            return self.all()
        if user.is_teacher and user.school_id:
            return self.filter(school_id=user.school_id)
        if user.is_teacher:
            return self.filter(author=user)
        return self.none()


class Item(models.Model):
    """A question of the bank. Its text lives in versions: an edit adds a version, and an
    attempt keeps pointing at the version it was given."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        APPROVED = "approved", _("approved")

    class Part(models.TextChoices):
        A = "A", _("part A (grade 11 programme)")
        B = "B", _("part B (grade 9 programme)")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    type = models.CharField(_("type"), max_length=10, choices=ItemType.choices)
    subject = models.ForeignKey(
        "curriculum.Subject", on_delete=models.PROTECT, related_name="+", verbose_name=_("subject")
    )
    grade = models.ForeignKey(
        "curriculum.Grade", on_delete=models.PROTECT, related_name="+", verbose_name=_("grade")
    )
    topic = models.ForeignKey(
        "curriculum.Topic",
        on_delete=models.PROTECT,
        related_name="exam_items",
        verbose_name=_("topic"),
    )
    part = models.CharField(_("part"), max_length=1, choices=Part.choices, default=Part.B)
    difficulty = models.PositiveSmallIntegerField(_("difficulty"), default=2)
    clusters = models.JSONField(_("clusters"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    version = models.PositiveIntegerField(_("version"), default=0)
    current = models.ForeignKey(
        "ItemVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("current version"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="exam_items",
        verbose_name=_("author"),
    )
    school = models.ForeignKey(
        "accounts.School",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("school"),
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        indexes = [models.Index(fields=["topic", "status"])]

    def __str__(self) -> str:
        return self.code

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class ItemVersion(models.Model):
    """One version of an item's text and key, never changed once written."""

    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="versions", verbose_name=_("question")
    )
    number = models.PositiveIntegerField(_("number"))
    type = models.CharField(_("type"), max_length=10, choices=ItemType.choices)
    stem = models.TextField(_("question"))
    # choice: options + answer; matching: left + right + pairs; short: answers or numeric.
    content = models.JSONField(_("content"), default=dict)
    explanation = models.TextField(_("explanation"))
    source = models.CharField(_("source"), max_length=300, blank=True)
    reference = models.JSONField(_("textbook reference"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["item_id", "number"]
        verbose_name = _("question version")
        verbose_name_plural = _("question versions")
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="unique_item_version"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} v{self.number}"


ITEM_TYPES = ("choice", "matching", "short")


def blueprint_sections_valid(sections: Any) -> bool:
    """A non-empty list of sections, each with a subject code and counts (and optional
    points) per item type."""
    if not isinstance(sections, list) or not sections:
        return False
    for section in sections:
        if not isinstance(section, dict) or not isinstance(section.get("subject"), str):
            return False
        counts, points = section.get("counts"), section.get("points") or {}
        if not isinstance(counts, dict) or not isinstance(points, dict):
            return False
        if not all(k in ITEM_TYPES and isinstance(v, int) and v >= 0 for k, v in counts.items()):
            return False
        if not all(
            k in ITEM_TYPES and isinstance(v, int | float) and v >= 0 for k, v in points.items()
        ):
            return False
    return True


class Blueprint(models.Model):
    """The shape of a mock exam: sections (a subject, its part, item counts per type and
    points per type), a time limit and the scale of the reported score."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    cluster = models.PositiveSmallIntegerField(_("cluster"), null=True, blank=True)
    minutes = models.PositiveIntegerField(_("minutes"))
    scaled_max = models.PositiveIntegerField(_("scaled maximum"), default=500)
    # [{"subject": "biology", "part": "A", "counts": {"choice": 20, ...}, "points": {...}}]
    sections = models.JSONField(_("sections"), default=list)
    is_active = models.BooleanField(_("offered to students"), default=True)

    class Meta:
        ordering = ["cluster", "code"]
        verbose_name = _("blueprint")
        verbose_name_plural = _("blueprints")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not blueprint_sections_valid(self.sections):
            raise ValidationError(
                {
                    "sections": _("%(where)s: each section needs a subject and counts per type")
                    % {"where": _("sections")}
                }
            )

    @property
    def item_count(self) -> int:
        return sum(sum(section["counts"].values()) for section in self.sections)


class ExamTest(models.Model):
    """A fixed list of item versions with a time limit: a mock exam a student started, or a
    test a teacher assigned to a class with a window."""

    class Kind(models.TextChoices):
        MOCK = "mock", _("mock exam")
        ASSIGNED = "assigned", _("class test")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=200)
    blueprint = models.ForeignKey(
        Blueprint,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tests",
        verbose_name=_("blueprint"),
    )
    classroom = models.ForeignKey(
        "accounts.Classroom",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exam_tests",
        verbose_name=_("class"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="exam_tests",
        verbose_name=_("created by"),
    )
    minutes = models.PositiveIntegerField(_("minutes"))
    scaled_max = models.PositiveIntegerField(_("scaled maximum"), default=500)
    opens_at = models.DateTimeField(_("opens"), default=timezone.now)
    closes_at = models.DateTimeField(_("closes"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("test")
        verbose_name_plural = _("tests")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="mock") | Q(classroom__isnull=False),
                name="assigned_test_has_class",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_open(self, at: Any = None) -> bool:
        at = at or timezone.now()
        return self.opens_at <= at and (self.closes_at is None or at < self.closes_at)


class TestItem(models.Model):
    """One position of a test: the item version given and its points."""

    __test__ = False  # not a pytest class

    test = models.ForeignKey(
        ExamTest, on_delete=models.CASCADE, related_name="test_items", verbose_name=_("test")
    )
    position = models.PositiveIntegerField(_("position"))
    version = models.ForeignKey(
        ItemVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("question version")
    )
    section = models.CharField(_("section"), max_length=60, blank=True)
    points = models.DecimalField(_("points"), max_digits=5, decimal_places=2, default=1)

    class Meta:
        ordering = ["test_id", "position"]
        verbose_name = _("test question")
        verbose_name_plural = _("test questions")
        constraints = [
            models.UniqueConstraint(fields=["test", "position"], name="unique_test_position"),
            models.UniqueConstraint(fields=["test", "version"], name="unique_test_version"),
        ]

    def __str__(self) -> str:
        return f"{self.test_id} #{self.position}"


class AttemptQuerySet(models.QuerySet["Attempt"]):
    def in_progress(self) -> AttemptQuerySet:
        return self.filter(submitted_at__isnull=True)

    def overdue(self, at: Any = None) -> AttemptQuerySet:
        return self.in_progress().filter(deadline__lte=at or timezone.now())


class Attempt(models.Model):
    """A student's sitting of a test. The server holds the deadline."""

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="exam_attempts",
        verbose_name=_("student"),
    )
    test = models.ForeignKey(
        ExamTest, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("test")
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    deadline = models.DateTimeField(_("deadline"))
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    is_auto_submitted = models.BooleanField(_("submitted when time ran out"), default=False)
    score = models.DecimalField(_("score"), max_digits=7, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(
        _("maximum score"), max_digits=7, decimal_places=2, null=True, blank=True
    )
    scaled = models.DecimalField(
        _("scaled score"), max_digits=6, decimal_places=1, null=True, blank=True
    )

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        constraints = [
            models.UniqueConstraint(fields=["student", "test"], name="one_attempt_per_test"),
        ]
        indexes = [models.Index(fields=["submitted_at", "deadline"])]

    def __str__(self) -> str:
        return f"{self.student} · {self.test}"

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None

    def seconds_left(self, at: Any = None) -> int:
        return max(0, math.ceil((self.deadline - (at or timezone.now())).total_seconds()))

    @property
    def minutes_left(self) -> int:
        return math.ceil(self.seconds_left() / 60)


class AttemptAnswer(models.Model):
    attempt = models.ForeignKey(
        Attempt, on_delete=models.CASCADE, related_name="answers", verbose_name=_("attempt")
    )
    test_item = models.ForeignKey(
        TestItem, on_delete=models.CASCADE, related_name="answers", verbose_name=_("question")
    )
    version = models.ForeignKey(
        ItemVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("question version")
    )
    answer = models.JSONField(_("answer"))
    is_correct = models.BooleanField(_("correct"), null=True, blank=True)
    points = models.DecimalField(_("points"), max_digits=5, decimal_places=2, null=True, blank=True)
    saved_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["attempt_id", "test_item_id"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["attempt", "test_item"], name="one_answer_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id} · {self.test_item_id}"


class PracticeAnswer(models.Model):
    """An answer given in practice by topic (immediate feedback; every try is kept)."""

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="practice_answers",
        verbose_name=_("student"),
    )
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="practice_answers", verbose_name=_("question")
    )
    version = models.ForeignKey(
        ItemVersion, on_delete=models.PROTECT, related_name="+", verbose_name=_("question version")
    )
    topic = models.ForeignKey(
        "curriculum.Topic", on_delete=models.CASCADE, related_name="+", verbose_name=_("topic")
    )
    answer = models.JSONField(_("answer"))
    is_correct = models.BooleanField(_("correct"))
    answered_at = models.DateTimeField(_("answered"), default=timezone.now)
    # Set by the offline practice page: a repeated sync of the same answer stores nothing.
    client_id = models.UUIDField(_("offline answer id"), null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-answered_at"]
        verbose_name = _("practice answer")
        verbose_name_plural = _("practice answers")
        indexes = [models.Index(fields=["student", "topic"])]

    def __str__(self) -> str:
        return f"{self.student_id} · {self.item_id}"
