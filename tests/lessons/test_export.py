"""The Django-free lesson export: PDF with an embedded Unicode font and DOCX, read back with
pypdf and python-docx."""

from __future__ import annotations

import io
from dataclasses import replace

import docx
import pypdf
import pytest

from soro_web.lessons.export import (
    CitationDoc,
    EmptyLessonError,
    LessonDoc,
    SectionDoc,
    lesson_docx,
    lesson_pdf,
)

TAJIK_SENTENCE = "Мақсад: ҳар хонанда ғояи муодилаи хаттӣ ва ҷавоби ӯро мефаҳмад."
TAJIK_CAPITALS = "Ҳарфҳо: Ғ Ӣ Қ Ӯ Ҳ Ҷ."
SCRIPT = "<script>alert(1)</script>"
LABELS = {
    "subject": "Фан",
    "grade": "Синф",
    "topic": "Мавзӯъ",
    "teacher": "Муаллим",
    "duration": "Давомнокӣ",
    "minutes": "дақиқа",
    "sources": "Сарчашмаҳо",
    "ungrounded": "Бе матни китоби дарсӣ тартиб дода шудааст",
}


def make_lesson(*sections: SectionDoc, labels: dict[str, str] | None = None) -> LessonDoc:
    return LessonDoc(
        title="Дарси алгебра",
        subject="Алгебра",
        grade="7",
        topic="Муодилаҳои хаттӣ",
        teacher="Раҳимова Ҷамила",
        duration_minutes=45,
        sections=sections
        or (
            SectionDoc(
                title="Мақсадҳои дарс",
                body=(
                    f"{TAJIK_SENTENCE}\n{TAJIK_CAPITALS}\n\n"
                    "- Муодиларо ҳал кардан [Алгебра 7, с. 12]\n"
                    "- Ҷавобро санҷидан\n\n"
                    f"{SCRIPT}"
                ),
                citations=(CitationDoc("Алгебра 7, с. 12"),),
            ),
            SectionDoc(title="Холӣ", body="  \n\n \t "),
            SectionDoc(
                title="Кори хонагӣ",
                body="Машқҳои 5 ва 6-ро иҷро кунед.",
                is_grounded=False,
            ),
        ),
        labels=LABELS if labels is None else labels,
    )


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_font_names(data: bytes) -> set[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    names = set()
    for page in reader.pages:
        fonts = page["/Resources"]["/Font"]
        for reference in fonts.values():
            font = reference.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            # Only an embedded font carries its program in the descriptor.
            assert "/FontFile2" in descendant["/FontDescriptor"]
            names.add(str(font["/BaseFont"]).split("+", 1)[-1])
    return names


def docx_paragraphs(data: bytes) -> list[tuple[str, str]]:
    document = docx.Document(io.BytesIO(data))
    return [(paragraph.style.name, paragraph.text) for paragraph in document.paragraphs]


def test_pdf_has_tajik_text_citation_and_embedded_dejavu() -> None:
    data = lesson_pdf(make_lesson())

    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert TAJIK_SENTENCE in text
    assert TAJIK_CAPITALS in text
    for letter in "ғӣқӯҳҷҒӢҚӮҲҶ":
        assert letter in text
    assert "Мақсадҳои дарс" in text
    assert "• Муодиларо ҳал кардан [Алгебра 7, с. 12]" in text
    assert "Сарчашмаҳо: Алгебра 7, с. 12" in text
    assert "Фан: Алгебра" in text
    assert "Давомнокӣ: 45 дақиқа" in text
    assert "1 / 1" in text
    assert pdf_font_names(data) == {"DejaVuSansBook", "DejaVuSansBold"}
    metadata = pypdf.PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.title == "Дарси алгебра"
    assert metadata.creator == "Soro"


def test_docx_has_headings_bullets_sources_and_a4_page() -> None:
    data = lesson_docx(make_lesson())

    document = docx.Document(io.BytesIO(data))
    paragraphs = docx_paragraphs(data)
    assert paragraphs[0] == ("Heading 1", "Дарси алгебра")
    assert ("Normal", "Фан: Алгебра") in paragraphs
    assert ("Normal", "Давомнокӣ: 45 дақиқа") in paragraphs
    assert ("Heading 2", "Мақсадҳои дарс") in paragraphs
    assert ("Normal", f"{TAJIK_SENTENCE}\n{TAJIK_CAPITALS}") in paragraphs
    assert ("List Bullet", "Муодиларо ҳал кардан [Алгебра 7, с. 12]") in paragraphs
    assert ("List Bullet", "Ҷавобро санҷидан") in paragraphs
    assert ("Normal", "Сарчашмаҳо: Алгебра 7, с. 12") in paragraphs
    section = document.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert section.page_width.mm == pytest.approx(210, abs=0.5)
    assert section.page_height.mm == pytest.approx(297, abs=0.5)
    assert document.core_properties.title == "Дарси алгебра"


def test_empty_sections_are_skipped() -> None:
    lesson = make_lesson()

    assert "Холӣ" not in pdf_text(lesson_pdf(lesson))
    headings = [
        text for style, text in docx_paragraphs(lesson_docx(lesson)) if style == "Heading 2"
    ]
    assert headings == ["Мақсадҳои дарс", "Кори хонагӣ"]


def test_ungrounded_section_shows_the_label_once() -> None:
    lesson = make_lesson()

    assert pdf_text(lesson_pdf(lesson)).count(LABELS["ungrounded"]) == 1
    paragraphs = [text for _, text in docx_paragraphs(lesson_docx(lesson))]
    assert paragraphs.count(LABELS["ungrounded"]) == 1
    # The label sits under the heading of the ungrounded section.
    assert paragraphs[paragraphs.index("Кори хонагӣ") + 1] == LABELS["ungrounded"]


def test_missing_labels_fall_back_to_english() -> None:
    lesson = make_lesson(labels={"subject": "Фан"})

    text = pdf_text(lesson_pdf(lesson))
    assert "Фан: Алгебра" in text
    assert "Duration: 45 min" in text
    assert "Sources: Алгебра 7, с. 12" in text
    assert "Drafted without textbook passages" in text
    paragraphs = [text for _, text in docx_paragraphs(lesson_docx(lesson))]
    assert "Sources: Алгебра 7, с. 12" in paragraphs


@pytest.mark.parametrize("body", ["", "   ", "\n\n\t\n", "\x00\x07"])
def test_lesson_without_body_text_raises(body: str) -> None:
    lesson = make_lesson(SectionDoc("Якум", body), SectionDoc("Дуюм", " "))

    with pytest.raises(EmptyLessonError):
        lesson_pdf(lesson)
    with pytest.raises(EmptyLessonError):
        lesson_docx(lesson)


def test_markup_stays_literal_text() -> None:
    lesson = make_lesson()

    assert SCRIPT in pdf_text(lesson_pdf(lesson))
    assert ("Normal", SCRIPT) in docx_paragraphs(lesson_docx(lesson))


def test_hostile_text_does_not_crash() -> None:
    body = (
        "Control \x00\x01\x07\x1b\x7f\x85 characters\r\nWindows line\rold Mac line\n\n"
        "Emoji 🦊 and CJK 漢字 and a lone surrogate \ud800 and {nb}\n\n"
        "Invisible\u2066isolate\n\n"
        "https://example.org/" + "x" * 3000 + "\n\n" + "слово " * 4000
    )
    lesson = make_lesson(
        SectionDoc(title="Заголовок \x0b🦊", body=body, citations=(CitationDoc("Книга \x00"),))
    )

    pdf = lesson_pdf(lesson)
    text = pdf_text(pdf)
    assert "Control" in text
    # Characters DejaVu has no glyph for are replaced, not dropped silently or fatal.
    assert "Emoji ? and CJK ?? and a lone surrogate  and {nb}" in text
    assert "Invisibleisolate" in text
    assert "Книга" in text
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) > 5
    paragraphs = [text for _, text in docx_paragraphs(lesson_docx(lesson))]
    assert "Emoji 🦊 and CJK 漢字 and a lone surrogate  and {nb}" in paragraphs


