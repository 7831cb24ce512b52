"""Workflows for people and classes. Views, API endpoints and commands call these."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from soro_web.accounts.models import (
    JOIN_CODE_ALPHABET,
    ApiToken,
    Classroom,
    Enrollment,
    JoinFailure,
    School,
    UnlockCode,
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
#: Teachers and staff see the wrong class codes of this many last hours.
JOIN_FAILURE_REPORT_HOURS = 24


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
        # Kept for the teachers' and staff's counts of the last day, at least.
        keep = max(
            timedelta(minutes=settings.SORO_JOIN_FAILURE_WINDOW_MINUTES),
            timedelta(hours=JOIN_FAILURE_REPORT_HOURS),
        )
        JoinFailure.objects.filter(created_at__lt=timezone.now() - keep).delete()


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
    """The class's enrolments, each with ``wrong_codes``: the wrong class codes its student
    typed in the last ``JOIN_FAILURE_REPORT_HOURS`` hours (someone guessing codes)."""
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    since = timezone.now() - timedelta(hours=JOIN_FAILURE_REPORT_HOURS)
    failures = (
        JoinFailure.objects.filter(user=OuterRef("student"), created_at__gte=since)
        .values("user")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return list(
        classroom.enrollments.select_related("student").annotate(
            wrong_codes=Coalesce(Subquery(failures), 0)
        )
    )


def join_failures_by_address(*, limit: int = 20) -> list[dict[str, Any]]:
    """For staff: wrong class codes of the last ``JOIN_FAILURE_REPORT_HOURS`` hours per
    address (most first), with how many of them came from signed-in students and how many
    different students that was."""
    from django.db.models import Count, Q

    since = timezone.now() - timedelta(hours=JOIN_FAILURE_REPORT_HOURS)
    return list(
        JoinFailure.objects.filter(created_at__gte=since)
        .values("address")
        .annotate(
            failures=Count("pk"),
            signed_in=Count("pk", filter=Q(user__isnull=False)),
            students=Count("user", distinct=True),
        )
        .order_by("-failures", "address")[:limit]
    )


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


# --- unlocking a locked sign-in ---------------------------------------------------------------

UNLOCK_CODE_LENGTH = 8


def unlock_code_target(*, by: User, user_id: int) -> User:
    """The person ``by`` may make an unlock code for: staff anyone, a teacher a student of
    one of their classes. Http404 for anyone else (their existence is not revealed)."""
    from django.http import Http404

    queryset = User.objects.filter(pk=user_id, is_active=True)
    if not by.is_staff:
        if not by.is_teacher:
            raise PermissionDenied(_("Only teachers and administrators make unlock codes."))
        queryset = queryset.filter(
            role=User.Role.STUDENT, is_staff=False, enrollments__classroom__teacher=by
        )
    user = queryset.distinct().first()
    if user is None:
        raise Http404(_("No such student, or not in your classes."))
    return user


@transaction.atomic
def unlock_code_create(*, by: User, user: User) -> tuple[UnlockCode, str]:
    """A one-time code that unlocks ``user``'s sign-in; the plain code is returned once and
    only its hash is stored. A new code replaces the person's earlier unused ones."""
    target = unlock_code_target(by=by, user_id=user.pk)
    code = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(UNLOCK_CODE_LENGTH))
    UnlockCode.objects.filter(user=target, used_at__isnull=True).delete()
    unlock = UnlockCode.objects.create(
        user=target,
        created_by=by,
        code_hash=make_password(code),
        expires_at=timezone.now() + timedelta(minutes=settings.SORO_UNLOCK_CODE_MINUTES),
    )
    return unlock, f"{code[:4]}-{code[4:]}"


def account_unlock(*, request: HttpRequest, username: str, code: str) -> User:
    """Lift the sign-in lockout of ``username`` with a teacher's one-time code.

    A wrong, used or expired code counts as a failed sign-in of ``username`` from the
    request's address (django-axes counts it, so guessing codes locks like guessing
    passwords), and after ``UNLOCK_CODE_TRIES`` wrong codes beyond the lockout the address
    may not try again until the cool-off ends. ``request`` is the sign-in request axes
    counts against."""
    from axes.utils import reset

    from soro_web.accounts.lockout import unlock_tries_left

    username = (username or "").strip()
    if not unlock_tries_left(request, username):
        raise ValidationError(
            _("Too many wrong unlock codes. Wait %(minutes)d minutes.")
            % {"minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)},
            code="too_many_attempts",
        )
    plain = normalize_join_code(code or "")
    user = User.objects.filter(username=username, is_active=True).first()
    candidates = list(UnlockCode.objects.usable().filter(user=user)) if user else []
    match = next((c for c in candidates if check_password(plain, c.code_hash)), None)
    with transaction.atomic():
        used = (
            match is not None
            and UnlockCode.objects.usable().filter(pk=match.pk).update(used_at=timezone.now()) == 1
        )
        if used:
            reset(username=username)
    if not used or user is None:
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        raise ValidationError(
            _(
                "This unlock code is wrong, used or expired. Check it, or ask your teacher "
                "for a new one."
            ),
            code="wrong_unlock_code",
        )
    return user
