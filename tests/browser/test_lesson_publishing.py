"""Issue 17 in Chromium: a student reads the published version while the teacher keeps
editing, and only the sections meant for students; the teacher publishes the changes; a
draft shows the elapsed time and Stop while waiting for the first word."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from soro_web.lessons.models import Lesson, LessonSection
from tests.browser.test_people_flows import sign_in
from tests.conftest import People
from tests.lessons.conftest import topic  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Kind = LessonSection.Kind
PUBLISHED = "Мақсади дарс: муодилаҳоро ҳал кардан."
EDITING = "Нимаи матни нав, ки ҳоло навишта мешавад"
TEACHER_NOTE = "Хатои маъмул: аломатро гум мекунанд."
HOMEWORK = "Вазифаи хонагӣ: машқҳои 12–15."


def write(lesson: Lesson, people: People, kind: str, body: str) -> None:
    from soro_web.lessons.services import lesson_section_update

    section = lesson.sections.get(kind=kind)
    lesson_section_update(
        section=section, user=people.teacher, body=body, base_revision=section.revision
    )


def test_a_student_reads_the_published_version_and_only_their_sections(  # type: ignore[no-untyped-def]
    page,
    browser,
    live_server,
    people: People,
    topic,  # noqa: F811
) -> None:
    import pypdf

    from soro_web.lessons.services import lesson_create

    lesson = lesson_create(teacher=people.teacher, topic=topic)
    write(lesson, people, Kind.OBJECTIVES, PUBLISHED)
    write(lesson, people, Kind.MISCONCEPTIONS, TEACHER_NOTE)
    write(lesson, people, Kind.HOMEWORK, HOMEWORK)
    sign_in(page, "teacher")

    # Publish: the empty sections are listed and the teacher confirms.
    page.goto(f"/lessons/{lesson.pk}/publish/")
    page.check(f"input[name=classes][value='{people.classroom.pk}']")
    page.click("button[value=publish]")
    page.wait_for_selector("[data-empty-sections]")
    assert lesson.sections.get(kind=Kind.WARM_UP).title in page.inner_text("[data-empty-sections]")
    assert not Lesson.objects.published().exists()
    page.check("#id_publish_anyway")
    page.click("button[value=publish]")
    page.wait_for_url(f"**/lessons/{lesson.pk}/")

    # The student reads the published version: objectives and homework, no teacher notes.
    context = browser.new_context(viewport={"width": 390, "height": 800}, base_url=live_server.url)
    pupil = context.new_page()
    sign_in(pupil, "student")
    pupil.goto(f"/lessons/{lesson.pk}/")
    text = pupil.inner_text("main")
    assert PUBLISHED in text and HOMEWORK in text and TEACHER_NOTE not in text

    # The teacher edits the published lesson in the builder: autosaved, not published.
    page.goto(f"/lessons/{lesson.pk}/edit/")
    assert page.locator("[data-unpublished]").count() == 0
    objectives = lesson.sections.get(kind=Kind.OBJECTIVES)
    page.fill(f"#body-{objectives.pk}", EDITING)
    page.wait_for_selector("[data-unpublished]")  # "there are unpublished changes"
    assert lesson.sections.get(kind=Kind.OBJECTIVES).body == EDITING
    # Homework becomes teacher only, with the builder's control.
    homework = lesson.sections.get(kind=Kind.HOMEWORK)
    page.select_option(f"#audience-select-{homework.pk}", "teacher")
    for _ in range(50):  # saved when the database says so
        if lesson.sections.get(kind=Kind.HOMEWORK).audience == "teacher":
            break
        page.wait_for_timeout(100)
    assert lesson.sections.get(kind=Kind.HOMEWORK).audience == "teacher"

    # The student still reads the published version.
    pupil.reload()
    text = pupil.inner_text("main")
    assert PUBLISHED in text and EDITING not in text and HOMEWORK in text

    # "Publish changes": now the student reads the new version, without the homework.
    page.click("#publication a")
    page.check("#id_publish_anyway")
    page.click("button[value=publish]")
    page.wait_for_url(f"**/lessons/{lesson.pk}/")
    pupil.reload()
    text = pupil.inner_text("main")
    assert EDITING in text and PUBLISHED not in text
    assert HOMEWORK not in text and TEACHER_NOTE not in text

    # The student downloads their view as PDF.
    with pupil.expect_download() as download:
        pupil.click("[data-export=pdf]")
    pdf = pypdf.PdfReader(io.BytesIO(Path(download.value.path()).read_bytes()))
    pdf_text = "\n".join(p.extract_text() for p in pdf.pages)
    assert "Нимаи матни нав" in pdf_text and "Хатои маъмул" not in pdf_text
    context.close()


def test_a_draft_shows_elapsed_time_and_stop_before_the_first_word(  # type: ignore[no-untyped-def]
    page,
    people: People,
    topic,  # noqa: F811
) -> None:
    from soro_web.lessons.services import lesson_create

    lesson = lesson_create(teacher=people.teacher, topic=topic)
    objectives = lesson.sections.get(kind=Kind.OBJECTIVES)
    held = []
    # A server that has not written its first word yet: the draft request is held here
    # (the real engine's wait cannot be made long on purpose), everything else is real.
    page.route("**/draft/", lambda route: held.append(route))
    sign_in(page, "teacher")
    page.goto(f"/lessons/{lesson.pk}/edit/")
    elapsed = f"#section-{objectives.pk} [data-elapsed]"
    stop = f"#section-{objectives.pk} [data-stop]"
    assert not page.is_visible(stop) and not page.is_visible(elapsed)
    page.click(f"#section-{objectives.pk} form[data-draft] button[type=submit]")
    page.wait_for_selector(stop, state="visible", timeout=1_000)
    page.wait_for_selector(elapsed, state="visible", timeout=1_000)
    page.wait_for_function(
        "sel => /: [1-9]/.test(document.querySelector(sel).textContent)", arg=elapsed
    )
    page.click(stop)
    page.wait_for_selector(stop, state="hidden")
    assert not page.is_visible(elapsed)
    assert held, "the draft request was sent"
