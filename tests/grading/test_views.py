"""Grading pages: forms post without JavaScript, the progress box polls with htmx and stops,
errors are shown translated, students see nothing before release, pages stay light."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from soro_web.grading.models import Answer, Assignment, AuditEntry, Grade, GradingJob, Question
from soro_web.grading.services.demo import DEMO_ANSWERS, grading_demo_load
from tests.conftest import People, client_for
from tests.grading.test_services import AGREE
from tests.soro_web.test_page_weight import page_weight


def english(user):  # type: ignore[no-untyped-def]
    client = client_for(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def url(name: str, assignment: Assignment, **extra: int) -> str:
    return reverse(f"grading:{name}", kwargs={"pk": assignment.pk, **extra})


def test_create_an_assignment_with_questions_and_import_the_demo_file(people: People) -> None:
    from soro_web.grading.services.demo import grading_demo_students

    grading_demo_students(classroom=people.classroom)
    client = english(people.teacher)
    response = client.post(
        reverse("grading:assignment_create"),
        {"title": "Сомониён", "classroom": people.classroom.pk},
    )
    assignment = Assignment.objects.get()
    assert response.status_code == 302 and response["Location"] == url(
        "assignment_detail", assignment
    )
    bad = client.post(
        url("question_add", assignment),
        {"text": "Чаро?", "kind": "open", "rubric": "Дурустӣ:", "points": 1},
    )
    assert bad.status_code == 422 and "has no levels" in bad.content.decode()
    for question in (
        {"text": "Пойтахт?", "kind": "exact", "expected_answer": "Бухоро", "points": 1},
        {"text": "Сол?", "kind": "exact", "expected_answer": "892", "points": 1},
        {
            "text": "Чаро?",
            "kind": "open",
            "points": 1,
            "rubric": "Далел: 0 — нест; 1 — як; 2 — ду\nБаён: 0 — нест; 1 — фаҳмо; 2 — равон",
        },
    ):
        assert client.post(url("question_add", assignment), question).status_code == 302
    assert Question.objects.count() == 3
    upload = SimpleUploadedFile("answers.csv", DEMO_ANSWERS.read_bytes(), "text/csv")
    response = client.post(url("answers_import", assignment), {"file": upload})
    assert response.status_code == 302 and Answer.objects.count() == 30
    broken = SimpleUploadedFile("answers.csv", b"student,question,answer\nnobody,1,x\n")
    response = client.post(url("answers_import", assignment), {"file": broken})
    assert response.status_code == 422 and "Row 2" in response.content.decode()


def test_grade_all_progress_polls_and_stops_and_a_second_start_is_refused(
    people: People,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    scripted([AGREE])
    assignment = grading_demo_load(classroom=people.classroom)
    client = english(people.teacher)
    client.post(url("grade_all", assignment))  # queued (no worker in this test)
    job = GradingJob.objects.get()
    page = client.get(url("assignment_detail", assignment)).content.decode()
    assert 'hx-trigger="every 2s"' in page and url("job_progress", assignment) in page
    response = client.post(url("grade_all", assignment), follow=True)
    assert "already under way" in response.content.decode()
    assert GradingJob.objects.count() == 1
    polled = client.get(url("job_progress", assignment), HTTP_HX_REQUEST="true")
    assert polled.status_code == 200 and "<html" not in polled.content.decode()
    from soro_web.grading.services import grading_job_execute

    grading_job_execute(job_id=job.pk)
    done = client.get(url("job_progress", assignment), HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx stops polling
    text = done.content.decode()
    assert "30 of 30" in text
    assert "hx-get" not in text
    whole = client.get(url("job_progress", assignment))
    assert whole.status_code == 200 and "<html" in whole.content.decode()


def test_review_edit_release_then_the_student_sees_the_grade(
    people: People,
    scripted,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    scripted([AGREE])
    assignment = grading_demo_load(classroom=people.classroom)
    client = english(people.teacher)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("grade_all", assignment))
    response = client.post(url("release", assignment), follow=True)
    assert Assignment.objects.get().released_at is None
    waiting = Grade.objects.filter(status="review").count()
    assert f"{waiting} answers are still waiting" in response.content.decode()
    student_answer = Answer.objects.get(student__username="dilshod", question__number=3)
    student_client = client_for(student_answer.student)
    before = student_client.get(reverse("grading:student_assignment", kwargs={"pk": assignment.pk}))
    assert "Ҷавоби хуб" not in before.content.decode()
    queue = client.get(url("review_queue", assignment)).content.decode()
    first = Grade.objects.filter(status="review", answer__question__number=3).first()
    assert url("grade_review", assignment, grade_pk=first.pk) in queue
    page = client.get(url("grade_review", assignment, grade_pk=first.pk)).content.decode()
    assert escape(first.answer.text) in page and "Дурустии далелҳо" in page
    response = client.post(
        url("grade_review", assignment, grade_pk=first.pk),
        {"criterion_0": "1.0", "criterion_1": "2.0", "feedback": "Далели дигар лозим."},
    )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.scores == [1.0, 2.0] and first.status == "graded"
    for grade in Grade.objects.filter(status="review"):
        client.post(url("grade_review", assignment, grade_pk=grade.pk), {"action": "accept"})
    client.post(url("release", assignment))
    assert Assignment.objects.get().released_at is not None
    audit = client.get(url("audit", assignment)).content.decode()
    assert "Далели дигар лозим." in audit
    assert AuditEntry.objects.filter(action="edit").count() == 1
    after = student_client.get(
        reverse("grading:student_assignment", kwargs={"pk": assignment.pk})
    ).content.decode()
    assert "Ҷавоби хуб" in after  # the model's feedback on dilshod's open answer
    export = client.get(url("export", assignment))
    assert export.status_code == 200 and "attachment" in export["Content-Disposition"]


def test_a_student_submits_answers(people: People) -> None:
    assignment = grading_demo_load(classroom=people.classroom, with_answers=False)
    questions = list(assignment.questions.all())
    client = client_for(people.student)
    page = reverse("grading:student_assignment", kwargs={"pk": assignment.pk})
    response = client.post(page, {f"answer_{questions[0].pk}": "Бухоро"})
    assert response.status_code == 302
    assert Answer.objects.get().text == "Бухоро" and Answer.objects.get().source == "platform"


def test_pages_are_light(people: People) -> None:
    assignment = grading_demo_load(classroom=people.classroom)
    for user, page in (
        (people.teacher, url("assignment_detail", assignment)),
        (people.student, reverse("grading:student_assignment", kwargs={"pk": assignment.pk})),
    ):
        total, _assets = page_weight(client_for(user).get(page).content.decode())
        assert total <= 40 * 1024, f"{page}: {total} bytes compressed"


def test_the_teacher_changes_a_rubric_and_grade_all_grades_again(people: People, demo) -> None:  # type: ignore[no-untyped-def]
    from soro_web.grading.models import Rubric
    from soro_web.grading.services import answers_pending, rubric_parse, rubric_text
    from soro_web.grading.services.jobs import Draft, grades_write

    question = demo.questions.get(number=3)
    rubric = question.rubrics.get()
    edit = reverse("grading:rubric_edit", kwargs={"pk": demo.pk, "question_pk": question.pk})
    client = english(people.teacher)
    detail = client.get(url("assignment_detail", demo)).content.decode()
    assert f'href="{edit}"' in detail  # the way there
    page = client.get(edit)
    assert page.status_code == 200
    # The text box holds the current rubric the way the parser reads it.
    shown = page.context["form"].initial["rubric"]
    assert shown == rubric_text(rubric) and escape(shown).split("\n")[0] in page.content.decode()
    assert [c.name for c in rubric_parse(shown)] == [c["name"] for c in rubric.criteria]

    # Every answer to the question graded with version 1: nothing is pending.
    answers = list(demo.answers.filter(question=question))
    grades_write([Draft(a.pk, 1, "test-grader", "graded", [1.0], 1.0) for a in answers], job=None)
    assert not answers_pending(demo).filter(question=question).exists()

    same = client.post(edit, {"rubric": shown})
    assert same.status_code == 422 and "same as before" in same.content.decode()
    no_levels = client.post(edit, {"rubric": "Далел:"})
    assert no_levels.status_code == 422 and "has no levels" in no_levels.content.decode()
    assert question.rubrics.count() == 1

    changed = client.post(edit, {"rubric": "Далел: 0 — нест; 3 — се далели дуруст"})
    assert changed.status_code == 302 and changed["Location"] == url("assignment_detail", demo)
    assert list(question.rubrics.order_by("version").values_list("version", flat=True)) == [1, 2]
    # Grades made with version 1 stay; "grade all" now grades these answers again.
    assert Grade.objects.filter(answer__in=answers, rubric_version=1).count() == len(answers)
    assert answers_pending(demo).filter(question=question).count() == len(answers)

    exact = demo.questions.get(number=1)
    refused = client.post(
        reverse("grading:rubric_edit", kwargs={"pk": demo.pk, "question_pk": exact.pk}),
        {"rubric": "Далел: 0 — нест; 1 — ҳаст"},
    )
    assert refused.status_code == 422 and "Only open questions" in refused.content.decode()
    other = reverse("grading:rubric_edit", kwargs={"pk": demo.pk, "question_pk": 10**6})
    assert client.get(other).status_code == 404
    Assignment.objects.filter(pk=demo.pk).update(released_at=timezone.now())
    closed = client.post(edit, {"rubric": "Далел: 0 — нест; 2 — ду далел"})
    assert closed.status_code == 422 and "released" in closed.content.decode()
    assert Rubric.objects.filter(question=question).count() == 2
