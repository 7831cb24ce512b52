"""Workflows for people and classes. Views, API endpoints and commands call these."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from soro_web.accounts.models import (
    ApiToken,
    Classroom,
    Enrollment,
    JoinFailure,
    School,
    User,
    new_join_code,
    normalize_join_code,
)
from soro_web.curriculum.models import Grade, Subject


def classroom_find_by_join_code(*, join_code: str) -> Classroom:
    """The class a join code opens, or a ValidationError on ``join_code`` saying why not.

    The message never repeats the code typed: a page that echoes guesses helps guessing."""
    code = normalize_join_code(join_code or "")
    if not code:
        raise _join_code_error(_("Enter the class code your teacher gave you."), "empty")
    classroom = Classroom.objects.select_related("school").filter(join_code=code).first()
    if classroom is None:
        raise _join_code_error(
            _("No class has this code. Check the code with your teacher."), "unknown_code"
        )
    if not classroom.is_join_code_valid():
        raise _join_code_error(
            _("This class code has expired. Ask your teacher for a new one."), "expired_code"
        )
    return classroom


WRONG_CODES = {"unknown_code", "expired_code"}


def _join_failures_since(*, user: User | None, address: str | None) -> tuple[int, int]:
    since = timezone.now() - timedelta(minutes=settings.SORO_JOIN_FAILURE_WINDOW_MINUTES)
    recent = JoinFailure.objects.filter(created_at__gte=since)
    by_user = recent.filter(user=user).count() if user is not None else 0
    by_address = recent.filter(address=address).count() if address else 0
    return by_user, by_address


def join_attempt_check(*, user: User | None, address: str | None) -> None:
    """Refuse another try after too many wrong class codes: strictly per signed-in user,
    generously per address (a whole school shares one address behind NAT)."""
    by_user, by_address = _join_failures_since(user=user, address=address)
    if (
        by_user >= settings.SORO_JOIN_FAILURES_PER_USER
        or by_address >= settings.SORO_JOIN_FAILURES_PER_ADDRESS
    ):
        raise _join_code_error(
            _(
                "Too many wrong class codes. Wait %(minutes)d minutes, or ask your teacher for "
                "the class link."
            )
            % {"minutes": settings.SORO_JOIN_FAILURE_WINDOW_MINUTES},
            "too_many_attempts",
        )


def _join_failure_record(error: ValidationError, *, user: User | None, address: str | None) -> None:
    codes = {e.code for errors in getattr(error, "error_dict", {}).values() for e in errors}
    if codes & WRONG_CODES:
        JoinFailure.objects.create(user=user, address=address or None)
        cutoff = timezone.now() - timedelta(minutes=settings.SORO_JOIN_FAILURE_WINDOW_MINUTES)
        JoinFailure.objects.filter(created_at__lt=cutoff).delete()


def _join_code_error(message: str, code: str) -> ValidationError:
    return ValidationError({"join_code": ValidationError(message, code=code)})


def _check_username_free(username: str) -> None:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(
            {
                "username": _("The username %(username)s is taken. Choose another one.")
                % {"username": username}
            },
            code="duplicate_username",
        )


def _create_user(
    *,
    username: str,
    password: str,
    first_name: str,
    last_name: str,
    role: str,
    school: School | None,
) -> User:
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("Choose a username.")}, code="required")
    _check_username_free(username)
    user = User(
        username=username,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        role=role,
        school=school,
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}, code="weak_password") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Two sign-ups with the same name at the same moment: the database decides.
        raise ValidationError(
            {
                "username": _("The username %(username)s is taken. Choose another one.")
                % {"username": username}
            },
            code="duplicate_username",
        ) from None
    return user


def student_sign_up(
    *,
    username: str,
    password: str,
    first_name: str,
    last_name: str,
    join_code: str,
    address: str | None = None,
) -> User:
    """Create a student account and enrol it in the class the join code opens. Too many
    wrong codes from ``address`` are refused (``join_attempt_check``)."""
    join_attempt_check(user=None, address=address)
    try:
        return _student_sign_up(
            username=username,
            password=password,
            first_name=first_name,
            last_name=last_name,
            join_code=join_code,
        )
    except ValidationError as error:
        _join_failure_record(error, user=None, address=address)
        raise


@transaction.atomic
def _student_sign_up(
    *, username: str, password: str, first_name: str, last_name: str, join_code: str
) -> User:
    classroom = classroom_find_by_join_code(join_code=join_code)
    student = _create_user(
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name,
        role=User.Role.STUDENT,
        school=classroom.school,
    )
    Enrollment.objects.create(classroom=classroom, student=student)
    return student


def classroom_join(*, student: User, join_code: str, address: str | None = None) -> Enrollment:
    """Enrol an existing student in another class. Joining twice changes nothing. Too many
    wrong codes by the student (or from ``address``) are refused for a while."""
    if not student.is_student:
        raise PermissionDenied(_("Only students can join a class with a code."))
    join_attempt_check(user=student, address=address)
    try:
        return _classroom_join(student=student, join_code=join_code)
    except ValidationError as error:
        _join_failure_record(error, user=student, address=address)
        raise


@transaction.atomic
def _classroom_join(*, student: User, join_code: str) -> Enrollment:
    classroom = classroom_find_by_join_code(join_code=join_code)
    enrollment, _created = Enrollment.objects.get_or_create(classroom=classroom, student=student)
    if student.school_id is None:
        student.school = classroom.school
        student.save(update_fields=["school"])
    return enrollment


@transaction.atomic
def classroom_create(*, teacher: User, name: str, subject: Subject, grade: Grade) -> Classroom:
    """A teacher opens a new class in their school."""
    if not teacher.is_teacher:
        raise PermissionDenied(_("Only teachers can create classes."))
    if teacher.school_id is None:
        raise ValidationError(
            _("Your account has no school yet. Ask an administrator to add you to one."),
            code="no_school",
        )
    name = (name or "").strip()
    if not name:
        raise ValidationError(
            {"name": _("Give the class a name, for example 7А.")}, code="required"
        )
    if Classroom.objects.filter(teacher=teacher, name=name).exists():
        raise ValidationError(
            {"name": _("You already have a class called %(name)s.") % {"name": name}},
            code="duplicate_name",
        )
    return Classroom.objects.create(
        school_id=teacher.school_id,
        teacher=teacher,
        name=name,
        subject=subject,
        grade=grade,
        join_code=_unused_join_code(),
    )


def classroom_create_by_code(
    *, teacher: User, name: str, subject_code: str, grade_number: int
) -> Classroom:
    """:func:`classroom_create` for a subject and grade given by code and number (the API)."""
    if not teacher.is_teacher:
        raise PermissionDenied(_("Only teachers can create classes."))
    subject = Subject.objects.filter(code=subject_code).first()
    grade = Grade.objects.filter(number=grade_number).first()
    if subject is None or grade is None:
        raise ValidationError(_("Unknown subject or grade."), code="unknown_curriculum")
    return classroom_create(teacher=teacher, name=name, subject=subject, grade=grade)


def _unused_join_code() -> str:
    for _attempt in range(20):
        code = new_join_code()
        if not Classroom.objects.filter(join_code=code).exists():
            return code
    raise RuntimeError("Could not find an unused join code after 20 tries.")


@transaction.atomic
def classroom_regenerate_join_code(*, classroom: Classroom) -> Classroom:
    """Give the class a new code; the old one stops working at once."""
    classroom.join_code = _unused_join_code()
    classroom.join_code_created_at = timezone.now()
    classroom.save(update_fields=["join_code", "join_code_created_at"])
    return classroom


@transaction.atomic
def teacher_create(
    *,
    created_by: User,
    username: str,
    password: str,
    first_name: str,
    last_name: str,
    school: School,
) -> User:
    """An administrator adds a teacher to a school."""
    if not created_by.is_staff:
        raise PermissionDenied(_("Only administrators can add teachers."))
    return _create_user(
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name,
        role=User.Role.TEACHER,
        school=school,
    )


@transaction.atomic
def api_token_create(*, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """A new bearer token. The plain key is returned once and never stored."""
    key = "soro_" + secrets.token_urlsafe(32)
    days = settings.SORO_API_TOKEN_DAYS
    token = ApiToken.objects.create(
        user=user,
        name=name[:100] or "api",
        key_hash=ApiToken.hash_key(key),
        prefix=key[5:13],
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    return token, key


def api_tokens_of(*, user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(ApiToken.objects.active().filter(user=user))


def api_token_revoke(*, user: User, pk: int) -> None:
    """Revoke one of the user's own tokens; Http404 for any other."""
    from django.http import Http404

    if not ApiToken.objects.active().filter(user=user, pk=pk).update(revoked_at=timezone.now()):
        raise Http404(_("No such token, or it is not yours."))


