"""Issue 17, lessons: students read a published snapshot, only their sections; publishing
warns about empty sections; citations live only while their marker is in the text; drafts
into a published lesson are proposals; the history and print read right; slow drafts are
announced."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from modelops.models import GenerationLog
from soro_web.lessons import services
from soro_web.lessons.models import Lesson, LessonSection, LessonVersion
from tests.conftest import People, client_for
from tests.factories import TeacherFactory
from tests.lessons.conftest import ScriptedClient

Kind = LessonSection.Kind
HX = {"HTTP_HX_REQUEST": "true"}


def section(lesson: Lesson, kind: str) -> LessonSection:
    return lesson.sections.get(kind=kind)


def url(name: str, lesson: Lesson, item: LessonSection | None = None) -> str:
    kwargs = {"pk": lesson.pk}
    if item is not None:
        kwargs["section_pk"] = item.pk
    return reverse(f"lessons:{name}", kwargs=kwargs)


def write(lesson: Lesson, people: People, kind: str, body: str) -> LessonSection:
    item = section(lesson, kind)
    return services.lesson_section_update(
        section=item, user=people.teacher, body=body, base_revision=item.revision
    )


def publish(lesson: Lesson, people: People, **kwargs) -> Lesson:  # type: ignore[no-untyped-def]
    return services.lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], **kwargs
    )


# --- the snapshot -----------------------------------------------------------------------------


def test_students_read_the_published_snapshot_not_the_working_copy(
    lesson: Lesson, people: People
) -> None:
    write(lesson, people, Kind.OBJECTIVES, "Мақсади нашршуда")
    publish(lesson, people, publish_anyway=True)
    lesson.refresh_from_db()
    assert lesson.published_version.reason == LessonVersion.Reason.PUBLISHED
    assert services.lesson_publication(lesson).has_unpublished_changes is False
    write(lesson, people, Kind.OBJECTIVES, "Нимаи матни нав")  # the teacher keeps editing
    published_title = lesson.title
    services.lesson_update(
        lesson=lesson, user=people.teacher, title="Сарлавҳаи нимтайёр", duration_minutes=45
    )
    lesson.refresh_from_db()
    publication = services.lesson_publication(lesson)
    assert publication.has_unpublished_changes is True
    assert publication.version_at == lesson.published_version.created_at
    student_page = client_for(people.student).get(url("lesson_view", lesson)).content.decode()
    assert "Мақсади нашршуда" in student_page and "Нимаи матни нав" not in student_page
    assert published_title in student_page and "Сарлавҳаи нимтайёр" not in student_page
    listed = client_for(people.student).get(reverse("lessons:lesson_list")).content.decode()
    assert published_title in listed and "Сарлавҳаи нимтайёр" not in listed
    pdf = client_for(people.student).get(url("lesson_pdf", lesson))
    disposition = unquote(pdf["Content-Disposition"])
    assert pdf.status_code == 200 and "Сарлавҳаи" not in disposition
    assert published_title.split()[0] in disposition
    owner_page = client_for(people.teacher).get(url("lesson_view", lesson)).content.decode()
    assert "Нимаи матни нав" in owner_page
    # The builder says which version students see, and that there are changes.
    builder = client_for(people.teacher).get(url("lesson_builder", lesson)).content.decode()
    assert "data-unpublished" in builder
    assert (
        lesson.published_version.created_at.astimezone(timezone.get_current_timezone()).strftime(
            "%d.%m.%Y %H:%M"
        )
        in builder
    )
    # The API reads the same way: the student gets the snapshot.
    api = client_for(people.student).get(f"/api/lessons/{lesson.pk}").json()
    assert [s["body"] for s in api["sections"]] == ["Мақсади нашршуда"]
    assert api["published_version_at"] is not None and api["title"] == published_title
    api_list = client_for(people.student).get("/api/lessons").json()
    assert [item["title"] for item in api_list] == [published_title]
    # The teacher's own list and lesson keep the working copy's title.
    assert client_for(people.teacher).get("/api/lessons").json()[0]["title"] == "Сарлавҳаи нимтайёр"
    # "Publish changes" takes a new snapshot.
    publish(lesson, people, publish_anyway=True)
    student_page = client_for(people.student).get(url("lesson_view", lesson)).content.decode()
    assert "Нимаи матни нав" in student_page
    lesson.refresh_from_db()
    assert not services.lesson_publication(lesson).has_unpublished_changes
    assert lesson.versions.filter(reason=LessonVersion.Reason.PUBLISHED).count() == 2


def test_a_colleague_copies_the_published_version(lesson: Lesson, people: People) -> None:
    write(lesson, people, Kind.OBJECTIVES, "Нашршуда")
    publish(lesson, people, publish_anyway=True)
    write(lesson, people, Kind.OBJECTIVES, "Кор дар ҷараён")
    colleague = TeacherFactory(school=people.teacher.school)
    copy = services.lesson_copy(lesson=Lesson.objects.get(pk=lesson.pk), teacher=colleague)
    assert section(copy, Kind.OBJECTIVES).body == "Нашршуда"


def test_drafts_into_a_published_lesson_are_proposals(
    lesson: Lesson, people: People, textbook, tajik_client: ScriptedClient
) -> None:  # type: ignore[no-untyped-def]
    publish(lesson, people, publish_anyway=True)
    objectives = section(lesson, Kind.OBJECTIVES)
    assert objectives.body == ""
    events = list(
        services.lesson_draft_section(section=objectives, user=people.teacher, client=tajik_client)
    )
    assert events[-1]["type"] == "saved" and events[-1]["mode"] == "proposal"
    objectives.refresh_from_db()
    assert objectives.body == "" and objectives.proposal.startswith("Хонандагон")
    # The timed plan (arithmetic, not the model) too.
    plan = section(lesson, Kind.TIMED_PLAN)
    plan.body = ""
    plan.save()
    lesson.refresh_from_db()
    events = list(services.lesson_draft_section(section=plan, user=people.teacher))
    assert events[-1]["mode"] == "proposal"


# --- audience -----------------------------------------------------------------------------


def test_sections_have_an_audience_by_kind_and_students_read_only_theirs(
    lesson: Lesson, people: People
) -> None:
    audience = dict(lesson.sections.values_list("kind", "audience"))
    for kind in (Kind.OBJECTIVES, Kind.KEY_TERMS, Kind.WORKED_EXAMPLES, Kind.PRACTICE):
        assert audience[kind] == "students", kind
    assert audience[Kind.HOMEWORK] == "students"
    for kind in (Kind.TIMED_PLAN, Kind.MISCONCEPTIONS, Kind.DIFFERENTIATION):
        assert audience[kind] == "teacher", kind
    write(lesson, people, Kind.OBJECTIVES, "Мақсад барои хонандагон")
    write(lesson, people, Kind.MISCONCEPTIONS, "Хатоҳои маъмул: танҳо барои муаллим")
    write(lesson, people, Kind.HOMEWORK, "Вазифаи хонагӣ")
    # The teacher hides the homework in the builder (htmx), and it is recorded.
    client = client_for(people.teacher)
    homework = section(lesson, Kind.HOMEWORK)
    response = client.post(url("section_audience", lesson, homework), {"audience": "teacher"}, **HX)
    assert response.status_code == 200 and "<html" not in response.content.decode()
    assert 'value="teacher" selected' in response.content.decode()
    homework.refresh_from_db()
    assert homework.audience == "teacher"
    bad = client.post(url("section_audience", lesson, homework), {"audience": "everyone"}, **HX)
    assert bad.status_code == 200 and 'role="alert"' in bad.content.decode()
    homework.refresh_from_db()
    assert homework.audience == "teacher"
    publish(lesson, people, publish_anyway=True)
    student = client_for(people.student)
    page = student.get(url("lesson_view", lesson)).content.decode()
    assert "Мақсад барои хонандагон" in page
    assert "Хатоҳои маъмул" not in page and "Вазифаи хонагӣ" not in page
    # The teacher sees everything, marked; "as students see it" shows the students' view.
    own = client.get(url("lesson_view", lesson)).content.decode()
    assert "Хатоҳои маъмул" in own
    as_students = client.get(url("lesson_view", lesson) + "?as=students").content.decode()
    assert "Хатоҳои маъмул" not in as_students and "Мақсад барои хонандагон" in as_students
    # Students download their view as PDF and DOCX (403 before).
    import docx
    import pypdf

    pdf = student.get(url("lesson_pdf", lesson))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Мақсад барои хонандагон" in text and "Хатоҳои маъмул" not in text
    word = student.get(url("lesson_docx", lesson))
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(word.content)).paragraphs)
    assert word.status_code == 200 and "Мақсад барои хонандагон" in body
    assert "Хатоҳои маъмул" not in body
    # Another class's student still cannot.
    assert client_for(people.student_other).get(url("lesson_pdf", lesson)).status_code == 404


# --- publishing warns about empty sections ------------------------------------------------


def test_publishing_lists_empty_sections_and_needs_publish_anyway(
    lesson: Lesson, people: People
) -> None:
    write(lesson, people, Kind.OBJECTIVES, "Мақсад")
    with pytest.raises(ValidationError) as refused:
        publish(lesson, people)
    assert refused.value.error_dict["publish_anyway"][0].code == "empty_sections"
    assert not Lesson.objects.published().exists()
    client = client_for(people.teacher)
    page = client.get(url("lesson_publish", lesson)).content.decode()
    assert "data-empty-sections" in page and section(lesson, Kind.HOMEWORK).title in page
    assert section(lesson, Kind.OBJECTIVES).title not in page.split("data-empty-sections")[1]
    asked = client.post(
        url("lesson_publish", lesson), {"action": "publish", "classes": [people.classroom.pk]}
    )
    assert asked.status_code == 200 and not Lesson.objects.published().exists()
    assert 'role="alert"' in asked.content.decode()
    done = client.post(
        url("lesson_publish", lesson),
        {"action": "publish", "classes": [people.classroom.pk], "publish_anyway": "on"},
    )
    assert done.status_code == 302 and Lesson.objects.published().count() == 1
    # The API says the same: 422 with the list, unless publish_anyway.
    other = services.lesson_create(teacher=people.teacher, topic=lesson.topic)
    refused_api = client.post(
        f"/api/lessons/{other.pk}/publish",
        json.dumps({"classes": [people.classroom.pk]}),
        content_type="application/json",
    )
    assert refused_api.status_code == 422
    assert section(other, Kind.HOMEWORK).title in refused_api.json()["detail"]["publish_anyway"][0]
    accepted = client.post(
        f"/api/lessons/{other.pk}/publish",
        json.dumps({"classes": [people.classroom.pk], "publish_anyway": True}),
        content_type="application/json",
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "published"


def test_a_full_lesson_publishes_without_asking(lesson: Lesson, people: People) -> None:
    for item in lesson.sections.all():
        if not item.body:
            write(lesson, people, item.kind, f"Матн: {item.kind}")
    assert services.empty_sections(lesson) == []
    assert publish(lesson, people).is_published


# --- citations ------------------------------------------------------------------------------


CITED = "Муодила [Алгебра 7, саҳ. 3]. Реша [Алгебра 7, саҳ. 4]. Ноаён [3]."
SOURCES = [
    {"book": "Алгебра 7", "page": 3, "passage_id": 1},
    {"book": "Алгебра 7", "page": 4, "passage_id": 2},
]


def test_a_source_stays_only_while_its_marker_is_in_the_text(
    lesson: Lesson, people: People
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    objectives.body, objectives.citations = CITED, SOURCES
    objectives.save()
    assert services.citations_in_text(CITED, SOURCES) == SOURCES
    assert services.unknown_markers(CITED) == ["[3]"]
    # Rewritten by hand: one marker left.
    saved = services.lesson_section_update(
        section=objectives,
        user=people.teacher,
        body="Навишта аз нав [Алгебра 7, саҳ. 4]",
        base_revision=objectives.revision,
    )
    assert saved.citations == [SOURCES[1]]
    saved = services.lesson_section_update(
        section=saved, user=people.teacher, body="Бе сарчашма", base_revision=saved.revision
    )
    assert saved.citations == []
    # Markers are recognised in any interface language ("стр.", "p.").
    assert services.citations_in_text("[Алгебра 7, стр. 3]", SOURCES) == [SOURCES[0]]
    assert services.citations_in_text("[Алгебра 7, p. 4]", SOURCES) == [SOURCES[1]]
    assert services.citations_in_text("[Алгебра 7, саҳ. 34]", SOURCES) == []


def test_known_markers_show_as_citations_unknown_ones_as_plain_text_and_counted(
    lesson: Lesson, people: People
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    objectives.body, objectives.citations = CITED, SOURCES
    objectives.save()
    builder = client_for(people.teacher).get(url("lesson_builder", lesson)).content.decode()
    assert "data-unknown-markers" in builder and "[3]" in builder
    publish(lesson, people, publish_anyway=True)
    page = client_for(people.student).get(url("lesson_view", lesson)).content.decode()
    assert '<cite class="citation">[Алгебра 7, саҳ. 3]</cite>' in page
    assert "Ноаён [3]." in page  # plain text, not a citation
    assert '<cite class="citation">[3]</cite>' not in page


def test_a_draft_keeps_only_the_sources_it_cites_and_counts_unknown_markers(
    lesson: Lesson, people: People, textbook
) -> None:  # type: ignore[no-untyped-def]
    client = ScriptedClient("Хонандагон муодиларо ҳал мекунанд [1]. Ҷавобро месанҷанд [7].")
    objectives = section(lesson, Kind.OBJECTIVES)
    with translation.override("en"):
        events = list(
            services.lesson_draft_section(section=objectives, user=people.teacher, client=client)
        )
    saved_event = events[-1]
    assert saved_event["type"] == "saved" and saved_event["unknown_markers"] == 1
    assert "[7]" in saved_event["message"] and "match no textbook passage" in saved_event["message"]
    objectives.refresh_from_db()
    # [1] only, one source (the uncited passage is not listed; one page is one source).
    assert len(objectives.citations) == 1
    assert objectives.citations == services.citations_in_text(objectives.body, objectives.citations)
    assert "[7]" in objectives.body


# --- history, print -------------------------------------------------------------------------


def test_the_history_reads_creation_as_an_event(lesson: Lesson, people: People) -> None:
    with translation.override("tg"):
        label = str(LessonVersion.Reason.CREATED.label)
    assert label != "санаи эҷод"
    with translation.override("en"):
        assert str(LessonVersion.Reason.CREATED.label) == "the lesson was created"


def test_the_printed_time_plan_lists_only_printed_sections(lesson: Lesson, people: People) -> None:
    write(lesson, people, Kind.WARM_UP, "Саволҳои гармкунӣ")
    plan = section(lesson, Kind.TIMED_PLAN)
    with translation.override(lesson.language):
        warm_up = str(Kind.WARM_UP.label)
        practice = str(Kind.PRACTICE.label)
    assert warm_up in plan.body and practice in plan.body
    page = client_for(people.teacher).get(url("lesson_print", lesson)).content.decode()
    printed_plan = page.split('data-kind="timed_plan"')[1]
    assert warm_up in printed_plan and practice not in printed_plan


# --- slow drafts ----------------------------------------------------------------------------


def test_the_builder_says_drafts_are_slow_when_recent_ones_were(
    lesson: Lesson, people: People
) -> None:
    client = client_for(people.teacher)
    assert "data-slow-note" not in client.get(url("lesson_builder", lesson)).content.decode()
    assert "data-elapsed" in client.get(url("lesson_builder", lesson)).content.decode()
    for seconds in (95.0, 110.0, 73.0):
        GenerationLog.objects.create(
            purpose="lesson_draft", backend="local", status="completed", seconds=seconds
        )
    old = GenerationLog.objects.create(
        purpose="lesson_draft", backend="local", status="completed", seconds=1.0
    )
    GenerationLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    with translation.override("en"):
        note = services.draft_slowness_note()
    assert "about 95 seconds" in note
    assert "data-slow-note" in client.get(url("lesson_builder", lesson)).content.decode()
    GenerationLog.objects.update(seconds=4.0)
    assert services.draft_slowness_note() == ""
