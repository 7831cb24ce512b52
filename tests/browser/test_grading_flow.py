"""Batch grading as a new teacher does it, in Debian's Chromium: create an assignment, add
questions (a rubric without levels is refused), import the 30 demo answers, grade all, watch
the counts, review the flagged answers, edit one, release (refused first while answers wait);
the student then sees grade and feedback, and the audit trail shows the edit.

The job runs eagerly in the test process (CELERY_TASK_ALWAYS_EAGER) once "grade all"
commits, so the progress box shows the finished counts. The model is a scripted client that
answers in the grading format (a double: no model that writes Tajik grades runs in tests; the
tiny real model's path is tested in tests/grading/test_services.py).
"""

from __future__ import annotations

import pytest

from soro_web.grading.models import Answer, AuditEntry, Grade
from soro_web.grading.services.demo import DEMO_ANSWERS, demo_spec, grading_demo_students
from tests.browser.test_people_flows import sign_in
from tests.conftest import People
from tests.factories import PASSWORD
from tests.grading.conftest import ScriptedClient
from tests.grading.test_services import AGREE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EDITED_FEEDBACK = "Далели дуюмро илова кунед: Рӯдакӣ дар ҳамин давра зиндагӣ мекард."


def add_question(page, **fields: str) -> None:  # type: ignore[no-untyped-def]
    details = page.locator("main details")
    if details.get_attribute("open") is None:
        page.click("main details summary")
    page.fill("#id_text", fields["text"])
    page.select_option("#id_kind", fields["kind"])
    page.fill("#id_expected_answer", fields.get("expected_answer", ""))
    page.fill("#id_model_answer", fields.get("model_answer", ""))
    page.fill("#id_rubric", fields.get("rubric", ""))
    page.click('form[action$="/questions/"] button[type=submit]')


def test_teacher_grades_reviews_and_releases_and_the_student_sees_it(  # type: ignore[no-untyped-def]
    page, people: People, monkeypatch
) -> None:
    # The scripted client (tests/grading/conftest.py) stands for a model that writes the
    # rubric format: the tiny random model cannot, and the review flow needs parsed grades.
    client = ScriptedClient([AGREE])
    monkeypatch.setattr("soro_web.grading.services.jobs.active_model_client", lambda: client)
    grading_demo_students(classroom=people.classroom, password=PASSWORD)
    spec = demo_spec()
    sign_in(page, "teacher")

    page.goto("/grading/new/")
    page.fill("#id_title", spec["title"])
    page.select_option("#id_classroom", str(people.classroom.pk))
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/grading/*/")
    detail = page.url

    # A rubric without levels is refused, with the criterion named.
    add_question(page, text="Чаро?", kind="open", rubric="Дурустии далелҳо:")
    assert "Дурустии далелҳо" in page.inner_text(".field.invalid, .errors")
    for question in spec["questions"]:
        page.goto(detail)
        add_question(page, **{key: str(value) for key, value in question.items()})
        page.wait_for_url(detail)
    assert page.locator("ol.stack > li").count() == 3

    page.set_input_files("#id_file", str(DEMO_ANSWERS))
    page.click('form[action$="/import/"] button[type=submit]')
    page.wait_for_url(detail)
    assert Answer.objects.count() == 30

    page.click('form[action$="/grade/"] button[type=submit]')
    page.wait_for_url(detail)
    progress = page.inner_text("#progress")
    graded = Grade.objects.filter(status="graded").count()
    review = Grade.objects.filter(status="review").count()
    assert graded + review == 30 and review >= 7  # empty, off-language, copied
    assert f"30 аз 30: {graded} баҳо гирифт, {review} барои санҷиш, 0 ноком" in progress

    # Release is refused while answers wait, with the count.
    page.click('form[action$="/release/"] button[type=submit]')
    page.wait_for_url(detail)
    assert f"{review} ҷавоб ҳанӯз санҷиши шуморо интизор" in page.inner_text(".messages")

    page.click('a[href$="/review/"]')
    # Edit the first open answer in the queue, then accept the others as proposed.
    target = (
        Grade.objects.filter(status="review", answer__question__number=3)
        .order_by("answer__student__username")
        .first()
    )
    page.goto(f"{detail}review/{target.pk}/")
    assert target.answer.text[:30] in page.inner_text("blockquote.answer")
    page.select_option("#id_criterion_0", "1.0")
    page.select_option("#id_criterion_1", "2.0")
    page.fill("#id_feedback", EDITED_FEEDBACK)
    page.click('button[value="edit"]')
    page.wait_for_load_state()
    while Grade.objects.filter(status="review").exists():
        page.click('button[value="accept"]')
        page.wait_for_load_state()
    page.goto(detail)
    page.click('form[action$="/release/"] button[type=submit]')
    page.wait_for_url(detail)
    assert "Баҳоҳо нашр шуданд" in page.inner_text(".messages")

    page.click('a[href$="/audit/"]')
    assert EDITED_FEEDBACK in page.inner_text("table")
    assert AuditEntry.objects.filter(action="edit").count() == 1

    student = target.answer.student.username
    page.context.clear_cookies()
    sign_in(page, student)
    page.goto(f"/my-work/{target.answer.assignment_id}/")
    text = page.inner_text("main")
    assert EDITED_FEEDBACK in text and "3 / 4" in text