def api_token_authenticate(*, key: str) -> User | None:
    """The active user a bearer key belongs to, or None."""
    if not key or not key.startswith("soro_"):
        return None
    token = (
        ApiToken.objects.active()
        .select_related("user")
        .filter(key_hash=ApiToken.hash_key(key))
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def classroom_get_for_teacher(*, user: User, pk: int) -> Classroom:
    """A class the user may manage (its teacher, or staff), or Http404."""
    from django.http import Http404

    queryset = Classroom.objects.select_related("school", "subject", "grade", "teacher")
    if not user.is_staff:
        queryset = queryset.taught_by(user)
    classroom = queryset.filter(pk=pk).first()
    if classroom is None:
        raise Http404(_("No such class, or it is not yours."))
    return classroom


def classroom_roster(*, classroom: Classroom) -> list[Enrollment]:
    return list(classroom.enrollments.select_related("student"))


def classrooms_for_user(*, user: User) -> list[Classroom]:
    from django.db.models import Count

    return list(
        Classroom.objects.visible_to(user)
        .select_related("subject", "grade", "teacher")
        .annotate(student_count=Count("enrollments"))
    )


def teachers_list() -> list[User]:
    return list(
        User.objects.filter(role=User.Role.TEACHER)
        .select_related("school")
        .order_by("school__name", "last_name", "first_name")
    )