def test_decomposed_tajik_letters_are_composed() -> None:
    lesson = make_lesson(SectionDoc("Ҳарф", "хатти\u0304 ва у\u0304"))

    assert "хаттӣ ва ӯ" in pdf_text(lesson_pdf(lesson))
    assert "хаттӣ ва ӯ" in [text for _, text in docx_paragraphs(lesson_docx(lesson))]


def test_paragraph_lines_are_kept_and_bullets_split() -> None:
    body = "Байти якум\nбайти дуюм\n- банд\nматни баъдӣ"
    lesson = make_lesson(SectionDoc("Шеър", body))

    paragraphs = docx_paragraphs(lesson_docx(lesson))
    start = paragraphs.index(("Heading 2", "Шеър"))
    assert paragraphs[start + 1 : start + 4] == [
        ("Normal", "Байти якум\nбайти дуюм"),
        ("List Bullet", "банд"),
        ("Normal", "матни баъдӣ"),
    ]


def test_blank_title_falls_back_to_topic() -> None:
    lesson = replace(make_lesson(), title="  ")

    assert docx_paragraphs(lesson_docx(lesson))[0] == ("Heading 1", "Муодилаҳои хаттӣ")
    assert pdf_text(lesson_pdf(lesson)).startswith("Муодилаҳои хаттӣ\n")
