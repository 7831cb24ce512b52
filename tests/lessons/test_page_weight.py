"""The student's lesson page and the builder stay light for slow school connections."""

from __future__ import annotations

from django.urls import reverse

from soro_web.lessons.services import lesson_publish
from tests.conftest import People, client_for
from tests.soro_web.test_page_weight import page_weight

STUDENT_PAGE_BUDGET = 40 * 1024
BUILDER_BUDGET = 80 * 1024
# A full lesson: every section written, as a teacher leaves it.
PARAGRAPH = (
    "Муодила баробарие мебошад, ки тағйирёбанда дорад. Ҳалли муодила ёфтани ҳамаи "
    "решаҳои он аст [Алгебра 7, саҳ. 3]. "
) * 6


def full_lesson(lesson):  # type: ignore[no-untyped-def]
    for section in lesson.sections.all():
        section.body = "\n\n".join([PARAGRAPH, "- якум\n- дуюм\n- сеюм"])
        section.citations = [{"book": "Алгебра 7", "page": 3, "passage_id": 1}]
        section.save()
    return lesson


def test_the_students_lesson_page_fits_40_kb_with_its_assets(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    full_lesson(lesson)
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    html = (
        client_for(people.student)
        .get(reverse("lessons:lesson_view", kwargs={"pk": lesson.pk}))
        .content.decode()
    )
    total, assets = page_weight(html)
    assert not any("lessons.js" in asset for asset in assets)  # no builder script for pupils
    assert total <= STUDENT_PAGE_BUDGET, f"student lesson page: {total} bytes compressed"


def test_the_builder_fits_80_kb_with_its_assets(people: People, lesson, textbook) -> None:  # type: ignore[no-untyped-def]
    full_lesson(lesson)
    html = (
        client_for(people.teacher)
        .get(reverse("lessons:lesson_builder", kwargs={"pk": lesson.pk}))
        .content.decode()
    )
    total, assets = page_weight(html)
    assert any("lessons.js" in asset for asset in assets)
    assert total <= BUILDER_BUDGET, f"builder: {total} bytes compressed"
