"""Lesson services: default sections, conflicts, history, sharing, passages and drafting."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import translation

from modelops.models import GenerationLog
from soro_web.lessons import services
from soro_web.lessons.models import Lesson, LessonSection, LessonVersion
from soro_web.lessons.services import drafting
from soro_web.lessons.templatetags.lessons import lesson_text
from tests.conftest import People
from tests.factories import TeacherFactory
from tests.lessons.conftest import ScriptedClient
from tests.modelops.conftest import free_port

Kind = LessonSection.Kind


def section(lesson: Lesson, kind: str) -> LessonSection:
    found = lesson.sections.get(kind=kind)
    found.lesson = lesson
    return found


def test_create_makes_the_default_sections_with_tajik_titles(lesson: Lesson) -> None:
    sections = list(lesson.sections.order_by("position"))
    assert [s.kind for s in sections] == list(services.DEFAULT_SECTIONS)
    assert [s.position for s in sections] == list(range(14))
    assert sections[0].title == "Мақсадҳои дарс"
    assert sections[2].title == "Истилоҳоти асосӣ"
    assert lesson.duration_minutes == 45 and lesson.status == "draft"
    assert lesson.title == lesson.topic.name
    plan = sections[-1]
    assert plan.kind == Kind.TIMED_PLAN and plan.planned_minutes == 45
    assert all(not s.body for s in sections[:-1])
    assert list(lesson.versions.values_list("reason", flat=True)) == ["created"]


@pytest.mark.parametrize("minutes", [10, 40, 45, 80, 90])
def test_the_timed_plan_adds_up_to_the_duration(minutes: int) -> None:
    text = services.timed_plan_text(duration_minutes=minutes, language="tg")
    assert LessonSection(kind=Kind.TIMED_PLAN, body=text).planned_minutes == minutes
    assert "дақ" in text


def test_only_teachers_create_lessons(people: People, topic) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        services.lesson_create(teacher=people.student, topic=topic)
    with pytest.raises(ValidationError):
        services.lesson_create(teacher=people.teacher, topic=topic, duration_minutes=500)
    assert not Lesson.objects.exists()


def test_a_save_based_on_an_old_revision_is_a_conflict_not_a_loss(
    lesson: Lesson, people: People
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    loaded = objectives.revision
    services.lesson_section_update(
        section=objectives, user=people.teacher, body="Матни варақаи якум", base_revision=loaded
    )
    other_tab = section(lesson, Kind.OBJECTIVES)
    with pytest.raises(services.SectionConflict) as caught:
        services.lesson_section_update(
            section=other_tab, user=people.teacher, body="Матни варақаи дуюм", base_revision=loaded
        )
    assert caught.value.section.body == "Матни варақаи якум"
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert (saved.body, saved.revision) == ("Матни варақаи якум", loaded + 1)


def test_history_records_changes_and_restores_an_earlier_version(
    lesson: Lesson, people: People
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    for number, text in enumerate(["Мақсади 1", "Мақсади 1 ва 2"]):
        services.lesson_section_update(
            section=objectives,
            user=people.teacher,
            body=text,
            base_revision=objectives.revision,
        )
        assert number + 2 == objectives.revision
    # A run of edits is one entry of the history.
    assert list(lesson.versions.values_list("reason", flat=True)) == ["edited", "created"]
    edited = lesson.versions.get(reason="edited")
    services.lesson_section_remove(section=section(lesson, Kind.HOMEWORK), user=people.teacher)
    assert lesson.sections.count() == 13
    services.lesson_version_restore(version=edited, user=people.teacher)
    assert lesson.sections.count() == 14
    assert lesson.sections.get(kind=Kind.OBJECTIVES).body == "Мақсади 1 ва 2"
    assert list(lesson.versions.values_list("reason", flat=True)) == [
        "restored",
        "sections",
        "edited",
        "created",
    ]
    # The version the restore replaced is still there to go back to.
    assert len(lesson.versions.get(reason="sections").snapshot["sections"]) == 13
    with pytest.raises(PermissionDenied):
        services.lesson_version_restore(version=edited, user=people.teacher_other)


def test_sections_can_be_added_removed_and_moved(lesson: Lesson, people: People) -> None:
    added = services.lesson_section_add(lesson=lesson, user=people.teacher, kind="custom")
    assert added.position == 14 and added.title == "Қисми дигар"
    services.lesson_section_move(section=added, user=people.teacher, direction="up")
    kinds = list(lesson.sections.order_by("position").values_list("kind", flat=True))
    assert kinds[-2:] == ["custom", "timed_plan"]
    first = section(lesson, Kind.OBJECTIVES)
    services.lesson_section_move(section=first, user=people.teacher, direction="up")  # no-op
    assert lesson.sections.order_by("position").first().kind == "objectives"
    services.lesson_section_remove(section=first, user=people.teacher)
    assert list(lesson.sections.order_by("position").values_list("position", flat=True)) == list(
        range(14)
    )


def test_publishing_shows_the_lesson_to_the_class_and_the_school_only(
    lesson: Lesson, people: People
) -> None:
    colleague = TeacherFactory(school=people.teacher.school)
    assert not Lesson.objects.visible_to(people.student).exists()
    assert not services.lessons_library(user=colleague).exists()
    with pytest.raises(ValidationError):
        services.lesson_publish(
            lesson=lesson, user=people.teacher, classes=[people.classroom_other]
        )
    with pytest.raises(ValidationError):
        services.lesson_publish(lesson=lesson, user=people.teacher, classes=[])
    services.lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    assert list(services.lessons_for_user(user=people.student)) == [lesson]
    assert not services.lessons_for_user(user=people.student_other).exists()
    assert list(services.lessons_library(user=colleague)) == [lesson]
    assert not services.lessons_library(user=people.teacher_other).exists()
    assert not services.lessons_library(user=people.teacher).exists()  # not one's own
    with pytest.raises(Http404):
        services.lesson_get_visible(user=people.teacher_other, pk=lesson.pk)
    with pytest.raises(PermissionDenied):
        services.lesson_get_for_owner(user=colleague, pk=lesson.pk)
    services.lesson_unpublish(lesson=lesson, user=people.teacher)
    assert not Lesson.objects.visible_to(people.student).exists()


def test_a_colleague_copies_a_published_lesson_into_their_drafts(
    lesson: Lesson, people: People
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    objectives.body, objectives.citations = "Мақсад", [{"book": "Алгебра 7", "page": 3}]
    objectives.save()
    colleague = TeacherFactory(school=people.teacher.school)
    with pytest.raises(Http404):  # a draft is not in the library
        services.lesson_copy(lesson=lesson, teacher=colleague)
    services.lesson_publish(
        lesson=lesson, user=people.teacher, classes=[people.classroom], publish_anyway=True
    )
    copy = services.lesson_copy(lesson=lesson, teacher=colleague)
    assert (copy.teacher, copy.copied_from, copy.status) == (colleague, lesson, "draft")
    assert copy.sections.count() == 14
    assert copy.sections.get(kind="objectives").citations == [{"book": "Алгебра 7", "page": 3}]
    assert list(copy.versions.values_list("reason", flat=True)) == ["copied"]
    with pytest.raises(Http404):
        services.lesson_copy(lesson=lesson, teacher=people.teacher_other)


def test_passages_are_found_for_the_topic_and_remembered(
    lesson: Lesson, people: People, textbook
) -> None:  # type: ignore[no-untyped-def]
    passages = services.lesson_passages(lesson=lesson, user=people.teacher)
    assert passages and passages[0].book == textbook.title
    assert "муодила" in passages[0].text.lower()
    lesson.refresh_from_db()
    assert lesson.passage_ids == [p.id for p in passages]


def test_drafting_an_empty_section_fills_it_with_citations(
    lesson: Lesson, people: People, textbook, tajik_client: ScriptedClient
) -> None:  # type: ignore[no-untyped-def]
    objectives = section(lesson, Kind.OBJECTIVES)
    events = list(
        services.lesson_draft_section(section=objectives, user=people.teacher, client=tajik_client)
    )
    assert [e["type"] for e in events[:2]] == ["start", "text"]
    assert events[0]["grounded"] is True and events[0]["sources"][0]["book"] == "Алгебра 7"
    assert [e["type"] for e in events[-2:]] == ["done", "saved"]
    assert events[-1]["mode"] == "body" and events[-1]["is_expected_language"] is True
    saved = LessonSection.objects.get(pk=objectives.pk)
    page = saved.citations[0]["page"]
    assert f"[Алгебра 7, саҳ. {page}]" in saved.body and "[1]" not in saved.body
    assert saved.citations[0]["book"] == "Алгебра 7" and saved.is_grounded
    assert saved.revision == 2  # one save: the draft
    # The prompt is short: two passages, trimmed, and the topic named.
    messages, _params, context = tajik_client.requests[0]
    assert len(context) == services.DRAFT_PASSAGES
    assert all(len(p.split()) <= drafting.DRAFT_PASSAGE_WORDS + 1 for p in context)
    assert "Муодилаи хаттӣ" in messages[-1].content
    assert GenerationLog.objects.get().purpose == "lesson_draft"
    assert lesson.versions.first().reason == LessonVersion.Reason.DRAFTED


def test_regenerating_a_section_with_text_proposes_and_never_overwrites(
    lesson: Lesson, people: People, textbook, tajik_client: ScriptedClient
) -> None:  # type: ignore[no-untyped-def]
    objectives = section(lesson, Kind.OBJECTIVES)
    services.lesson_section_update(
        section=objectives, user=people.teacher, body="Матни муаллим", base_revision=1
    )
    events = list(
        services.lesson_draft_section(
            section=objectives,
            user=people.teacher,
            instruction="мисол аз ҳаёти ҳаррӯзаи Тоҷикистон",
            client=tajik_client,
        )
    )
    assert events[-1]["mode"] == "proposal"
    assert "Талаби муаллим: мисол аз ҳаёти" in tajik_client.requests[0][0][-1].content
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert saved.body == "Матни муаллим" and "Хонандагон" in saved.proposal
    saved.lesson = lesson
    services.section_proposal_discard(section=saved, user=people.teacher)
    assert LessonSection.objects.get(pk=objectives.pk).proposal == ""
    list(services.lesson_draft_section(section=saved, user=people.teacher, client=tajik_client))
    saved.refresh_from_db()
    services.section_proposal_accept(section=saved, user=people.teacher)
    saved.refresh_from_db()
    assert saved.body.startswith("Хонандагон") and saved.proposal == "" and saved.citations


def test_text_typed_while_drafting_is_kept(
    lesson: Lesson, people: People, textbook, tajik_client: ScriptedClient
) -> None:  # type: ignore[no-untyped-def]
    objectives = section(lesson, Kind.OBJECTIVES)
    events = services.lesson_draft_section(
        section=objectives, user=people.teacher, client=tajik_client
    )
    next(events)  # the draft has started; the teacher types in another tab
    services.lesson_section_update(
        section=section(lesson, Kind.OBJECTIVES),
        user=people.teacher,
        body="Навишта ҳангоми тайёр шудани матн",
        base_revision=objectives.revision,
    )
    assert list(events)[-1]["mode"] == "proposal"
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert saved.body == "Навишта ҳангоми тайёр шудани матн" and saved.proposal


def test_the_tiny_model_streams_and_text_failing_the_tajik_check_is_only_proposed(
    lesson: Lesson, people: People, textbook, tiny_version
) -> None:  # type: ignore[no-untyped-def]
    objectives = section(lesson, Kind.OBJECTIVES)
    events = list(services.lesson_draft_section(section=objectives, user=people.teacher))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds.count("text") >= 2
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert saved.body == ""  # random weights do not write Tajik: nothing enters the lesson
    final = events[-1]
    if final["type"] == "saved":
        assert final["mode"] == "proposal" and final["is_expected_language"] is False
        assert final["message"] and saved.proposal and saved.proposal_is_expected_language is False
    else:  # the tiny model may write only blanks
        assert final == {"type": "error", "reason": "empty", "message": final["message"]}


def test_when_the_model_is_down_the_section_is_unchanged(
    lesson: Lesson, people: People, textbook, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.SORO_LLM_URL = f"http://127.0.0.1:{free_port()}"
    objectives = section(lesson, Kind.OBJECTIVES)
    services.lesson_section_update(
        section=objectives, user=people.teacher, body="Матни ман", base_revision=1
    )
    with translation.override("en"):
        events = list(services.lesson_draft_section(section=objectives, user=people.teacher))
    assert events[-1]["type"] == "error" and events[-1]["reason"] == "down"
    assert "cannot be reached" in events[-1]["message"]
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert (saved.body, saved.proposal) == ("Матни ман", "")
    # The way out: the textbook passages as a starting text, with their citations.
    services.section_insert_passages(section=objectives, user=people.teacher)
    saved.refresh_from_db()
    assert saved.body.startswith("Матни ман\n\n") and "[Алгебра 7, саҳ." in saved.body
    assert saved.citations and saved.citations[0]["book"] == "Алгебра 7"


def test_a_topic_without_passages_says_so_and_drafts_ungrounded_on_request(
    lesson: Lesson, people: People, tajik_client: ScriptedClient
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    events = list(
        services.lesson_draft_section(section=objectives, user=people.teacher, client=tajik_client)
    )
    assert [e["type"] for e in events] == ["no_passages"]
    assert not tajik_client.requests
    with pytest.raises(ValidationError):
        services.section_insert_passages(section=objectives, user=people.teacher)
    events = list(
        services.lesson_draft_section(
            section=objectives, user=people.teacher, allow_ungrounded=True, client=tajik_client
        )
    )
    assert events[0] == {"type": "start", "grounded": False, "sources": []}
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert saved.body and not saved.is_grounded and saved.citations == []
    assert "[1]" in saved.body  # no passage to point to: left as the model wrote it


def test_the_timed_plan_is_computed_not_generated(lesson: Lesson, people: People) -> None:
    services.lesson_update(lesson=lesson, user=people.teacher, title="Дарс", duration_minutes=40)
    plan = section(lesson, Kind.TIMED_PLAN)
    events = list(services.lesson_draft_section(section=plan, user=people.teacher))
    assert events[-1]["mode"] == "proposal"  # the plan had text: proposed, not replaced
    plan.refresh_from_db()
    assert LessonSection(kind=Kind.TIMED_PLAN, body=plan.proposal).planned_minutes == 40
    assert not GenerationLog.objects.exists()


def test_lesson_text_escapes_html_and_script() -> None:
    html = lesson_text('<script>alert("x")</script>\n\n- <b>бандӣ</b>\n- дуюм\nсатр')
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html
    assert "<li>&lt;b&gt;бандӣ&lt;/b&gt;</li><li>дуюм</li></ul><p>сатр</p>" in html


def test_the_export_document_carries_sections_citations_and_labels(
    lesson: Lesson, people: People
) -> None:
    objectives = section(lesson, Kind.OBJECTIVES)
    objectives.body = "Мақсади дарс"
    objectives.citations = [{"book": "Алгебра 7", "page": 3, "passage_id": 1}]
    objectives.save()
    reading = services.lesson_reading(lesson=lesson, user=people.teacher)
    document = services.lesson_document(lesson=lesson, reading=reading)
    assert document.title == lesson.title and document.duration_minutes == 45
    assert document.labels["sources"] == "Сарчашмаҳо"
    first = document.sections[0]
    assert (first.title, first.body) == ("Мақсадҳои дарс", "Мақсади дарс")
    assert first.citations[0].text == "Алгебра 7, саҳ. 3"  # in the lesson's language
    assert services.lesson_file_name(lesson=lesson, extension="pdf").endswith(f"-{lesson.pk}.pdf")


def test_a_stopped_draft_keeps_what_arrived_as_a_proposal(
    lesson: Lesson, people: People, textbook, tajik_client: ScriptedClient
) -> None:  # type: ignore[no-untyped-def]
    objectives = section(lesson, Kind.OBJECTIVES)
    events = services.lesson_draft_section(
        section=objectives, user=people.teacher, client=tajik_client
    )
    assert [next(events)["type"] for _ in range(3)] == ["start", "text", "text"]
    events.close()  # the teacher pressed stop
    saved = LessonSection.objects.get(pk=objectives.pk)
    assert saved.body == "" and saved.proposal == "Хонандагон муодилаи"
    assert GenerationLog.objects.get().status == "stopped"


def test_drafting_through_a_model_server_and_when_it_is_busy(
    lesson: Lesson, people: People, textbook, settings, openai_server
) -> None:  # type: ignore[no-untyped-def]
    """The same path with TGI (or any OpenAI-compatible server): here a real HTTP server on
    loopback running the tiny model; first it keeps answering 429, as a busy server does."""
    base_url, state = openai_server
    settings.SORO_LLM_URL = base_url
    state.engine.max_context_tokens = 2048  # a serving context like TGI's, not the 512 default
    state.faults.extend([429] * 4)  # the client retries three times, then gives up
    objectives = section(lesson, Kind.OBJECTIVES)
    with translation.override("en"):
        busy = list(services.lesson_draft_section(section=objectives, user=people.teacher))
    assert busy[-1]["type"] == "error" and busy[-1]["reason"] == "busy"
    assert "busy" in busy[-1]["message"]
    events = list(services.lesson_draft_section(section=objectives, user=people.teacher))
    assert sum(e["type"] == "text" for e in events) >= 2
    prompt = state.requests[-1]["messages"][-1]["content"]
    assert prompt.startswith("[1] ") and "Муодилаи хаттӣ" in prompt  # passages, then the task
    assert LessonSection.objects.get(pk=objectives.pk).body == ""  # not Tajik: only proposed


def test_inserting_passages_from_a_stale_copy_keeps_the_other_tabs_text(
    lesson: Lesson, people: People, textbook
) -> None:  # type: ignore[no-untyped-def]
    stale = section(lesson, Kind.OBJECTIVES)
    services.lesson_section_update(
        section=section(lesson, Kind.OBJECTIVES),
        user=people.teacher,
        body="Матни варақаи дигар",
        base_revision=stale.revision,
    )
    services.section_insert_passages(section=stale, user=people.teacher)
    saved = LessonSection.objects.get(pk=stale.pk)
    assert saved.body.startswith("Матни варақаи дигар\n\n")
    assert saved.revision == stale.revision + 2  # one per change, never reused


def test_accepting_a_proposal_from_a_stale_copy_bumps_the_current_revision(
    lesson: Lesson, people: People
) -> None:
    current = section(lesson, Kind.OBJECTIVES)
    current.proposal = "Пешниҳод"
    current.save()
    stale = section(lesson, Kind.OBJECTIVES)
    services.lesson_section_update(
        section=current, user=people.teacher, body="Таҳрир", base_revision=current.revision
    )
    services.section_proposal_accept(section=stale, user=people.teacher)
    saved = LessonSection.objects.get(pk=stale.pk)
    assert (saved.body, saved.revision) == ("Пешниҳод", stale.revision + 2)
