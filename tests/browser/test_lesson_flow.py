"""The teacher's lesson builder end to end, in Debian's Chromium, on the demo school: create a
lesson for a demo topic, draft three sections with streaming, edit one, regenerate one with
an instruction, export PDF and DOCX, publish to a class; a pupil of the class reads it, a
pupil of another class cannot. Then: one section edited in two tabs.

The model is the tiny random-weight Gemma 3 through the real local engine: its words are
gibberish, so they fail the Tajik check and arrive as flagged proposals that the teacher
accepts or discards. What this proves is the mechanics: pieces stream into the page, the
check flags them, nothing enters the lesson unaccepted, exports carry the lesson's Tajik
text and citations.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from soro_web.lessons.models import Lesson
from tests.browser.conftest import open_menu
from tests.browser.test_people_flows import sign_in
from tests.conftest import People
from tests.lessons.conftest import (  # noqa: F401 - fixtures
    gguf_path,
    session_models_dir,
    tiny_model_dir,
    tiny_version,
    tokenizer_dir,
    topic,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EDITED = "Вазифаи хонагӣ: машқҳои 12–15. Ҳарфҳои тоҷикӣ: ғ ӣ қ ӯ ҳ ҷ."
REGENERATE_WITH = "мисол аз ҳаёти ҳаррӯзаи Тоҷикистон"


def section_id(page, kind: str) -> str:  # type: ignore[no-untyped-def]
    return page.get_attribute(f'.lesson-section[data-kind="{kind}"]', "id").removeprefix("section-")


def watch_stream(page, pk: str) -> None:  # type: ignore[no-untyped-def]
    """Count the changes to the section's stream box: more than one means it streamed."""
    page.evaluate(
        """pk => {
          window.__pieces = window.__pieces || {};
          window.__pieces[pk] = 0;
          const box = document.querySelector('#section-' + pk + ' [data-stream]');
          new MutationObserver(() => { window.__pieces[pk] += 1; })
            .observe(box, {childList: true, characterData: true, subtree: true});
        }""",
        pk,
    )


def draft(page, kind: str, instruction: str = "") -> str:  # type: ignore[no-untyped-def]
    """Press the section's draft button and wait until the streamed text is proposed."""
    pk = section_id(page, kind)
    watch_stream(page, pk)
    if instruction:
        page.fill(f"#instruction-{pk}", instruction)
    page.click(f"#section-{pk} form[data-draft] button[type=submit]")
    page.wait_for_selector(f"#proposal-{pk} button[value=accept]", timeout=60_000)
    assert page.evaluate(f"window.__pieces['{pk}']") >= 2, "the draft did not stream"
    # Random weights do not write Tajik: the section says so plainly.
    assert page.is_visible(f"#section-{pk} [data-error]")
    assert page.is_visible(f"#section-{pk} [data-insert]")  # the textbook as a way out
    return pk


@pytest.fixture
def demo(settings, tmp_path: Path, transactional_db):  # type: ignore[no-untyped-def]
    """The demo school (``manage.py seed_demo``) and its Algebra 7 textbook, indexed."""
    from soro_web.curriculum.models import Grade, Subject
    from soro_web.demo import demo_seed
    from tutoring.services import DEMO_TEXTBOOKS, textbook_ingest_run, textbook_register_file

    settings.SORO_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SORO_RETRIEVAL_ENCODER = "none"
    demo_seed()
    edition = textbook_register_file(
        path=DEMO_TEXTBOOKS / "math-7.md",
        title="Алгебра",
        subject=Subject.objects.get(code="math"),
        grade=Grade.objects.get(number=7),
        enqueue=False,
    )
    textbook_ingest_run(edition_id=edition.pk)


def demo_sign_in(page, username: str) -> None:  # type: ignore[no-untyped-def]
    from soro_web.demo import DEMO_PASSWORD

    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/dashboard/")


