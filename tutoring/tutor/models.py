"""Tutor conversations: who talked, about what, with which model; every message with the
passages it cited, its timings and its language check; flags and teachers' notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from soro_web.accounts.models import User


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def owned_by(self, user: User) -> ConversationQuerySet:
        return self.filter(user=user)

    def of_students_taught_by(self, teacher: User) -> ConversationQuerySet:
        """Tutor chats of the students in the teacher's classes."""
        return self.filter(
            kind=Conversation.Kind.TUTOR,
            user__enrollments__classroom__teacher=teacher,
        ).distinct()

    def with_flags(self) -> ConversationQuerySet:
        flagged = Message.objects.filter(conversation=OuterRef("pk"), is_flagged=True)
        return self.annotate(has_flag=Exists(flagged))


class Conversation(models.Model):
    """One chat: a student with the tutor, or a teacher with Soro."""

    class Kind(models.TextChoices):
        TUTOR = "tutor", _("student tutor")
        TEACHER = "teacher", _("teacher chat")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tutor_conversations",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    topic = models.ForeignKey(
        "curriculum.Topic",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("topic"),
    )
    # Features above lessons and exams keep plain references to them (their services decide
    # who may open them), not foreign keys into their tables.
    lesson_id = models.PositiveIntegerField(_("lesson"), null=True, blank=True)
    item_ref = models.CharField(_("practice item"), max_length=80, blank=True)
    title = models.CharField(_("title"), max_length=200, blank=True)
    model_version = models.CharField(_("model version"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [models.Index(fields=["user", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"{self.get_kind_display()} #{self.pk}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", _("user")
        ASSISTANT = "assistant", _("assistant")

    class FlagReason(models.TextChoices):
        SELF_HARM = "self_harm", _("self-harm")
        VIOLENCE = "violence", _("violence")
        ABUSE = "abuse", _("abuse")

    conversation = models.ForeignKey(
        Conversation,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("conversation"),
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    text = models.TextField(_("text"))
    cited_passage_ids = models.JSONField(_("cited passages"), default=list, blank=True)
    hint_level = models.PositiveSmallIntegerField(_("hint level"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=12, blank=True)
    is_expected_language = models.BooleanField(_("in the expected language"), null=True)
    first_piece_seconds = models.FloatField(_("first word after (s)"), null=True, blank=True)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)
    is_flagged = models.BooleanField(_("flagged"), default=False)
    flag_reason = models.CharField(
        _("flag reason"), max_length=20, choices=FlagReason.choices, blank=True
    )
    is_safety_reply = models.BooleanField(_("fixed safety reply"), default=False)
    is_stopped = models.BooleanField(_("stopped"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"


class TeacherNote(models.Model):
    """A teacher's note on a student's chat (the student does not see it)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="notes", verbose_name=_("conversation")
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tutor_notes",
        verbose_name=_("teacher"),
    )
    text = models.TextField(_("note"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("teacher's note")
        verbose_name_plural = _("teachers' notes")

    def __str__(self) -> str:
        return self.text[:40]
