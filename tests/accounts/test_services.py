from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from soro_web.accounts import services
from soro_web.accounts.models import Classroom, Enrollment, User
from tests.conftest import People
from tests.factories import GradeFactory, SchoolFactory, SubjectFactory


def test_student_sign_up_creates_the_student_and_enrols_them(people: People) -> None:
    code = people.classroom.join_code
    student = services.student_sign_up(
        username="mehrona",
        password="tajik-letters-2026",
        first_name="Меҳрона",
        last_name="Қодирова",
        join_code=f" {code.lower()} ",
    )
    assert student.role == User.Role.STUDENT
    assert student.school_id == people.classroom.school_id
    assert student.check_password("tajik-letters-2026")
    assert list(
        Enrollment.objects.filter(student=student).values_list("classroom_id", flat=True)
    ) == [people.classroom.pk]


@pytest.mark.parametrize(("code", "error_code"), [("ZZZZZZ", "unknown_code"), ("", "empty")])
def test_wrong_join_code_writes_nothing(people: People, code: str, error_code: str) -> None:
    users_before = User.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.student_sign_up(
            username="new",
            password="tajik-letters-2026",
            first_name="Н",
            last_name="Н",
            join_code=code,
        )
    assert caught.value.error_dict["join_code"][0].code == error_code
    assert User.objects.count() == users_before


def test_expired_join_code_is_refused_with_its_reason(people: People, settings) -> None:
    Classroom.objects.filter(pk=people.classroom.pk).update(
        join_code_created_at=timezone.now() - timedelta(days=settings.SORO_JOIN_CODE_DAYS + 1)
    )
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        services.student_sign_up(
            username="late",
            password="tajik-letters-2026",
            first_name="Н",
            last_name="Н",
            join_code=people.classroom.join_code,
        )
    assert caught.value.error_dict["join_code"][0].code == "expired_code"
    assert "expired" in caught.value.messages[0]
    assert not User.objects.filter(username="late").exists()


def test_duplicate_username_is_refused_case_insensitively(people: People) -> None:
    with pytest.raises(ValidationError) as caught:
        services.student_sign_up(
            username="STUDENT",
            password="tajik-letters-2026",
            first_name="Н",
            last_name="Н",
            join_code=people.classroom.join_code,
        )
    assert "username" in caught.value.message_dict
    assert people.classroom.enrollments.count() == 1


def test_weak_password_is_refused(people: People) -> None:
    with pytest.raises(ValidationError) as caught:
        services.student_sign_up(
            username="new",
            password="123",
            first_name="Н",
            last_name="Н",
            join_code=people.classroom.join_code,
        )
    assert "password" in caught.value.message_dict
    assert not User.objects.filter(username="new").exists()


def test_joining_twice_changes_nothing(people: People) -> None:
    first = services.classroom_join(
        student=people.student_other, join_code=people.classroom.join_code
    )
    second = services.classroom_join(
        student=people.student_other, join_code=people.classroom.join_code
    )
    assert first.pk == second.pk
    assert people.classroom.enrollments.count() == 2


def test_teachers_cannot_join_classes(people: People) -> None:
    with pytest.raises(PermissionDenied):
        services.classroom_join(student=people.teacher, join_code=people.classroom.join_code)


def test_classroom_create_in_the_teachers_school(people: People) -> None:
    classroom = services.classroom_create(
        teacher=people.teacher, name="9Б", subject=SubjectFactory(), grade=GradeFactory(number=9)
    )
    assert classroom.school_id == people.teacher.school_id
    assert len(classroom.join_code) == 6
    assert classroom.is_join_code_valid()


def test_classroom_names_are_unique_per_teacher(people: People) -> None:
    with pytest.raises(ValidationError) as caught:
        services.classroom_create(
            teacher=people.teacher, name="7А", subject=SubjectFactory(), grade=GradeFactory()
        )
    assert "name" in caught.value.message_dict


def test_students_cannot_create_classes(people: People) -> None:
    with pytest.raises(PermissionDenied):
        services.classroom_create(
            teacher=people.student, name="X", subject=SubjectFactory(), grade=GradeFactory()
        )


def test_regenerated_code_replaces_the_old_one(people: People) -> None:
    old = people.classroom.join_code
    services.classroom_regenerate_join_code(classroom=people.classroom)
    assert people.classroom.join_code != old
    with pytest.raises(ValidationError):
        services.classroom_find_by_join_code(join_code=old)
    assert (
        services.classroom_find_by_join_code(join_code=people.classroom.join_code).pk
        == people.classroom.pk
    )


