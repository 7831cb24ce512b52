"""Demo data in Tajik: one school, two teachers, their classes and students, an administrator,
and a written assignment with 30 answers to grade.

Used by ``manage.py seed_demo`` and the README's run command. Safe to run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from soro_web.accounts.models import Classroom, Enrollment, School, User
from soro_web.curriculum.models import Grade, Subject
from soro_web.curriculum.services import DEMO_CURRICULUM, curriculum_import_file
from soro_web.grading.services.demo import demo_spec, grading_demo_seed

# Demo accounts only: printed on the console of the machine that seeded them.
DEMO_PASSWORD = "soro-demo-2026"

SCHOOL = {"name": "Мактаби миёнаи №1, ш. Душанбе", "city": "Душанбе"}
OTHER_SCHOOL = {"name": "Литсейи №2, ш. Хуҷанд", "city": "Хуҷанд"}

TEACHERS = [
    # username, first name, last name, school key
    ("muallim", "Фарзона", "Раҳимова", "main"),
    ("sharifov", "Далер", "Шарифов", "main"),
    ("nazarova", "Мавҷуда", "Назарова", "other"),
]

CLASSES = [
    # teacher, class name, subject code, grade, fixed join code
    ("muallim", "7А — Математика", "math", 7, "MATH7A"),
    ("muallim", "9Б — Математика", "math", 9, "MATH9B"),
    ("sharifov", "11А — Таърих", "history", 11, "HIST11"),
    ("nazarova", "8В — Забони тоҷикӣ", "tajik", 8, "TAJ8VV"),
]

STUDENTS = [
    # username, first name, last name, classes
    ("shogird", "Меҳрона", "Қодирова", ["MATH7A"]),
    ("firuz", "Фирӯз", "Ҷӯраев", ["MATH7A"]),
    ("nilufar", "Нилуфар", "Ғафурова", ["MATH7A"]),
    ("rustam", "Рустам", "Ҳакимов", ["MATH9B"]),
    ("sitora", "Ситора", "Баротова", ["MATH9B", "HIST11"]),
    ("bakhtiyor", "Бахтиёр", "Умаров", ["HIST11"]),
    ("zarina", "Зарина", "Исмоилова", ["TAJ8VV"]),
]


@dataclass
class DemoReport:
    created: int = 0
    logins: list[tuple[str, str]] = field(default_factory=list)


def _user(username: str, *, report: DemoReport, **fields) -> User:  # type: ignore[no-untyped-def]
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, **fields)
        user.set_password(DEMO_PASSWORD)
        user.save()
        report.created += 1
    return user


def demo_accounts_with_published_password() -> list[str]:
    """Usernames that still sign in with the demo password printed in the README.

    Fine on 127.0.0.1; on an address other machines reach, anyone could sign in as staff."""
    usernames = ["admin", *(username for username, *_rest in TEACHERS)]
    usernames += [username for username, *_rest in STUDENTS]
    return [
        user.username
        for user in User.objects.filter(username__in=usernames, is_active=True)
        if user.check_password(DEMO_PASSWORD)
    ]


@transaction.atomic
def demo_seed() -> DemoReport:
    """Create what is missing of the demo data; leave what exists alone."""
    report = DemoReport()
    if not Subject.objects.filter(code="math").exists():
        curriculum_import_file(path=DEMO_CURRICULUM)
    schools = {}
    for key, values in (("main", SCHOOL), ("other", OTHER_SCHOOL)):
        schools[key], created = School.objects.get_or_create(
            name=values["name"], defaults={"city": values["city"]}
        )
        report.created += int(created)

    admin = _user(
        "admin",
        report=report,
        first_name="Маъмур",
        last_name="Системавӣ",
        role=User.Role.TEACHER,
        is_staff=True,
        is_superuser=True,
    )
    report.logins.append((admin.username, "администратор / administrator"))
    teachers = {}
    for username, first, last, school_key in TEACHERS:
        teachers[username] = _user(
            username,
            report=report,
            first_name=first,
            last_name=last,
            role=User.Role.TEACHER,
            school=schools[school_key],
        )
        report.logins.append((username, f"муаллим, {first} {last} ({schools[school_key].name})"))

    classes = {}
    for teacher, name, subject, grade, code in CLASSES:
        classroom = Classroom.objects.filter(join_code=code).first()
        if classroom is None:
            classroom = Classroom.objects.create(
                school=schools[next(k for u, _f, _l, k in TEACHERS if u == teacher)],
                teacher=teachers[teacher],
                name=name,
                subject=Subject.objects.get(code=subject),
                grade=Grade.objects.get(number=grade),
                join_code=code,
            )
            report.created += 1
        classes[code] = classroom

    for username, first, last, codes in STUDENTS:
        student = _user(
            username,
            report=report,
            first_name=first,
            last_name=last,
            role=User.Role.STUDENT,
            school=classes[codes[0]].school,
        )
        for code in codes:
            _enrollment, created = Enrollment.objects.get_or_create(
                classroom=classes[code], student=student
            )
            report.created += int(created)
        report.logins.append((username, f"хонанда, {first} {last} ({', '.join(codes)})"))

    # Batch grading: a written history assignment with 30 answers of ten more students.
    if grading_demo_seed(classroom=classes["HIST11"], password=DEMO_PASSWORD):
        report.created += 1
    graders = ", ".join(username for username, _first, _last in demo_spec()["students"][:3])
    report.logins.append((graders, "… хонандагони 11А бо кори хаттӣ (баҳогузорӣ)"))
    return report
