"""The national curriculum: subjects, grades, an ordered unit → topic tree, and textbooks."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _


class LocalizedNameMixin(models.Model):
    """Tajik name first, with optional Russian and English names for the interface."""

    name = models.CharField(_("name (Tajik)"), max_length=200)
    name_ru = models.CharField(_("name (Russian)"), max_length=200, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    def localized_name(self, language: str | None = None) -> str:
        language = (language or get_language() or "tg")[:2]
        if language == "ru" and self.name_ru:
            return self.name_ru
        if language == "en" and self.name_en:
            return self.name_en
        return self.name


class Subject(LocalizedNameMixin):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("subject")
        verbose_name_plural = _("subjects")

    def __str__(self) -> str:
        return self.localized_name()


class Grade(models.Model):
    number = models.PositiveSmallIntegerField(_("number"), unique=True)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["number"]
        verbose_name = _("grade")
        verbose_name_plural = _("grades")

    def __str__(self) -> str:
        # The label is the interface's (translated), not the stored Tajik name, so a Russian
        # or English page says "7 класс" / "Grade 7" instead of "Синфи 7".
        return gettext("Grade %(number)s") % {"number": self.number}


class TopicQuerySet(models.QuerySet["Topic"]):
    def units(self) -> TopicQuerySet:
        return self.filter(kind=Topic.Kind.UNIT)

    def leaves(self) -> TopicQuerySet:
        return self.filter(kind=Topic.Kind.TOPIC)

    def for_subject_grade(self, subject: Subject, grade: Grade) -> TopicQuerySet:
        return self.filter(subject=subject, grade=grade)


class Topic(models.Model):
    """A unit or a topic. Units sit at the top of a subject's grade; topics inside a unit."""

    class Kind(models.TextChoices):
        UNIT = "unit", _("unit")
        TOPIC = "topic", _("topic")

    code = models.SlugField(
        _("code"),
        max_length=60,
        unique=True,
        help_text=_("Stable code that survives renaming, e.g. math-5-01-02."),
    )
    subject = models.ForeignKey(
        Subject, on_delete=models.PROTECT, related_name="topics", verbose_name=_("subject")
    )
    grade = models.ForeignKey(
        Grade, on_delete=models.PROTECT, related_name="topics", verbose_name=_("grade")
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("unit"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TOPIC)
    name = models.CharField(_("name (Tajik)"), max_length=300)
    order = models.PositiveIntegerField(_("order"), default=0)

    objects = TopicQuerySet.as_manager()

    class Meta:
        ordering = ["subject__order", "grade__number", "order"]
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        indexes = [models.Index(fields=["subject", "grade", "order"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