def test_only_staff_create_teachers(people: People) -> None:
    school = SchoolFactory()
    with pytest.raises(PermissionDenied):
        services.teacher_create(
            created_by=people.teacher,
            username="t2",
            password="tajik-letters-2026",
            first_name="А",
            last_name="Б",
            school=school,
        )
    teacher = services.teacher_create(
        created_by=people.staff,
        username="t2",
        password="tajik-letters-2026",
        first_name="А",
        last_name="Б",
        school=school,
    )
    assert teacher.is_teacher and teacher.school == school


def test_api_tokens_are_stored_hashed_and_authenticate(people: People) -> None:
    token, key = services.api_token_create(user=people.teacher)
    assert key not in token.key_hash
    assert services.api_token_authenticate(key=key) == people.teacher
    assert services.api_token_authenticate(key=key + "x") is None
    token.revoked_at = timezone.now()
    token.save()
    assert services.api_token_authenticate(key=key) is None


def test_guessing_class_codes_is_stopped_per_student_and_generously_per_address(
    people: People, settings
) -> None:  # type: ignore[no-untyped-def]
    from soro_web.accounts.models import JoinFailure
    from tests.factories import StudentFactory

    settings.SORO_JOIN_FAILURES_PER_USER = 3
    settings.SORO_JOIN_FAILURES_PER_ADDRESS = 5
    student = StudentFactory()
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC"):
        with pytest.raises(ValidationError) as caught:
            services.classroom_join(student=student, join_code=guess, address="10.0.0.1")
        assert caught.value.error_dict["join_code"][0].code == "unknown_code"
        assert guess not in str(caught.value)  # the guess is never repeated back
    # The fourth try is refused even with the right code, and says how long to wait.
    with pytest.raises(ValidationError) as caught:
        services.classroom_join(
            student=student, join_code=people.classroom.join_code, address="10.0.0.1"
        )
    assert caught.value.error_dict["join_code"][0].code == "too_many_attempts"
    assert not student.enrollments.exists()
    # Another pupil of the same school (same address) still gets in ...
    other = StudentFactory()
    services.classroom_join(student=other, join_code=people.classroom.join_code, address="10.0.0.1")
    # ... until the address as a whole has made too many wrong guesses (sign-up included).
    for guess in ("DDDDDD", "EEEEEE"):
        with pytest.raises(ValidationError):
            services.student_sign_up(
                username=f"pupil-{guess}",
                password="tajik-letters-2026",
                first_name="Ном",
                last_name="Насаб",
                join_code=guess,
                address="10.0.0.1",
            )
    assert JoinFailure.objects.filter(address="10.0.0.1").count() == 5
    with pytest.raises(ValidationError) as caught:
        services.classroom_join(
            student=StudentFactory(), join_code=people.classroom.join_code, address="10.0.0.1"
        )
    assert caught.value.error_dict["join_code"][0].code == "too_many_attempts"
    # Other addresses are not affected; the window passes.
    services.classroom_join(
        student=StudentFactory(), join_code=people.classroom.join_code, address="10.0.0.2"
    )
    JoinFailure.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    services.classroom_join(
        student=student, join_code=people.classroom.join_code, address="10.0.0.1"
    )
    assert student.enrollments.count() == 1


def test_teachers_see_their_students_wrong_codes_and_staff_the_totals_per_address(
    people: People,
) -> None:
    from django.urls import reverse

    from soro_web.accounts.models import JoinFailure
    from tests.conftest import client_for

    def guess(student, address: str) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ValidationError):
            services.classroom_join(student=student, join_code="ZZZZZZ", address=address)

    # Older than a day: not counted, and removed at the next wrong code.
    old = JoinFailure.objects.create(user=people.student, address="10.0.0.1")
    JoinFailure.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    for _try in range(3):
        guess(people.student, "10.0.0.1")
    guess(people.student_other, "10.0.0.1")  # another teacher's student
    with pytest.raises(ValidationError):
        services.student_sign_up(
            username="x",
            password="tajik-letters-2026",
            first_name="Х",
            last_name="Х",
            join_code="ZZZZZZ",
            address="10.0.0.2",
        )

    roster = services.classroom_roster(classroom=people.classroom)
    assert [(e.student.username, e.wrong_codes) for e in roster] == [("student", 3)]
    page = client_for(people.teacher).get(
        reverse("accounts:classroom_detail", args=[people.classroom.pk])
    )
    assert '<td class="wrong-codes"><strong>3</strong></td>' in page.content.decode()

    assert services.join_failures_by_address() == [
        {"address": "10.0.0.1", "failures": 4, "signed_in": 4, "students": 2},
        {"address": "10.0.0.2", "failures": 1, "signed_in": 0, "students": 0},
    ]
    staff_page = client_for(people.staff).get(reverse("accounts:teacher_list")).content.decode()
    assert "<td>10.0.0.1</td><td>4</td><td>4</td><td>2</td>" in staff_page
    assert not JoinFailure.objects.filter(pk=old.pk).exists()
