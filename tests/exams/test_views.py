"""Practice by topic and the teachers' pages, with and without htmx."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import People, client_for
from tests.soro_web.test_page_weight import page_weight
from tutoring.exams.models import Attempt, ExamTest, Item, PracticeAnswer
from tutoring.exams.services import (
    assigned_start,
    attempt_answer_save,
    attempt_submit,
    practice_topics,
)


def practice_url(client, topic_id: int) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("exams:practice_next") + f"?topic={topic_id}")
    assert response.status_code == 302
    return response["Location"]


def test_practice_gives_feedback_and_fills_the_mastery_bar(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    topic = Item.objects.get(code="chem-019").topic
    topic_items = Item.objects.filter(topic=topic).count()
    seen = set()
    for _round in range(topic_items):
        url = practice_url(client, topic.pk)
        item = Item.objects.get(pk=int(url.split("/")[-2]))
        assert item.pk not in seen  # unseen items come first
        seen.add(item.pk)
        page = client.get(url).content.decode()
        assert item.current.explanation not in page  # no key or explanation before answering
        content = item.current.content
        if item.type == "choice":
            data = {"choice": content["answer"]}
        elif item.type == "matching":
            data = {f"pair-{left}": right for left, right in content["pairs"]}
        else:
            data = {
                "text": str(content.get("numeric", {}).get("value", "")) or content["answers"][0]
            }
        response = client.post(url, data)
        body = response.content.decode()
        assert response.status_code == 200 and item.current.explanation in body
        if item.current.reference:
            assert "/search/?q=" in body
    mastery = next(m for m in practice_topics(student=people.student) if m.topic_id == topic.pk)
    assert (mastery.mastered, mastery.items, mastery.percent) == (topic_items, topic_items, 100)
    home = client.get(reverse("exams:home")).content.decode()
    assert 'value="100"' in home


def test_wrong_answers_come_back_and_weak_topics_are_offered(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    item = Item.objects.get(code="chem-019")
    url = reverse("exams:practice_item", kwargs={"pk": item.pk}) + f"?topic={item.topic_id}"
    response = client.post(url, {"choice": "0"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="question"' in body
    assert PracticeAnswer.objects.get().is_correct is False
    assert "weak=1" in client.get(reverse("exams:home")).content.decode()
    response = client.get(reverse("exams:practice_next") + "?weak=1")
    weak_item = Item.objects.get(pk=int(response["Location"].split("/")[-2]))
    assert weak_item.topic_id == item.topic_id
    # once the rest of the topic is answered right, the wrong one comes back
    others = Item.objects.filter(topic=item.topic).exclude(pk=item.pk)
    for other in others:
        PracticeAnswer.objects.create(
            student=people.student,
            item=other,
            version=other.current,
            topic=item.topic,
            answer={},
            is_correct=True,
        )
    assert practice_url(client, item.topic_id).split("?")[0].endswith(f"/{item.pk}/")


def test_practice_refuses_bad_input_without_saving(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    item = Item.objects.get(code="chem-019")
    url = reverse("exams:practice_item", kwargs={"pk": item.pk})
    response = client.post(url, {"choice": "9"})
    assert (
        response.status_code == 422
        and "Яке аз вариантҳоро интихоб кунед." in response.content.decode()
    )
    assert (
        client.post(
            reverse("exams:practice_item", kwargs={"pk": 999999}), {"choice": "1"}
        ).status_code
        == 404
    )
    draft = Item.objects.get(code="chem-020")
    draft.status = "draft"
    draft.save()
    assert client.get(reverse("exams:practice_item", kwargs={"pk": draft.pk})).status_code == 404
    assert not PracticeAnswer.objects.exists()


def test_the_practice_page_is_light_and_cheap(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.student)
    item = Item.objects.filter(type="matching").first()
    url = reverse("exams:practice_item", kwargs={"pk": item.pk}) + f"?topic={item.topic_id}"
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert len(queries) <= 8
    total, _assets = page_weight(html)
    assert total <= 30 * 1024, f"practice page: {total} bytes compressed"


def test_a_teacher_writes_approves_assigns_and_reads_the_analysis(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    teacher = client_for(people.teacher)
    form = {
        "topic": "biology-9-01-01", "part": "B", "difficulty": "1",
        "stem": "Кадом органоид фотосинтез мекунад?", "explanation": "Дар хлоропластҳо.",
        "option_0": "Митохондрия", "option_1": "Хлоропласт",
        "option_2": "Рибосома", "option_3": "Ядро",
        "answer": "1",
    }  # fmt: skip
    bad = teacher.post(
        reverse("exams:item_create") + "?type=choice", {**form, "option_3": "Рибосома"}
    )
    assert bad.status_code == 422 and Item.objects.filter(author=people.teacher).count() == 0
    response = teacher.post(reverse("exams:item_create") + "?type=choice", form)
    item = Item.objects.get(author=people.teacher)
    assert response.status_code == 302 and item.status == "draft"
    detail = teacher.get(reverse("exams:item_detail", kwargs={"pk": item.pk})).content.decode()
    assert "Хлоропласт" in detail
    teacher.post(reverse("exams:item_approve", kwargs={"pk": item.pk}))
    item.refresh_from_db()
    assert item.status == "approved" and item.approved_by == people.teacher
    # another school's teacher cannot edit or approve it
    assert (
        client_for(people.teacher_other)
        .get(reverse("exams:item_edit", kwargs={"pk": item.pk}))
        .status_code
        == 404
    )
    now = timezone.now()
    response = teacher.post(
        reverse("exams:test_assign"),
        {
            "classroom": people.classroom.pk, "title": "Санҷиши биология",
            "items": f"{item.code} bio-001 bio-029", "minutes": "10",
            "opens_at": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )  # fmt: skip
    test = ExamTest.objects.get(kind="assigned")
    assert response.status_code == 302 and test.test_items.count() == 3
    # three students answer: two right on the new item, one wrong
    students = [people.student]
    from tests.factories import EnrollmentFactory, StudentFactory

    for _n in range(2):
        student = StudentFactory()
        EnrollmentFactory(classroom=people.classroom, student=student)
        students.append(student)
    position = test.test_items.get(version__item=item).position
    for student, choice in zip(students, ("1", "1", "3"), strict=True):
        attempt = assigned_start(student=student, test_id=test.pk)
        attempt_answer_save(
            user=student, attempt_id=attempt.pk, position=position, data={"choice": choice}
        )
        attempt_submit(attempt_id=attempt.pk, user=student)
    # the other class's student may not start it
    assert (
        client_for(people.student_other)
        .post(reverse("exams:test_start", kwargs={"pk": test.pk}))
        .status_code
        == 404
    )
    page = teacher.get(reverse("exams:test_results", kwargs={"pk": test.pk})).content.decode()
    assert item.code in page and "0,67" in page  # Tajik writes a decimal comma
    rows = list(
        csv.reader(
            io.StringIO(
                teacher.get(
                    reverse("exams:test_results_csv", kwargs={"pk": test.pk})
                ).content.decode()
            )
        )
    )
    # "submitted" of an exam, in its own context (grading's "submitted" is a different word)
    assert rows[0][:5] == ["хонанда", "хол", "ҳадди аксар", "холи миқёсӣ", "супорида шуд"]
    item_row = next(row for row in rows if len(row) > 1 and row[1] == item.code)
    assert item_row[2] == "0.67" and "Б:2" in item_row[4] and "Г:1" in item_row[4]
    # the XLSX export has the same rows (numbers stay numbers in the spreadsheet)
    from decimal import Decimal

    from openpyxl import load_workbook

    response = teacher.get(reverse("exams:test_results_xlsx", kwargs={"pk": test.pk}))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    xlsx_rows = [
        [cell for cell in row if cell is not None] for row in sheet.iter_rows(values_only=True)
    ]
    assert len(xlsx_rows) == len(rows)
    for xlsx_row, csv_row in zip(xlsx_rows, rows, strict=True):
        assert len(xlsx_row) == len([cell for cell in csv_row if cell != ""]) or not csv_row
        for xlsx_cell, csv_cell in zip(xlsx_row, [c for c in csv_row if c != ""], strict=True):
            if isinstance(xlsx_cell, int | float):
                assert Decimal(str(xlsx_cell)) == Decimal(csv_cell)
            else:
                assert xlsx_cell == csv_cell
    assert (
        client_for(people.teacher_other)
        .get(reverse("exams:test_results", kwargs={"pk": test.pk}))
        .status_code
        == 404
    )
    history_url = reverse(
        "exams:student_history", kwargs={"pk": people.classroom.pk, "student_pk": students[2].pk}
    )
    history = teacher.get(history_url).content.decode()
    assert "Санҷиши биология" in history and "0,00 / 5,00" in history
    other_class = reverse(
        "exams:student_history",
        kwargs={"pk": people.classroom.pk, "student_pk": people.student_other.pk},
    )
    assert teacher.get(other_class).status_code == 404


def test_a_closed_class_test_cannot_be_started(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    from tutoring.exams.services import exam_assign

    now = timezone.now()
    test = exam_assign(
        teacher=people.teacher, classroom_id=people.classroom.pk, title="Кӯҳна", minutes=5,
        opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1), item_codes=["bio-001"],
    )  # fmt: skip
    response = client_for(people.student).post(
        reverse("exams:test_start", kwargs={"pk": test.pk}), follow=True
    )
    assert "Ин санҷиш ҳоло кушода нест." in response.content.decode()
    assert not Attempt.objects.exists()


def test_the_bank_exports_as_json_and_moodle_xml(people: People, bank) -> None:  # type: ignore[no-untyped-def]
    teacher = client_for(people.teacher)
    response = teacher.get(reverse("exams:bank_export", kwargs={"file_format": "json"}))
    assert response.status_code == 200 and response.json()["format"] == "soro-question-bank"
    assert len(response.json()["items"]) == 236
    xml = teacher.get(reverse("exams:bank_export", kwargs={"file_format": "xml"}))
    assert xml.status_code == 200 and xml["Content-Type"].startswith("application/xml")
    pdf = teacher.get(reverse("exams:bank_export", kwargs={"file_format": "pdf"}))
    assert pdf.status_code == 404
