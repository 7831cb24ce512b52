"""Assignments, their questions and rubrics, and students' answers (typed in Soro or imported
from a CSV/XLSX file)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils.translation import gettext as _

from soro_web.accounts.models import Classroom
from soro_web.grading.models import Answer, Assignment, Grade, Question, Rubric

if TYPE_CHECKING:
    from soro_web.accounts.models import User

#: The largest answers file accepted.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
#: The columns an answers file must have (first row), in any order.
IMPORT_COLUMNS = ("student", "question", "answer")
#: Tajik and Russian column names accepted as well.
COLUMN_ALIASES = {
    "хонанда": "student",
    "ученик": "student",
    "савол": "question",
    "вопрос": "question",
    "ҷавоб": "answer",
    "ответ": "answer",
}
_LEVEL = re.compile(r"^\s*(\d+)\s*(?:—|–|-|:|=)\s*(.+?)\s*$")


# --- reading ---------------------------------------------------------------------------------


def assignments_for_user(*, user: User) -> list[Assignment]:
    """A teacher's assignments (staff: all); a student's assignments in their classes."""
    queryset = Assignment.objects.select_related("classroom")
    if user.is_staff:
        pass
    elif user.is_teacher:
        queryset = queryset.taught_by(user)
    else:
        queryset = queryset.for_student(user)
    return list(queryset.distinct())


def assignment_get_for_teacher(*, user: User, pk: int) -> Assignment:
    """An assignment of the teacher's own class, or Http404."""
    assignment = (
        Assignment.objects.select_related("classroom", "teacher")
        .filter(pk=pk, classroom__teacher=user)
        .first()
    )
    if assignment is None:
        raise Http404(_("No such assignment, or it is not yours."))
    return assignment


def assignment_get_for_student(*, user: User, pk: int) -> Assignment:
    """An assignment of one of the student's classes, or Http404."""
    assignment = (
        Assignment.objects.select_related("classroom")
        .for_student(user)
        .filter(pk=pk)
        .distinct()
        .first()
    )
    if assignment is None:
        raise Http404(_("No such assignment in your classes."))
    return assignment


def classes_for_teacher(*, user: User) -> list[Classroom]:
    return list(Classroom.objects.taught_by(user).select_related("subject", "grade"))


def current_rubric(question: Question) -> Rubric | None:
    return question.rubrics.order_by("-version").first()


def assignment_questions(*, assignment: Assignment) -> list[dict[str, Any]]:
    """The questions with their current rubric, in order."""
    questions = list(assignment.questions.prefetch_related("rubrics"))
    return [
        {
            "question": question,
            "rubric": max(question.rubrics.all(), key=lambda r: r.version, default=None),
        }
        for question in questions
    ]


# --- creating --------------------------------------------------------------------------------


def assignment_create(*, teacher: User, classroom: Classroom, title: str) -> Assignment:
    """A new assignment for one of the teacher's classes."""
    if classroom.teacher_id != teacher.pk:
        raise ValidationError({"classroom": _("You can only set work for your own classes.")})
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("Give the assignment a title.")})
    return Assignment.objects.create(classroom=classroom, teacher=teacher, title=title)


@dataclass(frozen=True)
class CriterionIn:
    name: str
    levels: tuple[tuple[int, str], ...]


def rubric_parse(text: str) -> list[CriterionIn]:
    """Read a rubric written one criterion per line: ``Name: 0 — descriptor; 1 — …``.
    Raises ValidationError naming the line when a criterion has no levels or a level has no
    points."""
    criteria: list[CriterionIn] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, separator, rest = line.partition(":")
        if not separator or not name.strip():
            raise ValidationError(
                _("Rubric line %(line)s: write the criterion's name, a colon, then its levels.")
                % {"line": number}
            )
        levels: list[tuple[int, str]] = []
        for part in rest.split(";"):
            if not part.strip():
                continue
            match = _LEVEL.match(part)
            if not match:
                raise ValidationError(
                    _(
                        "Rubric line %(line)s: each level is points, a dash and a descriptor, "
                        "for example “2 — complete and correct”."
                    )
                    % {"line": number}
                )
            levels.append((int(match.group(1)), match.group(2)))
        criteria.append(CriterionIn(name=name.strip(), levels=tuple(levels)))
    return criteria


