"""Grading services: assignments and rubrics, import, exact and model scoring, the review
rules, the job (twice, cancel, retry), review, release, audit and export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from modelops.prompts import RubricCriterion, RubricLevel, parse_grade_reply
from soro_web.grading import scoring
from soro_web.grading.models import Answer, Assignment, AuditEntry, Grade, GradingJob, Question
from soro_web.grading.services import (
    answer_submit,
    answers_import,
    assignment_create,
    assignment_release,
    audit_trail,
    grade_accept,
    grade_counts,
    grade_edit,
    gradebook_export,
    grading_job_cancel,
    grading_job_start,
    grading_retry_failed,
    question_add,
    review_queue,
    rubric_change,
    student_results,
)
from soro_web.grading.services.demo import DEMO_ANSWERS
from tests.conftest import People

AGREE = "Меъёр 1: 2\nМеъёр 2: 1\nШарҳ: Ҷавоби хуб аст, вале ду далели дигар илова кунед."
DISAGREE = "Меъёр 1: 0\nМеъёр 2: 2\nШарҳ: Далел нест."
RUBRIC = "Дурустӣ: 0 — нодуруст; 2 — дуруст\nБаён: 0 — фаҳмо нест; 1 — фаҳмо"


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def run_job(assignment: Assignment, capture, user=None) -> GradingJob:  # type: ignore[no-untyped-def]
    with capture(execute=True):
        job = grading_job_start(assignment=assignment, user=user)
    job.refresh_from_db()
    return job


# --- the Django-free arithmetic ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected", "right"),
    [
        ("  Бухоро. ", "Бухоро", True),
        ("БУХОРО", "Бухоро", True),
        ("Бyxоро", "Бухоро", True),  # Latin y and x typed for Cyrillic у and х
        ("Самарқанд", "Бухоро", False),
        ("2,5", "2.50", True),
        ("5/2", "2.5", True),
        ("1 000", "1000", True),
        ("−3", "-3", True),
        ("892 сол", "892", False),
        ("", "892", False),
        ("Б", "А|Б", True),
    ],
)
def test_exact_match(answer: str, expected: str, right: bool) -> None:
    assert scoring.exact_match(answer, expected) is right


def test_looks_tajik() -> None:
    assert scoring.looks_tajik("Сомониён хуб буданд.", "ru", 0.45, min_confidence=0.6)
    assert scoring.looks_tajik("Кӯшиш кунед.", "ru", 0.9, min_confidence=0.6)  # ӯ
    assert not scoring.looks_tajik("Период Саманидов важен.", "ru", 0.97, min_confidence=0.6)


def test_near_duplicates_flag_copies_and_not_short_answers() -> None:
    original = "Давраи Сомониён муҳим аст, зеро тоҷикон давлати худро доштанд ва забон ривоҷ ёфт."
    texts = {
        1: original,
        2: original.replace("ривоҷ ёфт", "хеле ривоҷ ёфт"),
        3: "Сомониён давлати бузург сохтанд ва илм дар Бухоро ривоҷ ёфт, Рӯдакӣ шеър гуфт.",
        4: "Бухоро",
        5: "Бухоро",
    }
    assert scoring.near_duplicates(texts, threshold=0.7) == {1: [2], 2: [1]}


def test_consensus_and_agreement() -> None:
    agreed = scoring.consensus([[2, 1], [2, 1], [0, 1]], 2)
    assert agreed == scoring.Consensus(points=(2, 1), agreement=pytest.approx(5 / 6), chosen=0)
    # A reply that did not parse agrees with nothing; a tie takes the lower value.
    tied = scoring.consensus([[2, 1], None, [0, 1]], 2)
    assert tied is not None and tied.points == (0, 1) and tied.chosen == 2
    assert tied.agreement == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert scoring.consensus([None, None], 2) is None


def test_parse_grade_reply_on_hand_made_text() -> None:
    criteria = [
        RubricCriterion("Дурустӣ", (RubricLevel(0, "нодуруст"), RubricLevel(2, "дуруст"))),
        RubricCriterion("Баён", (RubricLevel(0, "фаҳмо нест"), RubricLevel(1, "фаҳмо"))),
    ]
    reply = parse_grade_reply(AGREE, criteria)
    assert reply is not None and reply.points == (2.0, 1.0)
    assert reply.feedback.startswith("Ҷавоби хуб")
    assert parse_grade_reply("Меъёр 1: 1\nМеъёр 2: 1", criteria) is None  # 1 is not a level
    assert parse_grade_reply("хуб аст", criteria) is None


# --- assignments and rubrics -----------------------------------------------------------------


def test_a_rubric_without_levels_is_refused_and_nothing_is_saved(people: People) -> None:
    assignment = assignment_create(teacher=people.teacher, classroom=people.classroom, title="Иншо")
    with pytest.raises(ValidationError) as error:
        question_add(
            assignment=assignment,
            text="Нависед.",
            kind="open",
            rubric="Дурустӣ:\nБаён: 0 — x; 1 — y",
        )
    assert "“Дурустӣ” has no levels" in str(error.value)
    with pytest.raises(ValidationError, match="Rubric line 1"):
        question_add(assignment=assignment, text="Нависед.", kind="open", rubric="Дурустӣ: хуб")
    with pytest.raises(ValidationError, match="at least one criterion"):
        question_add(assignment=assignment, text="Нависед.", kind="open", rubric="")
    assert not Question.objects.exists()


def test_an_assignment_only_for_ones_own_class(people: People) -> None:
    with pytest.raises(ValidationError):
        assignment_create(teacher=people.teacher, classroom=people.classroom_other, title="X")
    assert not Assignment.objects.exists()


def test_a_changed_rubric_is_a_new_version(demo: Assignment) -> None:
    question = demo.questions.get(number=3)
    rubric = rubric_change(question=question, rubric=RUBRIC)
    assert rubric.version == 2
    assert rubric.criteria[0] == {
        "name": "Дурустӣ",
        "levels": [{"points": 0, "descriptor": "нодуруст"}, {"points": 2, "descriptor": "дуруст"}],
    }
    assert question.rubrics.count() == 2


# --- import ------------------------------------------------------------------------------------


def test_the_demo_import_has_thirty_answers(demo: Assignment) -> None:
    assert Answer.objects.filter(assignment=demo, source="import").count() == 30
    assert demo.questions.count() == 3


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["student", "question"], ["dilshod", "1"]], "missing: answer"),
        (
            [["student", "question", "answer"], ["dilshod", "1", "x"], ["nobody", "1", "x"]],
            "Row 3: no student “nobody”",
        ),
        (
            [["student", "question", "answer"], ["dilshod", "9", "x"]],
            "Row 2: “9” is not a question",
        ),
        (
            [["student", "question", "answer"], ["dilshod", "1", "x"], ["dilshod", "1", "y"]],
            "Row 3: a second answer",
        ),
        ([["student", "question", "answer"], ["dilshod", "1"]], "Row 2: expected 3 columns"),
        ([["student", "question", "answer"]], "no answers"),
    ],
)
def test_a_bad_file_names_the_row_and_saves_nothing(
    people: People, rows: list[list[str]], message: str
) -> None:
    assignment = Assignment.objects.create(
        classroom=people.classroom, teacher=people.teacher, title="Санҷиш"
    )
    from soro_web.grading.services.demo import grading_demo_students

    grading_demo_students(classroom=people.classroom)
    question_add(assignment=assignment, text="Пойтахт?", kind="exact", expected_answer="Бухоро")
    with pytest.raises(ValidationError, match=message):
        answers_import(assignment=assignment, name="answers.csv", content=csv_bytes(rows))
    assert not Answer.objects.exists()


def test_not_a_spreadsheet(demo: Assignment) -> None:
    with pytest.raises(ValidationError, match="not UTF-8"):
        answers_import(
            assignment=demo,
            name="a.csv",
            content="student,question,answer\nдилшод,1,ответ\n".encode("cp1251"),
        )
    with pytest.raises(ValidationError, match="not a valid XLSX"):
        answers_import(assignment=demo, name="a.xlsx", content=b"PK\x03\x04 broken")
    with pytest.raises(ValidationError, match="CSV or XLSX"):
        answers_import(assignment=demo, name="a.pdf", content=b"%PDF")


def test_xlsx_import(people: People) -> None:
    from openpyxl import Workbook

    from soro_web.grading.services.demo import grading_demo_load

    assignment = grading_demo_load(classroom=people.classroom, with_answers=False)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Хонанда", "Савол", "Ҷавоб"])
    sheet.append(["dilshod", 1, "Бухоро"])
    sheet.append(["madina", 2, 892])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = answers_import(assignment=assignment, name="ҷавобҳо.xlsx", content=buffer.getvalue())
    assert (result.created, result.updated) == (2, 0)
    assert set(Answer.objects.values_list("student__username", "text")) == {
        ("dilshod", "Бухоро"),
        ("madina", "892"),
    }


# --- grading -------------------------------------------------------------------------------


def test_grade_all_scores_exact_items_and_sends_the_doubtful_to_review(
    demo: Assignment,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    client = scripted([AGREE])
    job = run_job(demo, django_capture_on_commit_callbacks)
    assert job.status == "succeeded" and job.total == 30
    assert (job.graded, job.review, job.failed) == (
        grade_counts(assignment=demo)["graded"],
        grade_counts(assignment=demo)["review"],
        0,
    )
    grades = {
        (g.answer.student.username, g.answer.question.number): g
        for g in Grade.objects.select_related("answer__student", "answer__question")
    }
    assert len(grades) == 30
    # Exact questions: normalised text and numbers by value, no model.
    assert grades["farangis", 1].total == 1 and grades["sorbon", 1].total == 1
    assert grades["jamshed", 1].total == 0 and grades["manuchehr", 1].total == 0
    assert grades["dilshod", 2].grader_version == "exact-1"
    assert grades["umed", 2].status == "review" and grades["umed", 2].review_reasons == ["empty"]
    # Open question: 3 samples each for the 9 non-empty answers, the empty one not sent.
    assert client.calls == 9 * 3
    assert grades["dilshod", 3].status == "graded"
    assert grades["dilshod", 3].scores == [2.0, 1.0] and grades["dilshod", 3].agreement == 1.0
    assert grades["dilshod", 3].grader_version == "rubric-1:scripted:test:k3"
    assert len(grades["dilshod", 3].prompt_checksum) == 64
    assert grades["umed", 3].review_reasons == ["empty"]
    assert "not_tajik" in grades["manuchehr", 3].review_reasons  # Russian
    assert "not_tajik" in grades["sorbon", 3].review_reasons  # English
    for copier in ("madina", "parvina", "shahnoza"):
        assert "copied" in grades[copier, 3].review_reasons, copier
    assert grades["tahmina", 3].status == "graded"


def test_low_agreement_and_unparseable_replies_go_to_review(
    demo: Assignment,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    scripted([AGREE, DISAGREE, "Намедонам."])
    run_job(demo, django_capture_on_commit_callbacks)
    grade = Grade.objects.get(answer__student__username="dilshod", answer__question__number=3)
    # Samples: (2,1), (0,2), unparsed → chosen (0,1) by the lower value on ties.
    assert grade.status == "review" and "low_agreement" in grade.review_reasons
    assert grade.agreement == pytest.approx(round((1 / 3 + 1 / 3) / 2, 3))
    scripted(["Намедонам."])
    rubric_change(question=demo.questions.get(number=3), rubric=RUBRIC)
    run_job(demo, django_capture_on_commit_callbacks)
    regraded = Grade.objects.get(
        answer__student__username="dilshod", answer__question__number=3, is_current=True
    )
    assert regraded.rubric_version == 2 and regraded.review_reasons == ["unparseable"]
    assert regraded.scores == [0.0, 0.0]  # the lowest levels are proposed
    assert Grade.objects.filter(answer=regraded.answer).count() == 2  # the old one is kept


def test_the_tiny_real_model_replies_do_not_parse_and_go_to_review(
    people: People,
    tiny_model_dir,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    import shutil

    from modelops.models import ModelVersion

    settings.SORO_MODELS_DIR = tmp_path
    shutil.copytree(tiny_model_dir, tmp_path / "tiny-grading")
    ModelVersion.objects.create(
        name="tiny-grading", stage="base", path="tiny-grading", is_active=True
    )
    settings.SORO_GRADING_SAMPLES = 1
    settings.SORO_GRADING_MAX_NEW_TOKENS = 8
    from soro_web.grading.services.demo import grading_demo_students

    grading_demo_students(classroom=people.classroom)
    assignment = assignment_create(teacher=people.teacher, classroom=people.classroom, title="И")
    question_add(assignment=assignment, text="Чаро?", kind="open", rubric=RUBRIC)
    answers_import(
        assignment=assignment,
        name="a.csv",
        content=csv_bytes(
            [
                ["student", "question", "answer"],
                ["dilshod", "1", "Давлати Сомониён барои тоҷикон хеле муҳим буд."],
            ]
        ),
    )
    job = run_job(assignment, django_capture_on_commit_callbacks)
    grade = Grade.objects.get()
    assert job.status == "succeeded" and (job.review, job.graded) == (1, 0)
    assert grade.review_reasons == ["unparseable"] and grade.model_version == "local:tiny-grading"


def test_a_job_started_twice_is_refused(demo: Assignment) -> None:
    job = grading_job_start(assignment=demo)  # queued: on_commit not run in this test
    with pytest.raises(ValidationError, match="already under way"):
        grading_job_start(assignment=demo)
    assert GradingJob.objects.count() == 1
    assert grading_job_cancel(job=job) == "cancelled"
    assert grading_job_start(assignment=demo).status == "queued"


def test_a_running_job_is_cancelled_after_its_chunk(
    demo: Assignment,
    scripted,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    from soro_web.grading.services import grading_job_execute

    settings.SORO_GRADING_CHUNK = 5
    scripted([AGREE])
    job = grading_job_start(assignment=demo)
    calls = {"n": 0}
    original = Grade.objects.bulk_create

    def cancel_after_first_chunk(objs, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        GradingJob.objects.filter(pk=job.pk).update(is_cancel_requested=True)
        return original(objs, *args, **kwargs)

    Grade.objects.bulk_create = cancel_after_first_chunk  # type: ignore[method-assign]
    try:
        grading_job_execute(job_id=job.pk)
    finally:
        del Grade.objects.bulk_create
    job.refresh_from_db()
    assert job.status == "cancelled" and calls["n"] == 1
    assert Grade.objects.count() == 5 == job.done


def test_failed_grades_are_retried(
    demo: Assignment,
    scripted,
    monkeypatch,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from modelops.llm.types import ModelUnavailable

    def no_model():  # type: ignore[no-untyped-def]
        raise ModelUnavailable("load_failed", "no active version")

    # Stands for the engine's own refusal (what active_model_client raises when no version
    # loads), so the test is about the job's handling, not about breaking a model directory.
    monkeypatch.setattr("soro_web.grading.services.jobs.active_model_client", no_model)
    job = run_job(demo, django_capture_on_commit_callbacks, user=demo.teacher)
    assert job.failed == 9 and job.status == "succeeded"
    for grade in review_queue(assignment=demo):  # the two empty answers
        grade_accept(grade=grade, user=demo.teacher)
    with pytest.raises(ValidationError, match="9 answers failed"):
        assignment_release(assignment=demo, user=demo.teacher)
    scripted([AGREE])
    with django_capture_on_commit_callbacks(execute=True):
        grading_retry_failed(assignment=demo, user=demo.teacher)
    assert grade_counts(assignment=demo)["failed"] == 0
    assert Grade.objects.filter(status="failed", is_current=False).count() == 9
    assert AuditEntry.objects.filter(action="retry").count() == 1


# --- review, release, export, the student's view ----------------------------------------


def test_review_edit_release_and_the_student_sees_the_grade(
    demo: Assignment,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    scripted([AGREE])
    run_job(demo, django_capture_on_commit_callbacks)
    teacher = demo.teacher
    queue = review_queue(assignment=demo)
    in_review = len(queue)
    with pytest.raises(ValidationError, match=f"{in_review} answers are still waiting"):
        assignment_release(assignment=demo, user=teacher)
    assert Assignment.objects.get(pk=demo.pk).released_at is None
    first = next(g for g in queue if g.answer.question.number == 3)
    rest = [g for g in queue if g.pk != first.pk]
    with pytest.raises(ValidationError, match="not one of its levels"):
        grade_edit(grade=first, user=teacher, scores=[5, 0], feedback="")
    edited = grade_edit(grade=first, user=teacher, scores=[1, 1], feedback="Кӯшиш кунед.")
    assert edited.status == "graded" and edited.total == 2.0 and edited.is_teacher_checked
    for grade in rest:
        grade_accept(grade=grade, user=teacher)
    assignment_release(assignment=demo, user=teacher)
    entry = audit_trail(assignment=demo)[-1]
    assert entry.action == "edit" and entry.actor == teacher
    assert entry.after["scores"] == [1.0, 1.0] and entry.after["feedback"] == "Кӯшиш кунед."
    assert entry.before["status"] == "review"
    assert audit_trail(assignment=demo)[0].action == "release"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    student = first.answer.student
    results = student_results(assignment=Assignment.objects.get(pk=demo.pk), student=student)
    shown = [r["grade"] for r in results if r["grade"] is not None]
    assert first.pk in {g.pk for g in shown}


def test_nothing_is_shown_to_students_before_release(
    demo: Assignment,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    scripted([AGREE])
    run_job(demo, django_capture_on_commit_callbacks)
    student = Answer.objects.get(student__username="dilshod", question__number=1).student
    results = student_results(assignment=demo, student=student)
    assert [r["answer"].text for r in results] == ["Бухоро", "892", results[2]["answer"].text]
    assert all(r["grade"] is None for r in results)


def test_students_submit_in_the_platform(people: People) -> None:
    assignment = assignment_create(teacher=people.teacher, classroom=people.classroom, title="С")
    question = question_add(
        assignment=assignment, text="Пойтахт?", kind="exact", expected_answer="Бухоро"
    )
    assert (
        answer_submit(
            student=people.student, assignment=assignment, answers={question.pk: "Бухоро"}
        )
        == 1
    )
    assert (
        answer_submit(
            student=people.student, assignment=assignment, answers={question.pk: "Бухоро"}
        )
        == 0
    )
    assert Answer.objects.get().source == "platform"


def test_gradebook_export(
    demo: Assignment,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    scripted([AGREE])
    run_job(demo, django_capture_on_commit_callbacks)
    with translation.override("en"):
        content, content_type = gradebook_export(assignment=demo, file_format="csv")
    assert content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == [
        "Student",
        "Name",
        "Question 1",
        "Question 2",
        "Question 3",
        "Total",
        "Out of",
    ]
    dilshod = next(row for row in rows if row[0] == "dilshod")
    assert dilshod[2:] == ["1.0", "1.0", "3.0", "5.0", "6.0"]
    # The class's own student, who answered nothing, has an empty row.
    assert next(row for row in rows if row[0] == "student")[2:] == ["", "", "", "0.0", "0.0"]
    xlsx, xlsx_type = gradebook_export(assignment=demo, file_format="xlsx")
    assert xlsx[:2] == b"PK" and "spreadsheetml" in xlsx_type


def test_the_demo_file_is_thirty_answers() -> None:
    rows = list(csv.reader(io.StringIO(DEMO_ANSWERS.read_text(encoding="utf-8"))))
    assert rows[0] == ["student", "question", "answer"] and len(rows) == 31


def test_the_sweep_requeues_a_job_whose_worker_died(
    demo: Assignment,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from soro_web.grading.services import grading_job_sweep

    scripted([AGREE])
    job = grading_job_start(assignment=demo)
    long_ago = timezone.now() - timedelta(minutes=10)
    GradingJob.objects.filter(pk=job.pk).update(
        status="running", owner="dead", heartbeat_at=long_ago
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert grading_job_sweep(timezone.now() - timedelta(minutes=1), long_ago) == [job.pk]
    job.refresh_from_db()
    # Queued again and, the task being eager here, run to the end by the new delivery.
    assert job.status == "succeeded" and job.recoveries == 1 and job.done == 30
    assert Grade.objects.count() == 30
