"""Lesson export to PDF (fpdf2) and DOCX (python-docx), without Django.

Views build a `LessonDoc` from their rows and translated labels and call `lesson_pdf` or
`lesson_docx`; both take plain text only, so nothing a teacher or the language model writes is
ever interpreted as markup. The PDF embeds DejaVu Sans (vendored in `fonts/`), which has every
Tajik and Russian letter; characters it has no glyph for become "?" instead of failing.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Mm, Pt, RGBColor
from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, XPos, YPos
from fpdf.fonts import TTFFont

FONT_DIRECTORY = Path(__file__).resolve().parent / "fonts"
FONT_REGULAR = FONT_DIRECTORY / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIRECTORY / "DejaVuSans-Bold.ttf"

DEFAULT_LABELS: Mapping[str, str] = {
    "subject": "Subject",
    "grade": "Grade",
    "topic": "Topic",
    "teacher": "Teacher",
    "duration": "Duration",
    "minutes": "min",
    "sources": "Sources",
    "ungrounded": "Drafted without textbook passages: check it before use.",
}

_MARGIN_MM = 18.0
_FAMILY = "DejaVuSans"
_GREY = (110, 110, 110)
_BULLET_PREFIXES = ("- ", "• ")
# The total page count is substituted for this alias when the PDF is closed. It starts with
# NUL, which `_clean` removes from every caller string, so lesson text can never contain it
# (fpdf2's default "{nb}" could appear in a teacher's text and be replaced by a number).
_TOTAL_PAGES_ALIAS = "\x00nb"


@dataclass(frozen=True)
class CitationDoc:
    """A source as printed: "Алгебра, саҳ. 3" (formatted by the caller, in its language)."""

    text: str


@dataclass(frozen=True)
class SectionDoc:
    title: str
    # Plain text: paragraphs separated by blank lines; lines starting "- " are bullets.
    body: str
    citations: tuple[CitationDoc, ...] = ()
    # False: drafted without textbook passages, so the export shows the "ungrounded" label.
    is_grounded: bool = True


@dataclass(frozen=True)
class LessonDoc:
    title: str
    subject: str
    grade: str
    topic: str
    teacher: str
    duration_minutes: int
    sections: tuple[SectionDoc, ...]
    # Translated labels; missing or blank keys fall back to DEFAULT_LABELS.
    labels: dict[str, str]


class EmptyLessonError(ValueError):
    """No section of the lesson has any body text, so there is nothing to export."""


@dataclass(frozen=True)
class TextBlock:
    """A paragraph (its lines joined by "\n") or one bullet item."""

    kind: Literal["paragraph", "bullet"]
    text: str


@dataclass(frozen=True)
class _Section:
    title: str
    blocks: tuple[TextBlock, ...]
    ungrounded_label: str | None
    sources_label: str | None
    sources_text: str | None


@dataclass(frozen=True)
class _Lesson:
    title: str
    teacher: str
    topic: str
    metadata: tuple[tuple[str, str], ...]
    sections: tuple[_Section, ...]


def _clean(text: str) -> str:
    """Caller text made safe for both formats: one kind of line break, tabs as spaces, no
    control characters, lone surrogates or XML-forbidden noncharacters, and composed (NFC)
    letters, so "и" + combining macron becomes the single Tajik letter "ӣ"."""
    lines = []
    for line in text.splitlines():
        kept = []
        for character in line.replace("\t", "    "):
            category = unicodedata.category(character)
            if category in ("Cc", "Cs") or character in ("\ufffe", "\uffff"):
                continue
            kept.append(character)
        lines.append("".join(kept))
    return unicodedata.normalize("NFC", "\n".join(lines))


def text_blocks(body: str) -> tuple[TextBlock, ...]:
    """Lesson text as blocks, the same on screen, in print and in the files: blank lines
    separate paragraphs; a line starting with "- " or "• " is a bullet item."""
    blocks: list[TextBlock] = []
    paragraph: list[str] = []

    def close_paragraph() -> None:
        if paragraph:
            blocks.append(TextBlock("paragraph", "\n".join(paragraph)))
            paragraph.clear()

    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            close_paragraph()
        elif stripped.startswith(_BULLET_PREFIXES) or stripped in ("-", "•"):
            close_paragraph()
            item = stripped[1:].strip()
            if item:
                blocks.append(TextBlock("bullet", item))
        else:
            paragraph.append(stripped)
    close_paragraph()
    return tuple(blocks)


def _prepare(doc: LessonDoc) -> _Lesson:
    """Clean every string once and drop what would print as nothing; raise EmptyLessonError
    when no section keeps a block."""
    labels = {
        key: (_clean(doc.labels.get(key) or "").strip() or default)
        for key, default in DEFAULT_LABELS.items()
    }
    sections: list[_Section] = []
    for section in doc.sections:
        blocks = text_blocks(_clean(section.body))
        if not blocks:
            continue
        citations: list[str] = []
        for citation in section.citations:
            text = " ".join(_clean(citation.text).split())
            if text and text not in citations:
                citations.append(text)
        sections.append(
            _Section(
                title=" ".join(_clean(section.title).split()),
                blocks=blocks,
                ungrounded_label=None if section.is_grounded else labels["ungrounded"],
                sources_label=labels["sources"] if citations else None,
                sources_text="; ".join(citations) if citations else None,
            )
        )
    if not sections:
        raise EmptyLessonError("The lesson has no section with text to export.")

    metadata = [
        (labels[key], " ".join(_clean(value).split()))
        for key, value in (
            ("subject", doc.subject),
            ("grade", doc.grade),
            ("topic", doc.topic),
            ("teacher", doc.teacher),
        )
    ]
    if doc.duration_minutes > 0:
        metadata.append((labels["duration"], f"{doc.duration_minutes} {labels['minutes']}"))
    title = " ".join(_clean(doc.title).split()) or " ".join(_clean(doc.topic).split())
    return _Lesson(
        title=title,
        teacher=" ".join(_clean(doc.teacher).split()),
        topic=" ".join(_clean(doc.topic).split()),
        metadata=tuple((label, value) for label, value in metadata if value),
        sections=tuple(sections),
    )


class _LessonPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.add_font(_FAMILY, "", FONT_REGULAR)
        self.add_font(_FAMILY, "B", FONT_BOLD)
        self.set_text_shaping(False)
        self.alias_nb_pages(_TOTAL_PAGES_ALIAS, align=Align.L)
        self.set_margins(_MARGIN_MM, _MARGIN_MM, _MARGIN_MM)
        self.set_auto_page_break(True, margin=_MARGIN_MM)
        self._codepoints = {style: self._font_codepoints(style) for style in ("", "B")}

    def _font_codepoints(self, style: str) -> frozenset[int]:
        font = self.fonts[f"{_FAMILY.lower()}{style}"]
        assert isinstance(font, TTFFont)
        return frozenset(font.cmap)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FAMILY, "", 8)
        self.set_text_color(*_GREY)
        self.cell(0, 4, f"{self.page_no()} / {_TOTAL_PAGES_ALIAS}", align=Align.C)

    def printable(self, text: str, style: str) -> str:
        """Replace characters the font has no glyph for (emoji, rare scripts) with "?", so
        the reader sees something is missing; invisible format characters (direction marks,
        joiners) without a glyph are dropped instead."""
        codepoints = self._codepoints[style]
        kept = []
        for character in text:
            if character == "\n" or ord(character) in codepoints:
                kept.append(character)
            elif unicodedata.category(character) != "Cf":
                kept.append("?")
        return "".join(kept)

    def text_block(
        self,
        text: str,
        *,
        size: float,
        line_height: float,
        style: str = "",
        indent: float = 0,
        width: float = 0,
    ) -> None:
        """Wrapped plain text from the left margin plus `indent`; `width` 0 runs to the
        right margin. Words longer than a line are broken between characters."""
        self.set_font(_FAMILY, style, size)
        self.set_x(self.l_margin + indent)
        self.multi_cell(
            width,
            line_height,
            self.printable(text, style),
            align=Align.L,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def line_count(self, text: str, *, size: float, line_height: float, style: str) -> int:
        self.set_font(_FAMILY, style, size)
        lines = self.multi_cell(
            0,
            line_height,
            self.printable(text, style),
            align=Align.L,
            dry_run=True,
            output=MethodReturnValue.LINES,
        )
        return len(lines) if isinstance(lines, list) else 1


def lesson_pdf(doc: LessonDoc) -> bytes:
    """The lesson as an A4 PDF with DejaVu Sans embedded; raises EmptyLessonError when no
    section has body text."""
    lesson = _prepare(doc)
    pdf = _LessonPdf()
    pdf.set_title(lesson.title)
    pdf.set_subject(lesson.topic)
    if lesson.teacher:
        pdf.set_author(lesson.teacher)
    pdf.set_creator("Soro")
    pdf.add_page()
    pdf.set_text_color(0, 0, 0)

    if lesson.title:
        pdf.text_block(lesson.title, size=17, line_height=8, style="B")
        pdf.ln(2)

    if lesson.metadata:
        pdf.set_font(_FAMILY, "B", 10)
        label_width = 3 + max(
            pdf.get_string_width(pdf.printable(f"{label}:", "B")) for label, _ in lesson.metadata
        )
        label_width = min(label_width, pdf.epw / 3)
        for label, value in lesson.metadata:
            top, page = pdf.get_y(), pdf.page
            pdf.text_block(f"{label}:", size=10, line_height=5, style="B", width=label_width)
            label_bottom = pdf.get_y()
            pdf.set_y(top)
            pdf.text_block(value, size=10, line_height=5, indent=label_width)
            if pdf.page == page:
                # A label that wrapped onto more lines than its value must not be overwritten.
                pdf.set_y(max(label_bottom, pdf.get_y()))
        pdf.ln(2)
        pdf.set_draw_color(*_GREY)
        pdf.set_line_width(0.3)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(3)

    for section in lesson.sections:
        if section.title:
            # Keep a heading on the same page as the first lines under it.
            heading_lines = pdf.line_count(section.title, size=13, line_height=6.5, style="B")
            if pdf.will_page_break(4 + heading_lines * 6.5 + 2 * 5.5):
                pdf.add_page()
            pdf.ln(4)
            pdf.text_block(section.title, size=13, line_height=6.5, style="B")
            pdf.ln(1)
        if section.ungrounded_label:
            pdf.set_text_color(*_GREY)
            pdf.text_block(section.ungrounded_label, size=9, line_height=4.5)
            pdf.set_text_color(0, 0, 0)
            pdf.ln(1)
        previous_kind = None
        for block in section.blocks:
            if block.kind == "paragraph" and previous_kind == "bullet":
                pdf.ln(1.2)
            previous_kind = block.kind
            if block.kind == "bullet":
                pdf.set_font(_FAMILY, "", 11)
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(5, 5.5, "•")
                pdf.multi_cell(
                    0,
                    5.5,
                    pdf.printable(block.text, ""),
                    align=Align.L,
                    new_x=XPos.LMARGIN,
                    new_y=YPos.NEXT,
                )
                pdf.ln(0.8)
            else:
                pdf.text_block(block.text, size=11, line_height=5.5)
                pdf.ln(2)
        if section.sources_label and section.sources_text:
            pdf.set_text_color(*_GREY)
            pdf.text_block(
                f"{section.sources_label}: {section.sources_text}", size=9, line_height=4.5
            )
            pdf.set_text_color(0, 0, 0)
            pdf.ln(1)

    return bytes(pdf.output())


def _add_page_number_field(paragraph_element: BaseOxmlElement) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph_element.append(field)


def lesson_docx(doc: LessonDoc) -> bytes:
    """The lesson as an A4 Word document (Heading 1 title, Heading 2 sections, "List Bullet"
    bullets); raises EmptyLessonError when no section has body text."""
    lesson = _prepare(doc)
    document = Document()
    page = document.sections[0]
    page.page_width = Mm(210)
    page.page_height = Mm(297)
    page.left_margin = page.right_margin = Mm(_MARGIN_MM)
    page.top_margin = page.bottom_margin = Mm(_MARGIN_MM)
    footer = page.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _add_page_number_field(footer._p)

    now = datetime.now(UTC).replace(microsecond=0)
    properties = document.core_properties
    properties.title = lesson.title
    properties.subject = lesson.topic
    properties.author = lesson.teacher or "Soro"
    properties.last_modified_by = "Soro"
    properties.comments = "Soro"
    properties.created = properties.modified = now
    properties.revision = 1

    grey = RGBColor(*_GREY)
    if lesson.title:
        document.add_heading(lesson.title, level=1)
    for label, value in lesson.metadata:
        paragraph = document.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)

    for section in lesson.sections:
        if section.title:
            document.add_heading(section.title, level=2)
        if section.ungrounded_label:
            run = document.add_paragraph().add_run(section.ungrounded_label)
            run.italic = True
            run.font.size = Pt(9)
            run.font.color.rgb = grey
        for block in section.blocks:
            if block.kind == "bullet":
                document.add_paragraph(block.text, style="List Bullet")
            else:
                document.add_paragraph(block.text)
        if section.sources_label and section.sources_text:
            paragraph = document.add_paragraph()
            for text, is_bold in (
                (f"{section.sources_label}: ", True),
                (section.sources_text, False),
            ):
                run = paragraph.add_run(text)
                run.bold = is_bold
                run.font.size = Pt(9)
                run.font.color.rgb = grey

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