def _check_criteria(criteria: list[CriterionIn]) -> None:
    if not criteria:
        raise ValidationError(
            {"rubric": _("An open question needs a rubric with at least one criterion.")}
        )
    for criterion in criteria:
        if not criterion.levels:
            raise ValidationError(
                {
                    "rubric": _(
                        "The criterion “%(name)s” has no levels. Give each criterion at least "
                        "two levels with points and a descriptor."
                    )
                    % {"name": criterion.name}
                }
            )
        if len(criterion.levels) < 2:
            raise ValidationError(
                {
                    "rubric": _("The criterion “%(name)s” needs at least two levels.")
                    % {"name": criterion.name}
                }
            )
        points = [points for points, _descriptor in criterion.levels]
        if len(set(points)) != len(points):
            raise ValidationError(
                {
                    "rubric": _("The criterion “%(name)s” gives the same points twice.")
                    % {"name": criterion.name}
                }
            )


def _criteria_json(criteria: list[CriterionIn]) -> list[dict[str, Any]]:
    return [
        {
            "name": criterion.name,
            "levels": [
                {"points": points, "descriptor": descriptor}
                for points, descriptor in sorted(criterion.levels)
            ],
        }
        for criterion in criteria
    ]


@transaction.atomic
def question_add(
    *,
    assignment: Assignment,
    text: str,
    kind: str,
    expected_answer: str = "",
    points: int = 1,
    model_answer: str = "",
    rubric: str = "",
) -> Question:
    """Add a question: an exact one with its accepted answers, or an open one with a rubric
    (refused when a criterion has no levels)."""
    if assignment.is_released:
        raise ValidationError(_("The grades of this assignment are released; it is closed."))
    if not text.strip():
        raise ValidationError({"text": _("Write the question.")})
    criteria: list[CriterionIn] = []
    if kind == Question.Kind.EXACT:
        if not expected_answer.strip():
            raise ValidationError(
                {"expected_answer": _("An exact question needs the expected answer.")}
            )
    elif kind == Question.Kind.OPEN:
        criteria = rubric_parse(rubric)
        _check_criteria(criteria)
    else:
        raise ValidationError({"kind": _("Choose exact or open.")})
    number = (assignment.questions.aggregate(top=Max("number"))["top"] or 0) + 1
    question = Question.objects.create(
        assignment=assignment,
        number=number,
        text=text.strip(),
        kind=kind,
        expected_answer=expected_answer.strip(),
        points=points,
        model_answer=model_answer.strip(),
    )
    if criteria:
        Rubric.objects.create(question=question, version=1, criteria=_criteria_json(criteria))
    return question


def rubric_text(rubric: Rubric | None) -> str:
    """A rubric written the way :func:`rubric_parse` reads it (to edit it in a text box)."""
    if rubric is None:
        return ""
    return "\n".join(
        f"{criterion['name']}: "
        + "; ".join(f"{level['points']} — {level['descriptor']}" for level in criterion["levels"])
        for criterion in rubric.criteria
    )


def question_get_for_teacher(*, assignment: Assignment, pk: int) -> Question:
    """One of the assignment's questions (404 for any other)."""
    question = assignment.questions.filter(pk=pk).first()
    if question is None:
        raise Http404(_("There is no such question."))
    return question


@transaction.atomic
def rubric_change(*, question: Question, rubric: str) -> Rubric:
    """A new version of an open question's rubric; grades made with older versions stay as
    they were, and "grade all" grades the answers again with the new one. Refused once the
    grades are released, for an exact question, and when nothing changed."""
    _check_open(question.assignment)
    if question.kind != Question.Kind.OPEN:
        raise ValidationError(_("Only open questions have a rubric."))
    criteria = rubric_parse(rubric)
    _check_criteria(criteria)
    latest = current_rubric(question)
    if latest is not None and latest.criteria == _criteria_json(criteria):
        raise ValidationError({"rubric": _("The rubric is the same as before.")})
    return Rubric.objects.create(
        question=question,
        version=(latest.version + 1) if latest else 1,
        criteria=_criteria_json(criteria),
    )


# --- answers ---------------------------------------------------------------------------------


def _check_open(assignment: Assignment) -> None:
    if assignment.is_released:
        raise ValidationError(_("The grades of this assignment are released; it is closed."))


def _has_grade(answer: Answer) -> bool:
    return Grade.objects.filter(answer=answer, is_current=True).exists()


@transaction.atomic
def answer_submit(*, student: User, assignment: Assignment, answers: dict[int, str]) -> int:
    """Save a student's answers typed in Soro (question id → text). An answer already graded
    is not changed. Returns how many answers were saved."""
    _check_open(assignment)
    questions = {q.pk: q for q in assignment.questions.all()}
    saved = 0
    for question_id, text in answers.items():
        question = questions.get(question_id)
        if question is None:
            continue
        existing = Answer.objects.filter(question=question, student=student).first()
        if existing is not None:
            if _has_grade(existing) or existing.text == text.strip():
                continue
            existing.text = text.strip()
            existing.source = Answer.Source.PLATFORM
            existing.save(update_fields=["text", "source", "submitted_at"])
        else:
            Answer.objects.create(
                assignment=assignment, question=question, student=student, text=text.strip()
            )
        saved += 1
    return saved