def test_teacher_builds_exports_and_shares_a_lesson(  # type: ignore[no-untyped-def]
    page,
    browser,
    live_server,
    demo,
    tiny_version,  # noqa: F811 - the fixture imported above
) -> None:
    import docx
    import pypdf

    from soro_web.curriculum.models import Topic

    demo_topic = Topic.objects.get(code="math-7-01-02")  # Муодилаҳои хаттӣ бо як тағйирёбанда
    demo_sign_in(page, "muallim")
    open_menu(page)  # folded behind the menu button on a phone
    page.click("nav >> text=Дарсҳои ман")
    page.click("main >> text=Сохтани дарс")
    # The teacher's first class (7А, mathematics) narrows the topics to grade 7 mathematics.
    page.select_option("#id_topic", str(demo_topic.pk))
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/lessons/*/edit/")
    lesson = Lesson.objects.get(teacher__username="muallim")
    assert lesson.title == demo_topic.name
    assert "Алгебра, саҳ." in page.inner_text("#passages")  # passages beside the editor

    # Draft three sections; accept what the model wrote into two, keep the third proposed.
    for kind in ("objectives", "key_terms", "new_material"):
        pk = draft(page, kind)
        if kind != "new_material":
            page.click(f"#proposal-{pk} button[value=accept]")
            page.wait_for_function(
                "pk => document.querySelector('#body-' + pk).value.length > 0", arg=pk
            )
    # A source is kept only while its marker is in the text, and the random model cites
    # nothing ("[1]"). The textbook's passages, inserted as a starting text, carry theirs.
    pk = section_id(page, "key_terms")
    page.click(f"#section-{pk} [data-insert]")
    page.wait_for_function(
        "pk => document.querySelector('#body-' + pk).value.includes('[Алгебра, саҳ.')", arg=pk
    )
    assert lesson.sections.get(kind="key_terms").citations[0]["book"] == "Алгебра"
    assert lesson.sections.get(kind="new_material").body == ""  # unaccepted: not in the lesson
    # The proposal box does not start with a blank line (its first paragraph has no margin).
    proposal = section_id(page, "new_material")
    assert (
        page.evaluate(
            "pk => getComputedStyle(document.querySelector("
            "'#proposal-' + pk + ' .reply > :first-child')).marginTop",
            proposal,
        )
        == "0px"
    )

    # Regenerate a section with an instruction: a new proposal, the text stays until chosen.
    pk = section_id(page, "objectives")
    before = lesson.sections.get(kind="objectives").body
    draft(page, "objectives", instruction=REGENERATE_WITH)
    assert lesson.sections.get(kind="objectives").body == before
    page.click(f"#proposal-{pk} button[value=discard]")
    page.wait_for_selector(f"#proposal-{pk}", state="hidden")
    assert lesson.sections.get(kind="objectives").proposal == ""

    # Edit a section inline: saved as it is typed, no button.
    pk = section_id(page, "homework")
    page.fill(f"#body-{pk}", EDITED)
    page.wait_for_function(
        "pk => document.querySelector('#save-' + pk).innerText.includes('Нигоҳ дошта шуд')",
        arg=pk,
    )
    assert lesson.sections.get(kind="homework").body == EDITED

    # Exports: the same Tajik text and citations in PDF and DOCX.
    with page.expect_download() as pdf_download:
        page.click("#export-pdf")
    pdf = pypdf.PdfReader(io.BytesIO(Path(pdf_download.value.path()).read_bytes()))
    pdf_text = "\n".join(p.extract_text() for p in pdf.pages)
    with page.expect_download() as docx_download:
        page.click("#export-docx")
    document = docx.Document(io.BytesIO(Path(docx_download.value.path()).read_bytes()))
    docx_text = "\n".join(p.text for p in document.paragraphs)
    for text in (pdf_text, docx_text):
        assert "ғ ӣ қ ӯ ҳ ҷ" in text and "Мақсадҳои дарс" in text
        assert "Алгебра, саҳ." in text  # a citation from the inserted passages' sources

    # Publish to the class 7А.
    page.click("text=Нашр барои синфҳо")
    page.check("text=7А — Математика")
    page.click("button[value=publish]")
    # Most sections are still empty: publishing lists them and asks first.
    page.wait_for_selector("[data-empty-sections]")
    page.check("#id_publish_anyway")
    page.click("button[value=publish]")
    page.wait_for_url(f"**/lessons/{lesson.pk}/")

    # A pupil of 7А reads it; a pupil of the same teacher's 9Б cannot.
    for username, sees in (("shogird", True), ("rustam", False)):
        context = browser.new_context(base_url=live_server.url)
        pupil = context.new_page()
        demo_sign_in(pupil, username)
        pupil.click("nav >> text=Дарсҳо")
        listed = lesson.title in pupil.inner_text("main")
        response = pupil.goto(f"/lessons/{lesson.pk}/")
        assert listed is sees
        if sees:
            assert response.status == 200 and EDITED in pupil.inner_text("main")
            assert pupil.locator("textarea").count() == 0  # read-only
        else:
            assert response.status == 404
        context.close()


