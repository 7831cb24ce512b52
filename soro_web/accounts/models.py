"""People, schools and classes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# No 0/O, 1/I/L: pupils copy codes from a blackboard onto phones.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 6


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalize_join_code(code: str) -> str:
    return "".join(code.split()).upper().replace("-", "")


class School(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    city = models.CharField(_("city or district"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("school")
        verbose_name_plural = _("schools")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person using Soro. Staff (``is_staff``) are administrators, whatever their role."""

    class Role(models.TextChoices):
        STUDENT = "student", _("student")
        TEACHER = "teacher", _("teacher")

    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STUDENT)
    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("school"),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_teacher(self) -> bool:
        # Staff are administrators: they manage the platform, not classes of their own.
        return self.role == self.Role.TEACHER and not self.is_staff

    @property
    def is_student(self) -> bool:
        return self.role == self.Role.STUDENT and not self.is_staff

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # AbstractBaseUser.set_password keeps the raw password here until the next save.
        password_changed = getattr(self, "_password", None) is not None and self.pk is not None
        super().save(*args, **kwargs)
        if password_changed:
            # A new password ends every API session of the old one.
            self.api_tokens.active().update(revoked_at=timezone.now())


class ClassroomQuerySet(models.QuerySet["Classroom"]):
    def taught_by(self, teacher: User) -> ClassroomQuerySet:
        return self.filter(teacher=teacher)

    def attended_by(self, student: User) -> ClassroomQuerySet:
        return self.filter(enrollments__student=student)

    def visible_to(self, user: User) -> ClassroomQuerySet:
        if user.is_staff:
            return self.all()
        if user.is_teacher:
            return self.taught_by(user)
        return self.attended_by(user)


class Classroom(models.Model):
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="classrooms", verbose_name=_("school")
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="classrooms_taught",
        verbose_name=_("teacher"),
    )
    name = models.CharField(_("name"), max_length=120)
    subject = models.ForeignKey(
        "curriculum.Subject",
        on_delete=models.PROTECT,
        related_name="classrooms",
        verbose_name=_("subject"),
    )
    grade = models.ForeignKey(
        "curriculum.Grade",
        on_delete=models.PROTECT,
        related_name="classrooms",
        verbose_name=_("grade"),
    )
    join_code = models.CharField(_("join code"), max_length=12, unique=True, default=new_join_code)
    join_code_created_at = models.DateTimeField(_("join code created"), default=timezone.now)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ClassroomQuerySet.as_manager()

    class Meta:
        ordering = ["grade__number", "name"]
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        constraints = [
            models.UniqueConstraint(
                fields=["teacher", "name"], name="unique_class_name_per_teacher"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def join_code_expires_at(self):
        return self.join_code_created_at + timedelta(days=settings.SORO_JOIN_CODE_DAYS)

    def is_join_code_valid(self, at=None) -> bool:
        return (at or timezone.now()) < self.join_code_expires_at


class Enrollment(models.Model):
    classroom = models.ForeignKey(
        Classroom, on_delete=models.CASCADE, related_name="enrollments", verbose_name=_("class")
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="enrollments",
        verbose_name=_("student"),
    )
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        ordering = ["student__last_name", "student__first_name"]
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(fields=["classroom", "student"], name="unique_enrollment"),
        ]

    def __str__(self) -> str:
        return f"{self.student} → {self.classroom}"


class JoinFailure(models.Model):
    """A wrong or expired class code, kept for a while to stop codes being guessed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("wrong class code")
        verbose_name_plural = _("wrong class codes")

    def __str__(self) -> str:
        return f"{self.user_id or self.address} {self.created_at:%Y-%m-%d %H:%M}"


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=timezone.now())
        )


class ApiToken(models.Model):
    """A bearer token for API clients. Only the SHA-256 of the token is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100, default="api")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.user} {self.prefix}…"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class UnlockCodeQuerySet(models.QuerySet["UnlockCode"]):
    def usable(self) -> UnlockCodeQuerySet:
        return self.filter(used_at__isnull=True, expires_at__gt=timezone.now())


class UnlockCode(models.Model):
    """A one-time code a teacher gives a locked-out student (staff: anyone) to unlock their
    sign-in. Shown once when made; only its password hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="unlock_codes",
        verbose_name=_("user"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("created by"),
    )
    code_hash = models.CharField(max_length=128, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    objects = UnlockCodeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("unlock code")
        verbose_name_plural = _("unlock codes")

    def __str__(self) -> str:
        return f"{self.user} {self.created_at:%Y-%m-%d %H:%M}"