def _rows_from_file(name: str, content: bytes) -> list[list[str]]:
    if name.lower().endswith(".xlsx"):
        try:
            from openpyxl import load_workbook
        except ImportError as error:  # pragma: no cover - openpyxl is a dependency
            raise ValidationError(
                _("XLSX files cannot be read here; save the file as CSV.")
            ) from error
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as error:
            raise ValidationError(_("The file is not a valid XLSX workbook.")) from error
        sheet = workbook.worksheets[0]
        return [
            ["" if cell is None else str(cell) for cell in row]
            for row in sheet.iter_rows(values_only=True)
        ]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(_("The file is not UTF-8 text. Save it as CSV (UTF-8).")) from error
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    return list(csv.reader(io.StringIO(text), dialect))


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


@transaction.atomic
def answers_import(*, assignment: Assignment, name: str, content: bytes) -> ImportResult:
    """Import students' answers from a CSV or XLSX file with the columns student (username),
    question (number) and answer. All or nothing: the first bad row is named and nothing is
    saved."""
    _check_open(assignment)
    if len(content) > MAX_IMPORT_BYTES:
        raise ValidationError(_("The file is larger than 5 MB."))
    if not name.lower().endswith((".csv", ".xlsx", ".txt")):
        raise ValidationError(_("Upload a CSV or XLSX file."))
    rows = _rows_from_file(name, content)
    if not rows:
        raise ValidationError(_("The file is empty."))
    header = [COLUMN_ALIASES.get(cell.strip().lower(), cell.strip().lower()) for cell in rows[0]]
    missing = [column for column in IMPORT_COLUMNS if column not in header]
    if missing:
        raise ValidationError(
            _("The first row must name the columns student, question and answer; missing: %(m)s.")
            % {"m": ", ".join(missing)}
        )
    where = {column: header.index(column) for column in IMPORT_COLUMNS}
    students = {
        enrollment.student.username.lower(): enrollment.student
        for enrollment in assignment.classroom.enrollments.select_related("student")
    }
    questions = {q.number: q for q in assignment.questions.all()}
    existing = {
        (a.question_id, a.student_id): a
        for a in Answer.objects.filter(assignment=assignment).prefetch_related("grades")
    }
    seen: set[tuple[int, int]] = set()
    created: list[Answer] = []
    updated: list[Answer] = []
    data_rows = rows[1:]
    if not any(any(cell.strip() for cell in row) for row in data_rows):
        raise ValidationError(_("The file has no answers under its first row."))
    for number, row in enumerate(data_rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ValidationError(
                _("Row %(row)s: expected %(n)s columns, found %(found)s.")
                % {"row": number, "n": len(header), "found": len(row)}
            )
        username = row[where["student"]].strip()
        student = students.get(username.lower())
        if student is None:
            raise ValidationError(
                _("Row %(row)s: no student “%(name)s” in the class %(class)s.")
                % {"row": number, "name": username, "class": assignment.classroom.name}
            )
        question_cell = row[where["question"]].strip()
        try:
            question = questions[int(question_cell)]
        except (ValueError, KeyError):
            raise ValidationError(
                _("Row %(row)s: “%(question)s” is not a question number of this assignment.")
                % {"row": number, "question": question_cell}
            ) from None
        key = (question.pk, student.pk)
        if key in seen:
            raise ValidationError(
                _("Row %(row)s: a second answer of %(name)s to question %(q)s.")
                % {"row": number, "name": username, "q": question.number}
            )
        seen.add(key)
        text = row[where["answer"]].strip()
        answer = existing.get(key)
        if answer is None:
            created.append(
                Answer(
                    assignment=assignment,
                    question=question,
                    student=student,
                    text=text,
                    source=Answer.Source.IMPORT,
                )
            )
        elif answer.text != text:
            if any(grade.is_current for grade in answer.grades.all()):
                raise ValidationError(
                    _(
                        "Row %(row)s: the answer of %(name)s to question %(q)s is already "
                        "graded and cannot be replaced."
                    )
                    % {"row": number, "name": username, "q": question.number}
                )
            answer.text, answer.source = text, Answer.Source.IMPORT
            updated.append(answer)
    Answer.objects.bulk_create(created)
    for answer in updated:
        answer.save(update_fields=["text", "source", "submitted_at"])
    return ImportResult(created=len(created), updated=len(updated))
