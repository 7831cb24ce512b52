"""A lesson as a document: the export core's plain dataclasses, file names, and citation
texts for stored citations."""

from __future__ import annotations

import re
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from soro_web.lessons.export import CitationDoc, LessonDoc, SectionDoc
from soro_web.lessons.models import Lesson
from tutoring.services import citation_text


def stored_citation_text(item: dict[str, Any]) -> str:
    """ "Алгебра, саҳ. 3" for a citation stored on a section, in the active language."""
    page = item.get("page")
    return citation_text(book=str(item.get("book", "")), page=None if page is None else int(page))


def lesson_document(*, lesson: Lesson) -> LessonDoc:
    """The lesson as the export core's plain dataclasses, labels in the lesson's language."""
    with translation.override(lesson.language):
        labels = {
            "subject": _("Subject"),
            "grade": _("Grade"),
            "topic": _("Topic"),
            "teacher": _("Teacher"),
            "duration": _("Duration"),
            "minutes": _("min"),
            "sources": _("Sources"),
            "ungrounded": _("Not grounded in the textbook"),
        }
        topic = lesson.topic
        return LessonDoc(
            title=lesson.title,
            subject=topic.subject.localized_name(lesson.language),
            grade=topic.grade.name,
            topic=topic.name,
            teacher=lesson.teacher.display_name,
            duration_minutes=lesson.duration_minutes,
            sections=tuple(
                SectionDoc(
                    title=section.title,
                    body=section.body,
                    citations=tuple(
                        CitationDoc(stored_citation_text(c)) for c in section.citations
                    ),
                    is_grounded=section.is_grounded,
                )
                for section in lesson.sections.all()
            ),
            labels=labels,
        )


def lesson_file_name(*, lesson: Lesson, extension: str) -> str:
    """A file name teachers recognise; safe on every system (letters, digits, dashes)."""
    stem = re.sub(r"[^\w]+", "-", lesson.title, flags=re.UNICODE).strip("-_")[:60]
    return f"{stem or 'lesson'}-{lesson.pk}.{extension}"
