"""The builder and lesson pages, with and without htmx; streaming; export; escaping."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.urls import reverse

from soro_web.lessons.models import Lesson, LessonSection
from soro_web.lessons.services import lesson_publish, lesson_section_update
from tests.conftest import People, client_for
from tests.factories import TeacherFactory

HX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = '<script>alert("x")</script>'


def objectives(lesson: Lesson) -> LessonSection:
    return lesson.sections.get(kind="objectives")


def url(name: str, lesson: Lesson, section: LessonSection | None = None) -> str:
    kwargs = {"pk": lesson.pk}
    if section is not None:
        kwargs["section_pk"] = section.pk
    return reverse(f"lessons:{name}", kwargs=kwargs)


def test_the_teacher_creates_a_lesson_from_a_topic(people: People, topic) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    page = client.get(reverse("lessons:lesson_create")).content.decode()
    # The teacher's class (math, grade 7) narrows the topics at first.
    assert "Муодилаи хаттӣ бо як тағйирёбанда" in page
    partial = client.get(
        reverse("lessons:lesson_create"),
        {"subject": topic.subject_id, "grade": topic.grade_id},
        **HX,
    ).content.decode()
    assert partial.startswith('<div class="field') and "<html" not in partial
    response = client.post(
        reverse("lessons:lesson_create"),
        {"topic": topic.pk, "title": "", "duration_minutes": 40, "language": "tg"},
    )
    lesson = Lesson.objects.get()
    assert response.status_code == 302 and response["Location"] == url("lesson_builder", lesson)
    assert (lesson.teacher, lesson.duration_minutes, lesson.sections.count()) == (
        people.teacher,
        40,
        14,
    )
    # From the curriculum page: the topic is chosen already.
    chosen = client.get(reverse("lessons:lesson_create"), {"topic": topic.pk}).content.decode()
    assert f'<option value="{topic.pk}" selected>' in chosen
    bad = client.post(reverse("lessons:lesson_create"), {"topic": 999999, "duration_minutes": 45})
    assert bad.status_code == 200 and Lesson.objects.count() == 1


def test_the_builder_shows_sections_and_passages(people: People, lesson, textbook) -> None:  # type: ignore[no-untyped-def]
    page = client_for(people.teacher).get(url("lesson_builder", lesson)).content.decode()
    assert page.count('class="lesson-section"') == 14
    assert "Мақсадҳои дарс" in page and "Порчаҳои китоби дарсӣ" in page
    assert "Алгебра 7, саҳ." in page  # a passage with its citation, beside the editor
    assert 'hx-trigger="input delay:800ms, submit"' in page and "soro/lessons.js" in page


def test_autosave_with_and_without_htmx(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    section = objectives(lesson)
    data = {"title": section.title, "body": "Мақсади нав", "revision": section.revision}
    response = client.post(url("section_update", lesson, section), data, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert f'id="revision-{section.pk}" value="2" hx-swap-oob="true"' in html
    assert "Нигоҳ дошта шуд" in html
    plain = client.post(
        url("section_update", lesson, section), {**data, "body": "Боз", "revision": 2}
    )
    assert plain.status_code == 302 and plain["Location"].endswith(f"#section-{section.pk}")
    assert objectives(lesson).body == "Боз" and objectives(lesson).revision == 3


def test_a_save_from_a_stale_tab_shows_both_texts_and_asks(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    section = objectives(lesson)
    first = {"title": section.title, "body": "Аз варақаи якум", "revision": 1}
    client.post(url("section_update", lesson, section), first, **HX)
    stale = {**first, "body": "Аз варақаи дуюм"}
    html = client.post(url("section_update", lesson, section), stale, **HX).content.decode()
    assert "Аз варақаи якум" in html and "Аз варақаи дуюм" in html
    assert "Матни маро нигоҳ доред" in html and "Матни нигоҳдошташударо гирифтан" in html
    assert objectives(lesson).body == "Аз варақаи якум"
    assert f'id="revision-{section.pk}"' not in html  # later keystrokes are refused too
    page = client.post(url("section_update", lesson, section), stale)
    assert page.status_code == 409 and "Аз варақаи дуюм" in page.content.decode()
    # "Keep my text" sends it again on the current revision.
    client.post(url("section_update", lesson, section), {**stale, "revision": 2}, **HX)
    assert objectives(lesson).body == "Аз варақаи дуюм"


def test_sections_are_added_moved_and_removed_in_place(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    html = client.post(url("section_add", lesson), {"kind": "custom"}, **HX).content.decode()
    assert html.count('class="lesson-section"') == 15 and "<html" not in html
    section = objectives(lesson)
    client.post(url("section_move", lesson, section), {"direction": "down"}, **HX)
    assert lesson.sections.order_by("position").values_list("kind", flat=True)[1] == "objectives"
    response = client.post(url("section_remove", lesson, section))
    assert response.status_code == 302 and lesson.sections.count() == 14


def test_teacher_and_model_text_is_escaped_everywhere(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    section = objectives(lesson)
    section.body = SCRIPT
    section.proposal = SCRIPT
    section.save()
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    pages = [
        client_for(people.teacher).get(url("lesson_builder", lesson)),
        client_for(people.teacher).get(url("lesson_print", lesson)),
        client_for(people.student).get(url("lesson_view", lesson)),
        client_for(people.teacher).get(url("section_detail", lesson, section), **HX),
    ]
    for response in pages:
        html = response.content.decode()
        assert SCRIPT not in html and "&lt;script&gt;" in html, response.request["PATH_INFO"]


def test_drafting_streams_ndjson_from_the_tiny_model(
    people: People, lesson, textbook, tiny_version
) -> None:  # type: ignore[no-untyped-def]
    section = objectives(lesson)
    response = client_for(people.teacher).post(
        url("section_draft", lesson, section),
        {"instruction": "соддатар"},
        HTTP_ACCEPT="application/x-ndjson",
    )
    assert response["Content-Type"] == "application/x-ndjson" and response.streaming
    events = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert events[0]["type"] == "start" and events[0]["sources"][0]["book"] == "Алгебра 7"
    assert sum(e["type"] == "text" for e in events) >= 2
    assert events[-1]["type"] in ("saved", "error")
    assert objectives(lesson).body == ""  # random weights never enter the lesson unread


def test_drafting_without_javascript_comes_back_to_the_builder(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    section = objectives(lesson)
    response = client.post(url("section_draft", lesson, section), follow=True)
    assert response.redirect_chain[-1][0].endswith(f"#section-{section.pk}")
    assert "порча ёфт нашуд" in response.content.decode()  # no passages: said plainly


def test_proposal_accept_and_insert_passages(people: People, lesson, textbook) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    section = objectives(lesson)
    section.proposal = "Матни пешниҳодшуда"
    section.save()
    html = client.post(
        url("section_proposal", lesson, section), {"action": "accept"}, **HX
    ).content.decode()
    assert html.startswith('\n<section class="lesson-section"') or "lesson-section" in html
    assert objectives(lesson).body == "Матни пешниҳодшуда"
    html = client.post(url("section_insert", lesson, section), **HX).content.decode()
    assert "Сарчашмаҳо: Алгебра 7, саҳ." in html
    assert objectives(lesson).body.startswith("Матни пешниҳодшуда\n\n")


def test_history_lists_versions_and_restores(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    section = objectives(lesson)
    client.post(
        url("section_update", lesson, section),
        {"title": section.title, "body": "Нав", "revision": 1},
    )
    created = lesson.versions.get(reason="created")
    page = client.get(url("lesson_history", lesson)).content.decode()
    assert page.count("<tr>") == 3  # header, edited, created
    response = client.post(
        reverse(
            "lessons:lesson_version_restore", kwargs={"pk": lesson.pk, "version_pk": created.pk}
        )
    )
    assert response.status_code == 302 and objectives(lesson).body == ""


def test_publishing_lets_the_class_read_and_nobody_else(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    page = client.get(url("lesson_publish", lesson)).content.decode()
    assert people.classroom.name in page and people.classroom_other.name not in page
    empty = client.post(url("lesson_publish", lesson), {"action": "publish"})
    assert empty.status_code == 200 and not Lesson.objects.published().exists()
    asked = client.post(
        url("lesson_publish", lesson), {"action": "publish", "classes": [people.classroom.pk]}
    )  # the sections are empty: listed, and asked
    assert asked.status_code == 200 and not Lesson.objects.published().exists()
    response = client.post(
        url("lesson_publish", lesson),
        {"action": "publish", "classes": [people.classroom.pk], "publish_anyway": "on"},
    )
    assert response.status_code == 302
    student = client_for(people.student)
    assert lesson.title in student.get(reverse("lessons:lesson_list")).content.decode()
    assert student.get(url("lesson_view", lesson)).status_code == 200
    assert client_for(people.student_other).get(url("lesson_view", lesson)).status_code == 404
    assert (
        lesson.title
        not in client_for(people.student_other).get(reverse("lessons:lesson_list")).content.decode()
    )
    client.post(url("lesson_publish", lesson), {"action": "unpublish"})
    assert student.get(url("lesson_view", lesson)).status_code == 404


def test_the_school_library_and_copying(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    colleague = TeacherFactory(school=people.teacher.school)
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    library = client_for(colleague).get(reverse("lessons:lesson_library")).content.decode()
    assert lesson.title in library
    other = client_for(people.teacher_other).get(reverse("lessons:lesson_library"))
    assert lesson.title not in other.content.decode()
    partial = client_for(colleague).get(
        reverse("lessons:lesson_library"), {"subject": lesson.topic.subject_id}, **HX
    )
    assert "<html" not in partial.content.decode() and lesson.title in partial.content.decode()
    response = client_for(colleague).post(url("lesson_copy", lesson))
    copy = Lesson.objects.get(teacher=colleague)
    assert response["Location"] == url("lesson_builder", copy) and copy.copied_from == lesson


def test_exports_are_files_with_the_tajik_text_and_citation(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    import docx
    import pypdf

    section = objectives(lesson)
    section.body = "Хонандагон муодилаи ғ ӣ қ ӯ ҳ ҷ-ро ҳал мекунанд."
    section.citations = [{"book": "Алгебра 7", "page": 3, "passage_id": 1}]
    section.save()
    client = client_for(people.teacher)
    pdf = client.get(url("lesson_pdf", lesson))
    assert pdf["Content-Type"] == "application/pdf"
    assert (
        pdf["Content-Disposition"].startswith("attachment;")
        and ".pdf" in pdf["Content-Disposition"]
    )
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "ғ ӣ қ ӯ ҳ ҷ" in text and "Алгебра 7" in text
    document = docx.Document(io.BytesIO(client.get(url("lesson_docx", lesson)).content))
    words = "\n".join(p.text for p in document.paragraphs)
    assert "ғ ӣ қ ӯ ҳ ҷ" in words and "Алгебра 7" in words


@pytest.mark.parametrize("name", ["lesson_pdf", "lesson_docx"])
def test_exporting_an_empty_lesson_says_so(people: People, topic, name: str) -> None:  # type: ignore[no-untyped-def]
    from soro_web.lessons.services import lesson_create

    lesson = lesson_create(teacher=people.teacher, topic=topic)
    lesson.sections.update(body="")
    response = client_for(people.teacher).get(url(name, lesson), follow=True)
    assert response.redirect_chain[-1][0] == url("lesson_builder", lesson)
    assert "Дарс холӣ аст" in response.content.decode()


def test_the_print_view_is_a4_and_stands_alone(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    html = client_for(people.teacher).get(url("lesson_print", lesson)).content.decode()
    assert "soro/print.css" in html and 'class="bar"' not in html
    css = Path(__file__).resolve().parents[2] / "soro_web/static/soro/print.css"
    assert "@page{size:A4" in css.read_text()
    assert "onclick" not in html  # the Content-Security-Policy runs no inline handler
    # The timed plan lists only printed sections: at first none has text, so nothing prints.
    assert "Нақшаи вақт" not in html
    warm_up = lesson.sections.get(kind="warm_up")
    lesson_section_update(
        section=warm_up, user=people.teacher, body="Савол", base_revision=warm_up.revision
    )
    html = client_for(people.teacher).get(url("lesson_print", lesson)).content.decode()
    assert "<ul><li>Машқи оғозӣ — 5 дақ</li></ul>" in html  # only the printed one


def test_changing_the_duration_checks_the_timed_plan_again(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    plan = lesson.sections.get(kind="timed_plan")
    html = client.post(
        url("lesson_update", lesson), {"title": lesson.title, "duration_minutes": 40}, **HX
    ).content.decode()
    assert f'<p id="plan-total-{plan.pk}" class="error" hx-swap-oob="true">' in html
    assert "45" in html and "40" in html
    html = client.post(
        url("section_update", lesson, plan),
        {"title": plan.title, "body": "- Машқ — 40 дақ", "revision": plan.revision},
        **HX,
    ).content.decode()
    assert f'<p id="plan-total-{plan.pk}" class="muted" hx-swap-oob="true">' in html


def test_deleting_a_lesson(people: People, lesson) -> None:  # type: ignore[no-untyped-def]
    client = client_for(people.teacher)
    response = client.post(url("lesson_delete", lesson), **HX)
    assert response.status_code == 200 and response["HX-Redirect"] == reverse("lessons:lesson_list")
    assert not Lesson.objects.exists()


OWNER_ONLY_SECTION_ROUTES = [
    "section_update",
    "section_remove",
    "section_move",
    "section_draft",
    "section_proposal",
    "section_insert",
]
OWNER_ONLY_LESSON_ROUTES = ["lesson_update", "section_add", "lesson_publish", "lesson_delete"]


def test_a_colleague_who_can_read_a_published_lesson_cannot_change_it(
    people: People, lesson
) -> None:  # type: ignore[no-untyped-def]
    # A same-school colleague sees the published lesson in the library, so only the owner
    # check stands between them and the teacher's text.
    colleague = client_for(TeacherFactory(school=people.teacher.school))
    lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    assert colleague.get(url("lesson_view", lesson)).status_code == 200
    section = objectives(lesson)
    before = (section.body, section.revision, lesson.sections.count())
    for name in OWNER_ONLY_LESSON_ROUTES:
        assert colleague.post(url(name, lesson), {"title": "x"}).status_code in {403, 404}, name
    for name in OWNER_ONLY_SECTION_ROUTES:
        response = colleague.post(
            url(name, lesson, section), {"title": "x", "body": "x", "revision": 1}
        )
        assert response.status_code in {403, 404}, name
    assert colleague.get(url("lesson_builder", lesson)).status_code in {403, 404}
    assert colleague.get(url("lesson_history", lesson)).status_code in {403, 404}
    section.refresh_from_db()
    assert (section.body, section.revision, lesson.sections.count()) == before
    assert Lesson.objects.get(pk=lesson.pk).status == "published"


def test_a_section_of_another_lesson_is_not_found_under_this_one(
    people: People, lesson, topic
) -> None:  # type: ignore[no-untyped-def]
    from soro_web.lessons.services import lesson_create

    other = lesson_create(teacher=people.teacher, topic=topic)
    foreign = objectives(other)
    client = client_for(people.teacher)
    for name in OWNER_ONLY_SECTION_ROUTES:
        response = client.post(
            url(name, lesson, foreign), {"title": "x", "body": "x", "revision": 1}
        )
        assert response.status_code == 404, name
    assert objectives(other).body == ""