def test_a_section_edited_in_two_tabs_asks_which_text_stays(  # type: ignore[no-untyped-def]
    page,
    people: People,
    topic,  # noqa: F811
) -> None:
    from soro_web.lessons.services import lesson_create

    lesson = lesson_create(teacher=people.teacher, topic=topic)
    sign_in(page, "teacher")
    page.goto(f"/lessons/{lesson.pk}/edit/")
    other = page.context.new_page()
    other.goto(f"/lessons/{lesson.pk}/edit/")
    pk = section_id(page, "objectives")

    page.fill(f"#body-{pk}", "Матн аз варақаи якум")
    page.wait_for_function(
        "pk => document.querySelector('#save-' + pk).innerText.length > 0", arg=pk
    )
    other.fill(f"#body-{pk}", "Матн аз варақаи дуюм")
    other.wait_for_selector(f"#conflict-{pk} .conflict")
    box = other.inner_text(f"#conflict-{pk}")
    assert "Матн аз варақаи якум" in box and "Матн аз варақаи дуюм" in box
    assert lesson.sections.get(kind="objectives").body == "Матн аз варақаи якум"

    other.click(f"#conflict-{pk} [data-keep=mine]")
    other.wait_for_selector(f"#conflict-{pk} .conflict", state="detached")
    assert lesson.sections.get(kind="objectives").body == "Матн аз варақаи дуюм"
    # The first tab, now behind, is asked too; it takes the saved text.
    page.fill(f"#body-{pk}", "Матн аз варақаи якум, боз")
    page.click(f"#conflict-{pk} [data-keep=theirs]")
    page.wait_for_function(
        "pk => document.querySelector('#body-' + pk).value === 'Матн аз варақаи дуюм'", arg=pk
    )
    assert lesson.sections.get(kind="objectives").body == "Матн аз варақаи дуюм"


def test_typing_is_saved_before_a_button_redraws_the_sections(  # type: ignore[no-untyped-def]
    page,
    people: People,
    topic,  # noqa: F811
) -> None:
    from soro_web.lessons.services import lesson_create

    lesson = lesson_create(teacher=people.teacher, topic=topic)
    sign_in(page, "teacher")
    page.goto(f"/lessons/{lesson.pk}/edit/")
    pk = section_id(page, "objectives")
    page.fill(f"#body-{pk}", "Навишта пеш аз ҷойивазкунӣ")
    # At once, well inside the 800 ms autosave delay: move the section down.
    page.click(f"#section-{pk} button[value=down]")
    page.wait_for_function(
        "pk => document.querySelectorAll('.lesson-section')[1].id === 'section-' + pk", arg=pk
    )
    assert lesson.sections.get(kind="objectives").body == "Навишта пеш аз ҷойивазкунӣ"
    assert page.input_value(f"#body-{pk}") == "Навишта пеш аз ҷойивазкунӣ"
