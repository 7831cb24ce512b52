"""Batch grading: written assignments, their questions and rubrics, students' answers, the
grades a job proposes, the jobs themselves and an append-only audit trail.

A grade is written once per key (answer, rubric version, grader version): the grading job
can run again after its worker died and never writes a second row for the same answer.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AssignmentQuerySet(models.QuerySet["Assignment"]):
    def taught_by(self, teacher: Any) -> AssignmentQuerySet:
        return self.filter(classroom__teacher=teacher)

    def for_student(self, student: Any) -> AssignmentQuerySet:
        return self.filter(classroom__enrollments__student=student)


class Assignment(models.Model):
    classroom = models.ForeignKey(
        "accounts.Classroom",
        on_delete=models.CASCADE,
        related_name="grading_assignments",
        verbose_name=_("class"),
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="grading_assignments",
        verbose_name=_("teacher"),
    )
    title = models.CharField(_("title"), max_length=200)
    # "exams:<test id>" for the short answers of a class test brought in from exam practice.
    source = models.CharField(_("source"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    released_at = models.DateTimeField(_("grades released"), null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["teacher", "source"],
                condition=~models.Q(source=""),
                name="one_assignment_per_source",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_released(self) -> bool:
        return self.released_at is not None


class Question(models.Model):
    class Kind(models.TextChoices):
        EXACT = "exact", _("exact answer")
        OPEN = "open", _("open answer")

    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="questions", verbose_name=_("assignment")
    )
    number = models.PositiveSmallIntegerField(_("number"))
    text = models.TextField(_("question"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OPEN)
    # Exact questions: accepted answers separated by "|", scored ``points`` or 0.
    expected_answer = models.CharField(_("expected answer"), max_length=300, blank=True)
    points = models.PositiveSmallIntegerField(_("points"), default=1)
    model_answer = models.TextField(_("model answer"), blank=True)

    class Meta:
        ordering = ["assignment", "number"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        constraints = [
            models.UniqueConstraint(fields=["assignment", "number"], name="unique_question_number"),
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.text[:60]}"

    @property
    def is_exact(self) -> bool:
        return self.kind == self.Kind.EXACT


class Rubric(models.Model):
    """One version of a question's rubric. A changed rubric is a new row with the next
    version; grades name the version they were made with."""

    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="rubrics", verbose_name=_("question")
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    # [{"name": "...", "levels": [{"points": 0, "descriptor": "..."}, ...]}, ...]
    criteria = models.JSONField(_("criteria"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["question", "-version"]
        verbose_name = _("rubric")
        verbose_name_plural = _("rubrics")
        constraints = [
            models.UniqueConstraint(fields=["question", "version"], name="unique_rubric_version"),
        ]

    def __str__(self) -> str:
        return f"{self.question} v{self.version}"

    @property
    def max_points(self) -> int:
        return sum(
            max((level["points"] for level in criterion["levels"]), default=0)
            for criterion in self.criteria
        )


class Answer(models.Model):
    class Source(models.TextChoices):
        PLATFORM = "platform", _("submitted in Soro")
        IMPORT = "import", _("imported from a file")
        EXAM = "exam", _("from a class test")

    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="answers", verbose_name=_("assignment")
    )
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, related_name="answers", verbose_name=_("question")
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="grading_answers",
        verbose_name=_("student"),
    )
    text = models.TextField(_("answer"), blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.PLATFORM
    )
    submitted_at = models.DateTimeField(_("submitted"), auto_now=True)

    class Meta:
        ordering = ["question__number", "student__last_name", "student__username"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["question", "student"], name="unique_answer"),
        ]

    def __str__(self) -> str:
        return f"{self.student} · {self.question}"


class Grade(models.Model):
    class Status(models.TextChoices):
        GRADED = "graded", _("graded")
        REVIEW = "review", _("to review")
        FAILED = "failed", _("failed")

    class Reason(models.TextChoices):
        LOW_AGREEMENT = "low_agreement", _("the model's samples disagree")
        NOT_TAJIK = "not_tajik", _("the answer is not in Tajik")
        EMPTY = "empty", _("the answer is empty")
        COPIED = "copied", _("looks copied from another student's answer")
        UNPARSEABLE = "unparseable", _("the model's reply could not be read")
        FEEDBACK_LANGUAGE = "feedback_language", _("the feedback is not in Tajik")

    answer = models.ForeignKey(
        Answer, on_delete=models.CASCADE, related_name="grades", verbose_name=_("answer")
    )
    rubric_version = models.PositiveIntegerField(_("rubric version"), default=0)
    grader_version = models.CharField(_("grader version"), max_length=200)
    is_current = models.BooleanField(_("current"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    scores = models.JSONField(_("points per criterion"), default=list)
    total = models.FloatField(_("points"), default=0.0)
    max_total = models.FloatField(_("out of"), default=0.0)
    feedback = models.TextField(_("feedback"), blank=True)
    agreement = models.FloatField(_("agreement"), null=True, blank=True)
    review_reasons = models.JSONField(_("review reasons"), default=list)
    error = models.TextField(_("error"), blank=True)
    model_version = models.CharField(_("model version"), max_length=200, blank=True)
    prompt_checksum = models.CharField(_("prompt checksum"), max_length=64, blank=True)
    is_teacher_checked = models.BooleanField(_("checked by the teacher"), default=False)
    job = models.ForeignKey(
        "GradingJob",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="grades",
        verbose_name=_("grading job"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["answer", "-created_at"]
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        constraints = [
            models.UniqueConstraint(
                fields=["answer", "rubric_version", "grader_version"], name="unique_grade_key"
            ),
            models.UniqueConstraint(
                fields=["answer"], condition=Q(is_current=True), name="one_current_grade"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.answer} · {self.total}/{self.max_total}"


class GradingJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("finished")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("assignment")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total = models.PositiveIntegerField(_("answers"), default=0)
    graded = models.PositiveIntegerField(_("graded"), default=0)
    review = models.PositiveIntegerField(_("to review"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    samples = models.PositiveSmallIntegerField(_("samples per answer"), default=1)
    is_cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    error = models.TextField(_("error"), blank=True)
    log = models.TextField(_("log"), blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("started by"),
    )
    # The claim and heartbeat of soro_web/jobs.py, as on model runs.
    owner = models.CharField(_("owner"), max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent to the queue"), null=True, blank=True)
    recoveries = models.PositiveSmallIntegerField(_("recoveries"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("grading job")
        verbose_name_plural = _("grading jobs")
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_grading_job",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment} #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def done(self) -> int:
        return self.graded + self.review + self.failed

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("the audit trail is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit trail is append-only")


class AuditEntry(models.Model):
    """One change to grades: who, when, before and after, with the model version and the
    prompt's checksum. Rows are never changed or deleted."""

    class Action(models.TextChoices):
        ACCEPT = "accept", _("accepted")
        EDIT = "edit", _("edited")
        RELEASE = "release", _("released")
        RETRY = "retry", _("failed grades retried")

    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="audit", verbose_name=_("assignment")
    )
    answer = models.ForeignKey(
        Answer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit",
        verbose_name=_("answer"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("who"),
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    before = models.JSONField(_("before"), default=dict)
    after = models.JSONField(_("after"), default=dict)
    model_version = models.CharField(_("model version"), max_length=200, blank=True)
    prompt_checksum = models.CharField(_("prompt checksum"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("the audit trail is append-only")
