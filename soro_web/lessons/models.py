"""Lesson plans: a teacher's lesson on a curriculum topic, its ordered sections and history."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from soro_web.languages import Language

if TYPE_CHECKING:
    from soro_web.accounts.models import User

#: "— 10 дақ", "10 мин", "10 min": the minutes a line of the timed plan takes.
MINUTES = re.compile(r"(\d{1,3})\s*(?:дақ|мин|min)", re.IGNORECASE)


class LessonQuerySet(models.QuerySet["Lesson"]):
    def owned_by(self, teacher: User) -> LessonQuerySet:
        return self.filter(teacher=teacher)

    def published(self) -> LessonQuerySet:
        return self.filter(status=Lesson.Status.PUBLISHED)

    def for_students_of(self, student: User) -> LessonQuerySet:
        """Published to a class the student attends."""
        return self.published().filter(classes__enrollments__student=student).distinct()

    def in_library_of(self, teacher: User) -> LessonQuerySet:
        """Published lessons of the other teachers of the teacher's school."""
        if not teacher.school_id:
            return self.none()
        return (
            self.published().filter(teacher__school_id=teacher.school_id).exclude(teacher=teacher)
        )

    def visible_to(self, user: User) -> LessonQuerySet:
        """What a person may read: staff everything; a teacher their own lessons and their
        school's published ones; a student what was published to their classes."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        if user.is_staff:
            return self.all()
        if user.is_teacher:
            mine = Q(teacher=user)
            if user.school_id:
                mine |= Q(status=Lesson.Status.PUBLISHED, teacher__school_id=user.school_id)
            return self.filter(mine)
        return self.for_students_of(user)


class Lesson(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        PUBLISHED = "published", _("published")

    Language = Language

    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="lessons",
        verbose_name=_("teacher"),
    )
    topic = models.ForeignKey(
        "curriculum.Topic",
        on_delete=models.PROTECT,
        related_name="lessons",
        verbose_name=_("topic"),
    )
    title = models.CharField(_("title"), max_length=300)
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=45)
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.TAJIK
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    classes = models.ManyToManyField(
        "accounts.Classroom", blank=True, related_name="lessons", verbose_name=_("classes")
    )
    copied_from = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="copies",
        verbose_name=_("copied from"),
    )
    #: The textbook passages found for the topic (ids, best first): the builder shows them
    #: and drafting reads them, so a draft does not wait for a search. None: not searched.
    passage_ids = models.JSONField(_("textbook passages"), null=True, blank=True)
    revision = models.PositiveIntegerField(_("revision"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    #: What students read: the snapshot taken when the lesson was last published. The
    #: working copy (the sections) changes with every autosave; students never see it.
    published_version = models.ForeignKey(
        "LessonVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published version"),
    )

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")

    def __str__(self) -> str:
        return self.title

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Audience(models.TextChoices):
    """Who reads a section: the teacher only, or the students too."""

    TEACHER = "teacher", _("teacher only")
    STUDENTS = "students", _("students too")


class LessonSection(models.Model):
    Audience = Audience

    class Kind(models.TextChoices):
        OBJECTIVES = "objectives", _("Lesson objectives")
        PRIOR_KNOWLEDGE = "prior_knowledge", _("Prior knowledge")
        KEY_TERMS = "key_terms", _("Key terms")
        MISCONCEPTIONS = "misconceptions", _("Common misconceptions and how to address them")
        WARM_UP = "warm_up", _("Warm-up")
        NEW_MATERIAL = "new_material", _("New material with explanations")
        WORKED_EXAMPLES = "worked_examples", _("Worked examples")
        CHECKS = "checks", _("Checks for understanding")
        PRACTICE = "practice", _("Practice")
        DIFFERENTIATION = "differentiation", _("Differentiation: support and extension")
        EXIT_TICKET = "exit_ticket", _("Exit ticket")
        HOMEWORK = "homework", _("Homework")
        MATERIALS = "materials", _("Materials")
        TIMED_PLAN = "timed_plan", _("Timed plan")
        CUSTOM = "custom", _("Other section")

    lesson = models.ForeignKey(
        Lesson, on_delete=models.CASCADE, related_name="sections", verbose_name=_("lesson")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices, default=Kind.CUSTOM)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("text"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    #: Teacher only by default: a section students should read is chosen (per kind, see
    #: :func:`default_audience`) or switched in the builder.
    audience = models.CharField(
        _("audience"), max_length=10, choices=Audience.choices, default=Audience.TEACHER
    )
    #: Where the text comes from: ``[{"book", "page", "passage_id"}]``.
    citations = models.JSONField(_("sources"), default=list, blank=True)
    #: False when the text was drafted with no textbook passage behind it.
    is_grounded = models.BooleanField(_("grounded in the textbook"), default=True)
    #: A regenerated text waiting for the teacher to accept or discard it.
    proposal = models.TextField(_("proposed text"), blank=True)
    proposal_citations = models.JSONField(
        _("sources of the proposed text"), default=list, blank=True
    )
    proposal_is_grounded = models.BooleanField(default=True)
    #: False when the proposed text failed the language check: shown with a warning.
    proposal_is_expected_language = models.BooleanField(null=True, blank=True)
    #: Bumped on every save: a save based on an older revision is a conflict, not a loss.
    revision = models.PositiveIntegerField(_("revision"), default=1)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["lesson", "position", "pk"]
        verbose_name = _("lesson section")
        verbose_name_plural = _("lesson sections")

    def __str__(self) -> str:
        return self.title

    @property
    def planned_minutes(self) -> int | None:
        """For the timed plan: the minutes its lines add up to (None for other kinds)."""
        if self.kind != self.Kind.TIMED_PLAN:
            return None
        return sum(int(minutes) for minutes in MINUTES.findall(self.body))


#: The kinds students read by default; the others (timings, misconceptions, differentiation,
#: the teacher's own activities and notes) are for the teacher only.
STUDENT_KINDS = frozenset(
    {
        LessonSection.Kind.OBJECTIVES,
        LessonSection.Kind.KEY_TERMS,
        LessonSection.Kind.NEW_MATERIAL,
        LessonSection.Kind.WORKED_EXAMPLES,
        LessonSection.Kind.PRACTICE,
        LessonSection.Kind.HOMEWORK,
    }
)


def default_audience(kind: str) -> str:
    return Audience.STUDENTS if kind in STUDENT_KINDS else Audience.TEACHER


class LessonVersion(models.Model):
    """A snapshot of a whole lesson (title, duration and sections), for history and restore."""

    lesson = models.ForeignKey(
        Lesson, on_delete=models.CASCADE, related_name="versions", verbose_name=_("lesson")
    )

    class Reason(models.TextChoices):
        CREATED = "created", _("the lesson was created")
        EDITED = "edited", _("edited")
        DRAFTED = "drafted", _("drafted with the model")
        SECTIONS = "sections", _("sections added, removed or moved")
        RESTORED = "restored", _("an earlier version restored")
        COPIED = "copied", _("copied from the school library")
        PUBLISHED = "published", _("published for students")

    snapshot = models.JSONField(_("snapshot"))
    reason = models.CharField(_("reason"), max_length=30, choices=Reason.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("saved"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        verbose_name = _("lesson version")
        verbose_name_plural = _("lesson versions")

    def __str__(self) -> str:
        return f"{self.lesson} @ {self.updated_at:%Y-%m-%d %H:%M}"

    @property
    def section_count(self) -> int:
        return len(self.snapshot.get("sections", []))

    @property
    def word_count(self) -> int:
        return sum(len(s.get("body", "").split()) for s in self.snapshot.get("sections", []))
